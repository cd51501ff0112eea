"""The database below the apps: set-based SQL helpers (bulk_sql), the one classifier of database
errors (errors), the read-replica router (router) and the replica's lag monitor (replica)."""
