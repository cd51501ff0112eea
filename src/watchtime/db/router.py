"""Which database a query goes to: the read replica only inside `replica_reads` (the read-only API
views), the primary for everything else (writes, the apply path, migrations, verify, admin, keys)."""

import functools
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db import Error as DriverError

from watchtime import metrics
from watchtime.db import replica
from watchtime.db.errors import is_outage

# The alias this request's reads use; only `replica_reads` ever sets it to the replica.
_read_alias: ContextVar[str] = ContextVar("watchtime_read_alias", default=DEFAULT_DB_ALIAS)

# Read from the primary even inside `replica_reads`: a revoked API key must stop working at once,
# not after the replica's lag, and the rate-limit counter is read-modify-write. (Authentication and
# throttling also run before the view method, outside `replica_reads`.)
PRIMARY_ONLY_APPS = frozenset({"apikeys", "auth", "admin", "sessions", "contenttypes"})


class ReplicaRouter:
    """settings.DATABASE_ROUTERS when a replica is configured."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return DEFAULT_DB_ALIAS
        return _read_alias.get()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the primary's rows: the same objects

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


def read_connection():
    """The connection for this context's raw-SQL reads (the ORM's go through the router)."""
    return connections[_read_alias.get()]


def replica_reads(view_method):
    """Run a read-only view method's queries on the replica when it is usable, else on the primary.

    A replica that fails mid-read (an outage, not a bad query) is reported to the monitor and the
    read runs again on the primary: the replica is an optimisation, never a reason for a 5xx.
    """

    @functools.wraps(view_method)
    def wrapper(*args, **kwargs):
        if not replica.configured():
            return view_method(*args, **kwargs)
        reason = replica.monitor().fallback_reason()
        if reason is None:
            token = _read_alias.set(replica.ALIAS)
            try:
                return view_method(*args, **kwargs)
            except DriverError as exc:  # InterfaceError (a closed connection) is no DatabaseError
                if not is_outage(exc):
                    raise
                replica.monitor().report_failure(exc)
                connections[replica.ALIAS].close_if_unusable_or_obsolete()
                reason = replica.UNAVAILABLE
            finally:
                _read_alias.reset(token)
        metrics.REPLICA_FALLBACK_READS.labels(reason=reason).inc()
        return view_method(*args, **kwargs)

    return wrapper
