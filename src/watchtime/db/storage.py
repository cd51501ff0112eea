"""Storage parameters that migrations set on PostgreSQL tables (SQLite has none: a no-op there)."""

from django.db import migrations

# Free space per page for tables every apply batch updates: the new version of a row fits on its
# page, so the update is HOT (no index entry written) and pruned in place (bench/).
HOT_FILLFACTOR = 80


def fillfactor(tables: tuple[str, ...], value: int = HOT_FILLFACTOR) -> migrations.RunPython:
    """A migration operation setting (and, backwards, resetting) the tables' fillfactor."""

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table in tables:
                schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {value})")

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table in tables:
                schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")

    return migrations.RunPython(forwards, backwards)
