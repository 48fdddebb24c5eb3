"""A summary the database keeps for QIDO-RS study searches with a deep ``offset``: studies
per block of 4,096 consecutive ids.

A study search with no filter pages the studies by id. Its ``offset`` was walked in the
primary key index: ``offset=500000`` read half a million entries (28-81 ms at 10^6 studies,
x1.4-2.6 over 10^5). ``imaging_studyblockcount`` holds how many studies each block of ids has
(``id >> 12``); the search adds up the blocks to find the one holding the offset and walks
at most one block from its first id. Each block's count is kept in 8 slots, one per writing
connection (its process id modulo 8), summed when read: ingests that create studies at the
same time then add to different rows, instead of each waiting, from its study's insert to
its commit (file flushes included), for the one before. On PostgreSQL statement triggers on ``imaging_study``
keep the counts, in the transaction of each write, whoever makes it (the ingest, a bulk load
or COPY):

- INSERT: the statement's new rows, counted per block, are added;
- DELETE: the statement's deleted rows, counted per block, are taken away;
- an UPDATE that changes a study's id is refused (nothing changes it);
- TRUNCATE empties the counts.

Each statement's moves are applied in block order, and a transaction writes one slot. Ids
grow, so writers that only insert take their slot's rows in increasing order and never wait
on each other in a cycle. A transaction that deletes old studies and inserts new ones can
deadlock with another doing the same in the same slot (PostgreSQL then cancels one); nothing
in MedAssist deletes studies. The counts are filled from
the existing rows here, under the SHARE ROW EXCLUSIVE lock that creating the triggers takes
on the studies, so no write is missed or counted twice.

SQLite has no triggers here: its searches walk the offset (development data is small).
"""

from django.db import migrations, models

# The block of a study: id >> 12 (imaging.models.STUDY_BLOCK_BITS); the writer's slot: its
# process id modulo 8 (STUDY_BLOCK_SLOTS).
_APPLY = """
    INSERT INTO imaging_studyblockcount AS c (block, slot, studies)
    SELECT id >> 12, pg_backend_pid() % 8, {sign}count(*)::integer FROM {rows}
     GROUP BY 1
     ORDER BY 1
    ON CONFLICT (block, slot) DO UPDATE SET studies = c.studies + EXCLUDED.studies;
"""

BLOCK_COUNTS = """
CREATE OR REPLACE FUNCTION imaging_study_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {added}
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION imaging_study_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {removed}
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION imaging_study_id_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'A study''s id does not change (study %)', OLD.id;
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION imaging_study_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM imaging_studyblockcount;
    RETURN NULL;
END;
$$;

CREATE TRIGGER imaging_study_block_count_insert
    AFTER INSERT ON imaging_study REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION imaging_study_added();
CREATE TRIGGER imaging_study_block_count_delete
    AFTER DELETE ON imaging_study REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION imaging_study_removed();
CREATE TRIGGER imaging_study_id_kept
    BEFORE UPDATE OF id ON imaging_study
    FOR EACH ROW EXECUTE FUNCTION imaging_study_id_kept();
CREATE TRIGGER imaging_study_block_count_truncate
    AFTER TRUNCATE ON imaging_study
    FOR EACH STATEMENT EXECUTE FUNCTION imaging_study_truncated();
"""
BLOCK_COUNTS = BLOCK_COUNTS.replace(
    "{added}", _APPLY.replace("{sign}", "").replace("{rows}", "added")
).replace("{removed}", _APPLY.replace("{sign}", "-").replace("{rows}", "removed"))

# Filled under the SHARE ROW EXCLUSIVE lock CREATE TRIGGER took on the studies.
BLOCK_COUNTS_FILL = """
INSERT INTO imaging_studyblockcount (block, slot, studies)
SELECT id >> 12, 0, count(*) FROM imaging_study GROUP BY 1;
"""

DROP = """
DROP TRIGGER IF EXISTS imaging_study_block_count_insert ON imaging_study;
DROP TRIGGER IF EXISTS imaging_study_block_count_delete ON imaging_study;
DROP TRIGGER IF EXISTS imaging_study_id_kept ON imaging_study;
DROP TRIGGER IF EXISTS imaging_study_block_count_truncate ON imaging_study;
DROP FUNCTION IF EXISTS imaging_study_added();
DROP FUNCTION IF EXISTS imaging_study_removed();
DROP FUNCTION IF EXISTS imaging_study_id_kept();
DROP FUNCTION IF EXISTS imaging_study_truncated();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(BLOCK_COUNTS, None)
    schema_editor.execute(BLOCK_COUNTS_FILL, None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP, None)


class Migration(migrations.Migration):
    dependencies = [("imaging", "0008_study_worklist_adjudication")]

    operations = [
        migrations.CreateModel(
            name="StudyBlockCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("block", models.BigIntegerField()),
                ("slot", models.SmallIntegerField()),
                ("studies", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("block", "slot"), name="imaging_study_block_slot"
                    )
                ],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
