"""Reach rows (who was credited in a quarter, by the quarter each was last credited before) kept
exact as credited quarters appear and disappear, from the neighbours of each change.

An owner (a user-movie, a user, a movie) has a set of credited quarters; each credited quarter q
with previous credited quarter p (NEVER for the first) counts one in its group's row (q, p).
Adding or removing quarters of an owner changes only the rows of those quarters and of the next
credited one after them, so a batch reads, per owner it changed, the credited quarters in the
changed window and its two neighbours outside it: O(changes), whatever the owner's history.
The caller holds the owner's lock (the stored set cannot move under it) and has already written
the batch's facts (what is read is the set after).
"""

from collections import defaultdict

from django.db import connection

from watchtime.analytics.models import NEVER
from watchtime.db import bulk_sql


def _chain(quarters, previous) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = defaultdict(int)
    for q in sorted(quarters):
        out[(q, previous)] += 1
        previous = q
    return out


def deltas(model, owner_columns: tuple[str, ...], credited_column: str,
           transitions: dict[tuple, int]) -> dict[tuple, int]:
    """(owner..., quarter, previous_quarter) -> change in count, from `transitions`:
    (owner..., quarter) -> +1 (became credited) or -1 (no longer)."""
    changed: dict[tuple, dict[int, int]] = defaultdict(dict)
    for key, sign in transitions.items():
        changed[key[:-1]][key[-1]] = sign
    if not changed:
        return {}
    width = len(owner_columns)
    name = bulk_sql.table(model)
    same = " AND ".join(f"t.{c} = v.column{i + 1}" for i, c in enumerate(owner_columns))
    lo, hi = f"v.column{width + 1}", f"v.column{width + 2}"
    outer = ", ".join(f"v.column{i + 1}" for i in range(width))
    window: dict[tuple, set[int]] = defaultdict(set)
    before_out: dict[tuple, int] = {}
    after_out: dict[tuple, int] = {}
    owners = sorted(changed)
    row = "(" + bulk_sql.placeholders(width + 2) + ")"
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(owners):
            values = f"(VALUES {', '.join([row] * len(chunk))}) AS v"
            params = [x for owner in chunk for x in (*owner, min(changed[owner]), max(changed[owner]))]
            cursor.execute(
                f"SELECT {outer}, 0, t.quarter FROM {values} JOIN {name} t ON {same}"
                f" WHERE t.quarter >= {lo} AND t.quarter <= {hi} AND t.{credited_column} > 0"
                f" UNION ALL SELECT {outer}, -1, (SELECT MAX(t.quarter) FROM {name} t WHERE {same}"
                f" AND t.quarter < {lo} AND t.{credited_column} > 0) FROM {values}"
                f" UNION ALL SELECT {outer}, 1, (SELECT MIN(t.quarter) FROM {name} t WHERE {same}"
                f" AND t.quarter > {hi} AND t.{credited_column} > 0) FROM {values}",
                params * 3,
            )
            for *owner, side, quarter in cursor.fetchall():
                if quarter is None:
                    continue
                target = window[tuple(owner)] if side == 0 else before_out if side == -1 else after_out
                if side == 0:
                    target.add(quarter)
                else:
                    target[tuple(owner)] = quarter
    out: dict[tuple, int] = defaultdict(int)
    for owner, signs in changed.items():
        after = set(window.get(owner, ()))
        before = (after - {q for q, s in signs.items() if s > 0}) | {q for q, s in signs.items() if s < 0}
        following = {after_out[owner]} if owner in after_out else set()
        previous = before_out.get(owner, NEVER)
        for quarters, sign in ((before, -1), (after, 1)):
            for (q, p), n in _chain(quarters | following, previous).items():
                out[(*owner, q, p)] += sign * n
    return {k: v for k, v in out.items() if v}
