"""The audit chain's table, and the triggers that make both audit tables append-only.

On PostgreSQL a trigger refuses UPDATE and DELETE (each row) and TRUNCATE (each statement)
of ``medassist_auditevent`` and ``medassist_auditchainlink``, whoever sends them: the ORM,
``_base_manager``, raw SQL, a psql session. SQLite has no such trigger; there the models'
Python guard is the only one.

The one way round it is a session setting, ``medassist.allow_audit_truncate = 'on'``, that
lets TRUNCATE through (never UPDATE or DELETE). Nothing in MedAssist sets it; the test
suite does, for its own connections only (``tests/conftest.py``), because Django empties
the tables with TRUNCATE between transactional tests. A database role that owns the tables
can still disable the trigger; the hash chain (``manage.py audit_verify``) shows what such a
role changed, and a production database should not let the application's role own them.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLES = ("medassist_auditevent", "medassist_auditchainlink")

FUNCTION = """
CREATE OR REPLACE FUNCTION medassist_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
        AND coalesce(current_setting('medassist.allow_audit_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'MedAssist audit records are append-only: % on % refused.', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'Audit events and their chain links are never changed or removed.';
END;
$$;
"""

TRIGGERS = """
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION medassist_audit_append_only();
CREATE TRIGGER {table}_no_truncate
    BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION medassist_audit_append_only();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, None)
    for table in TABLES:
        schema_editor.execute(TRIGGERS.format(table=table), None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(DROP_TRIGGERS.format(table=table))
    schema_editor.execute("DROP FUNCTION IF EXISTS medassist_audit_append_only()")


class Migration(migrations.Migration):
    dependencies = [
        ("medassist", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChainLink",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="chain_link",
                        serialize=False,
                        to="medassist.auditevent",
                    ),
                ),
                ("sequence", models.PositiveBigIntegerField(unique=True)),
                ("hash", models.CharField(max_length=64)),
                ("chained_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "abstract": False,
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
