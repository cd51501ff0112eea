"""The audits: every stored figure recomputed from the event log (and what a prune folded), to
report drift (`watchtime verify`) or rebuild it (`watchtime recompute`): the totals (totals), the
analytics facts and aggregates (analytics), each aggregate's definition over the rows below it
(expected), and the stored facts read one user-movie at a time (facts)."""
