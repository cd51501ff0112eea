"""The analytics API: series, top movies, engagement, retention, progress and views."""
