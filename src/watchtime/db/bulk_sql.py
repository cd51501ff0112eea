"""Set-based SQL that runs unchanged on PostgreSQL and SQLite (>= 3.35): row-value locks,
`UPDATE .. FROM (VALUES ..)`, chunked `IN` lists. A few statements per batch whatever its size."""

from uuid import UUID

from django.db import connection

# Rows per statement: far below SQLite's 32766 bound variables and PostgreSQL's 65535.
CHUNK = 1000


def chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def as_uuid(value) -> UUID:
    # psycopg2 returns UUIDs; SQLite stores Django's UUIDField as 32 hex characters.
    return value if isinstance(value, UUID) else UUID(value)


def param_adapters():
    """(uuid -> parameter, datetime -> parameter) for this database, looked up once per batch:
    psycopg2 takes both as they are; SQLite wants Django's text forms."""
    if connection.vendor == "postgresql":
        return (lambda value: value), (lambda value: value)
    adapt_datetime = connection.ops.adapt_datetimefield_value
    return (lambda value: value.hex), (lambda value: None if value is None else adapt_datetime(value))


def ids_by(model, field_name: str, names: list[str]) -> dict[str, int]:
    """name -> id of the rows whose `field_name` is one of `names`."""
    found = {}
    with connection.cursor() as cursor:
        for chunk in chunks(names):
            cursor.execute(f"SELECT {field_name}, id FROM {table(model)} WHERE {field_name} IN ({placeholders(len(chunk))})", chunk)
            found.update(cursor.fetchall())
    return found


def lock_keyed(model, fields: tuple[str, ...], keys: set[tuple], *, created: dict | None = None) -> dict[tuple, int]:
    """Lock the rows with these unique `keys` (creating the missing ones, with the field values
    `created`); key -> id.

    Existing rows are locked in id order; rows created here are new, so no other batch holds
    them. Read the locked rows' columns with a *separate* statement afterwards: under READ
    COMMITTED a statement that waited for a lock sees the locked row's new version but not rows
    another batch inserted meanwhile (its new head event), so a join here could be stale.
    """
    ids = select_keyed(model, fields, sorted(keys))
    missing = sorted(keys - ids.keys())
    if missing:
        rows = [model(**dict(zip(fields, key, strict=True)), **(created or {})) for key in missing]
        model.objects.bulk_create(rows, ignore_conflicts=True)
        ids.update(select_keyed(model, fields, missing))
    return ids


def select_keyed(model, fields: tuple[str, ...], keys: list[tuple]) -> dict[tuple, int]:
    """key -> id of the rows with these keys, locked in id order."""
    found = {}
    row = "(" + placeholders(len(fields)) + ")"
    with connection.cursor() as cursor:
        for chunk in chunks(keys):
            cursor.execute(
                f"SELECT id, {', '.join(fields)} FROM {table(model)} WHERE ({', '.join(fields)}) IN "
                f"(VALUES {', '.join([row] * len(chunk))}) ORDER BY id{for_update()}",
                [value for key in chunk for value in key],
            )
            found.update((tuple(r[1:]), r[0]) for r in cursor.fetchall())
    return found


def lock_ids(rows) -> list[int]:
    """Lock `rows` (a queryset) in id order and return their ids."""
    return list(rows.select_for_update().order_by("id").values_list("id", flat=True))


def update_from_values(model, columns: tuple[str, ...], rows: list[tuple], *, increment: bool = False) -> None:
    """One UPDATE per chunk: each row is (id, *values); columns are set to (or, with
    `increment`, increased by) the values. UPDATE .. FROM (VALUES ..) runs on PostgreSQL and
    SQLite >= 3.33; VALUES columns are named column1, column2, ... on both."""
    name = table(model)
    row = "(" + placeholders(len(columns) + 1) + ")"
    values = [_typed(model, c, f"v.column{i + 2}") for i, c in enumerate(columns)]
    assignments = ", ".join(
        f"{c} = {name}.{c} + {value}" if increment else f"{c} = {value}" for c, value in zip(columns, values, strict=True)
    )
    with connection.cursor() as cursor:
        for chunk in chunks(sorted(rows)):
            cursor.execute(
                f"UPDATE {name} SET {assignments} FROM (VALUES {', '.join([row] * len(chunk))}) AS v "
                f"WHERE {name}.id = v.column1",
                [value for r in chunk for value in r],
            )


def _typed(model, column: str, expression: str) -> str:
    """`expression` cast to the column's type on PostgreSQL, which otherwise types a VALUES column
    whose every row is NULL as text (and then refuses it for a bigint column)."""
    if connection.vendor != "postgresql":
        return expression
    field = next(f for f in model._meta.concrete_fields if f.column == column)
    return f"CAST({expression} AS {field.db_type(connection)})"


def upsert_add(model, keys: tuple[str, ...], values: tuple[str, ...], rows: dict[tuple, tuple]) -> dict[tuple, tuple]:
    """Add each row's values to the stored row with that key, creating it; key -> values after.

    One `INSERT .. ON CONFLICT (keys) DO UPDATE SET v = v + excluded.v RETURNING` per chunk,
    rows in key order (a fixed lock order between concurrent batches). `values` must name every
    non-key column. The caller knows the deltas, so each value before is `after - delta`.
    """
    name = table(model)
    columns = keys + values
    row = "(" + placeholders(len(columns)) + ")"
    assignments = ", ".join(f"{c} = {name}.{c} + excluded.{c}" for c in values)
    after: dict[tuple, tuple] = {}
    with connection.cursor() as cursor:
        for chunk in chunks(sorted(rows.items())):
            cursor.execute(
                f"INSERT INTO {name} ({', '.join(columns)}) VALUES {', '.join([row] * len(chunk))} "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {assignments} RETURNING {', '.join(columns)}",
                [value for key, deltas in chunk for value in (*key, *deltas)],
            )
            after.update((tuple(r[: len(keys)]), tuple(r[len(keys) :])) for r in cursor.fetchall())
    return after


def lock_by_id(model, ids) -> set[int]:
    """Lock rows by id, in id order (SQLite locks the whole database instead); the ids that exist."""
    ids = sorted(ids)
    found: set[int] = set()
    with connection.cursor() as cursor:
        for chunk in chunks(ids):
            cursor.execute(f"SELECT id FROM {table(model)} WHERE id IN ({placeholders(len(chunk))}) ORDER BY id{for_update()}", chunk)
            found.update(row[0] for row in cursor.fetchall())
    return found


def insert_rows(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Plain multi-row INSERTs, a chunk per statement."""
    row = "(" + placeholders(len(columns)) + ")"
    with connection.cursor() as cursor:
        for chunk in chunks(rows):
            cursor.execute(
                f"INSERT INTO {table(model)} ({', '.join(columns)}) VALUES {', '.join([row] * len(chunk))}",
                [value for r in chunk for value in r],
            )
