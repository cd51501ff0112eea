"""Which database errors mean "try again" rather than "this input is wrong": the one classifier."""

from django.db import IntegrityError, InterfaceError, OperationalError

# SQLSTATEs after which the same transaction, run again at once, can succeed: serialization
# failure, deadlock.
RETRY_TRANSACTION_SQLSTATES = {"40001", "40P01"}
# SQLSTATE classes that say "not now" rather than "not this data": connection exceptions,
# transaction rollbacks (serialization failures and deadlocks that outlived the retries),
# insufficient resources, operator intervention, system errors.
OUTAGE_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
# A read-only transaction: we reached a standby during a failover.
OUTAGE_SQLSTATES = {"25006"}


def _sqlstate(exc: BaseException) -> str:
    return getattr(exc.__cause__, "pgcode", None) or ""


def should_retry_transaction(exc: BaseException) -> bool:
    """Whether to run the transaction again at once (a race with a concurrent writer)."""
    # A unique violation means a concurrent transaction inserted the same event or name first;
    # the retry sees its committed row.
    if isinstance(exc, IntegrityError):
        return True
    return _sqlstate(exc) in RETRY_TRANSACTION_SQLSTATES


def is_outage(exc: BaseException) -> bool:
    """Whether the database is unavailable (wait it out, answer 503) rather than refusing the data."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    code = _sqlstate(exc)
    return code[:2] in OUTAGE_SQLSTATE_CLASSES or code in OUTAGE_SQLSTATES
