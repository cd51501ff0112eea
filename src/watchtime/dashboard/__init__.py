"""The built-in analytics dashboard (/dashboard/): server-rendered pages of the API's own answers."""
