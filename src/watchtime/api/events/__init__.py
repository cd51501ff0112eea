"""The events API: ingest, the event list, the totals and the movie catalogue."""
