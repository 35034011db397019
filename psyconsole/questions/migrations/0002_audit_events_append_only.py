"""On PostgreSQL, the database itself refuses UPDATE and DELETE on audit events."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION questions_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'questions_auditevent is append-only';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS questions_auditevent_append_only ON questions_auditevent;
CREATE TRIGGER questions_auditevent_append_only
    BEFORE UPDATE OR DELETE ON questions_auditevent
    FOR EACH ROW EXECUTE FUNCTION questions_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS questions_auditevent_append_only ON questions_auditevent;
DROP FUNCTION IF EXISTS questions_auditevent_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("questions", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
