"""A summary the database keeps for the encounter test-set page: current final diagnoses per
ICD-10 code.

The page counted every current final diagnosis, with its encounter's patient, on every view
(676 ms of 1,040 at a million studies). ``diagnosis_diagnosiscodecount`` holds the count per
code instead, and on PostgreSQL statement triggers on ``diagnosis_finaldiagnosis`` keep it,
in the transaction of each write, whoever makes it (the final-diagnosis service, a bulk
load or COPY):

- INSERT: each new diagnosis that nothing supersedes adds one to its code; each earlier
  diagnosis a new one supersedes (it was current, as only one row may supersede a
  diagnosis) takes one from its code. A superseding row may come before the row it
  supersedes (the foreign key is checked at commit), in one statement or two: the new rows
  are read together as the statement's transition table, so either order counts once.
- DELETE (the service never deletes): each deleted diagnosis that was current takes one
  from its code; the diagnosis a deleted one superseded is current again.
- UPDATE (the service never updates): the statement is counted as the delete of the old
  rows and the insert of the new ones, so a changed code, a changed ``supersedes_id`` (or
  even a changed id) moves the counts exactly. An update of other columns nets to nothing
  and writes no counter.
- TRUNCATE empties the counts.

Each statement's moves are summed per code first, then applied in code order, so two
writers never wait on each other in a cycle over the counter rows. The counts are filled
from the existing rows here, under the SHARE ROW EXCLUSIVE lock that creating the triggers
takes on the final diagnoses, so no write is missed or counted twice.

SQLite has no triggers here: the selector counts live there (development data is small).
"""

from django.db import migrations, models

# Apply summed moves ("moves": code, d) to the counters, in code order.
_APPLY = """
    INSERT INTO diagnosis_diagnosiscodecount AS c (icd10_code, current)
    SELECT code, sum(d)::integer FROM ({moves}) AS moves (code, d)
     GROUP BY code
    HAVING sum(d) <> 0
     ORDER BY code
    ON CONFLICT (icd10_code) DO UPDATE SET current = c.current + EXCLUDED.current;
"""

# After an INSERT statement; "added": its new rows.
_ADDED_MOVES = """
        -- New diagnoses that nothing supersedes (the table now holds every row).
        SELECT n.icd10_code, 1 FROM added n
         WHERE NOT EXISTS (
               SELECT 1 FROM diagnosis_finaldiagnosis s WHERE s.supersedes_id = n.id)
        UNION ALL
        -- Earlier diagnoses a new one supersedes: current until this statement.
        SELECT f.icd10_code, -1 FROM added n
          JOIN diagnosis_finaldiagnosis f ON f.id = n.supersedes_id
         WHERE NOT EXISTS (SELECT 1 FROM added m WHERE m.id = f.id)
"""

# After a DELETE statement; "removed": its deleted rows.
_REMOVED_MOVES = """
        -- Deleted diagnoses that were current: superseded neither by a row left nor by
        -- another deleted one.
        SELECT o.icd10_code, -1 FROM removed o
         WHERE NOT EXISTS (SELECT 1 FROM removed p WHERE p.supersedes_id = o.id)
           AND NOT EXISTS (
               SELECT 1 FROM diagnosis_finaldiagnosis s WHERE s.supersedes_id = o.id)
        UNION ALL
        -- Diagnoses left whose superseding row was deleted: current again.
        SELECT f.icd10_code, 1 FROM removed o
          JOIN diagnosis_finaldiagnosis f ON f.id = o.supersedes_id
"""

# After an UPDATE statement; "old_rows" and "new_rows": its rows as they were and as they are.
# Counted as two steps through the rows the statement left alone (the table's rows whose id
# is not in "new_rows"): deleting "old_rows", then inserting "new_rows". The unique supersedes_id
# holds before and after the statement, so a row superseded by a changed one was superseded
# by nothing else.
_CHANGED_MOVES = """
        SELECT o.icd10_code, -1 FROM old_rows o
         WHERE NOT EXISTS (SELECT 1 FROM old_rows p WHERE p.supersedes_id = o.id)
           AND NOT EXISTS (
               SELECT 1 FROM diagnosis_finaldiagnosis s
                WHERE s.supersedes_id = o.id
                  AND NOT EXISTS (SELECT 1 FROM new_rows a WHERE a.id = s.id))
        UNION ALL
        SELECT f.icd10_code, 1 FROM old_rows o
          JOIN diagnosis_finaldiagnosis f ON f.id = o.supersedes_id
         WHERE NOT EXISTS (SELECT 1 FROM new_rows a WHERE a.id = f.id)
        UNION ALL
        SELECT n.icd10_code, 1 FROM new_rows n
         WHERE NOT EXISTS (
               SELECT 1 FROM diagnosis_finaldiagnosis s WHERE s.supersedes_id = n.id)
        UNION ALL
        SELECT f.icd10_code, -1 FROM new_rows n
          JOIN diagnosis_finaldiagnosis f ON f.id = n.supersedes_id
         WHERE NOT EXISTS (SELECT 1 FROM new_rows a WHERE a.id = f.id)
"""

CODE_COUNTS = """
CREATE OR REPLACE FUNCTION diagnosis_finaldiagnosis_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {added}
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION diagnosis_finaldiagnosis_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {removed}
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION diagnosis_finaldiagnosis_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {changed}
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION diagnosis_finaldiagnosis_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM diagnosis_diagnosiscodecount;
    RETURN NULL;
END;
$$;

CREATE TRIGGER diagnosis_finaldiagnosis_code_count_insert
    AFTER INSERT ON diagnosis_finaldiagnosis REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION diagnosis_finaldiagnosis_added();
CREATE TRIGGER diagnosis_finaldiagnosis_code_count_delete
    AFTER DELETE ON diagnosis_finaldiagnosis REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION diagnosis_finaldiagnosis_removed();
CREATE TRIGGER diagnosis_finaldiagnosis_code_count_update
    AFTER UPDATE ON diagnosis_finaldiagnosis
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION diagnosis_finaldiagnosis_changed();
CREATE TRIGGER diagnosis_finaldiagnosis_code_count_truncate
    AFTER TRUNCATE ON diagnosis_finaldiagnosis
    FOR EACH STATEMENT EXECUTE FUNCTION diagnosis_finaldiagnosis_truncated();
"""
for _name, _moves in (
    ("{added}", _ADDED_MOVES),
    ("{removed}", _REMOVED_MOVES),
    ("{changed}", _CHANGED_MOVES),
):
    CODE_COUNTS = CODE_COUNTS.replace(_name, _APPLY.replace("{moves}", _moves))

# Filled under the SHARE ROW EXCLUSIVE lock CREATE TRIGGER took on the final diagnoses.
CODE_COUNTS_FILL = """
INSERT INTO diagnosis_diagnosiscodecount (icd10_code, current)
SELECT f.icd10_code, count(*)
  FROM diagnosis_finaldiagnosis f
 WHERE NOT EXISTS (SELECT 1 FROM diagnosis_finaldiagnosis s WHERE s.supersedes_id = f.id)
 GROUP BY f.icd10_code;
"""

DROP = """
DROP TRIGGER IF EXISTS diagnosis_finaldiagnosis_code_count_insert ON diagnosis_finaldiagnosis;
DROP TRIGGER IF EXISTS diagnosis_finaldiagnosis_code_count_delete ON diagnosis_finaldiagnosis;
DROP TRIGGER IF EXISTS diagnosis_finaldiagnosis_code_count_update ON diagnosis_finaldiagnosis;
DROP TRIGGER IF EXISTS diagnosis_finaldiagnosis_code_count_truncate ON diagnosis_finaldiagnosis;
DROP FUNCTION IF EXISTS diagnosis_finaldiagnosis_added();
DROP FUNCTION IF EXISTS diagnosis_finaldiagnosis_removed();
DROP FUNCTION IF EXISTS diagnosis_finaldiagnosis_changed();
DROP FUNCTION IF EXISTS diagnosis_finaldiagnosis_truncated();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CODE_COUNTS, None)
    schema_editor.execute(CODE_COUNTS_FILL, None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP, None)


class Migration(migrations.Migration):
    dependencies = [
        ("diagnosis", "0023_knowledge_entry_retire"),
    ]

    operations = [
        migrations.CreateModel(
            name="DiagnosisCodeCount",
            fields=[
                (
                    "icd10_code",
                    models.CharField(
                        max_length=8,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ICD-10 code",
                    ),
                ),
                ("current", models.IntegerField(default=0)),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]
