"""Every write that moves a figure, above the apps whose tables it writes: the apply path and its
rollups, rebuilds and the backfill, retention's prune and fold, the movie catalogue, erasure,
ingest, and the audits that verify or recompute every figure from the event log. Rows are locked
in the one order `locks` owns; the user and movie totals are adjusted only in `totals`."""
