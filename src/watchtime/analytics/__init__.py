"""Analytics from the same event set as the totals: rollups per hour and day, views, coverage."""
