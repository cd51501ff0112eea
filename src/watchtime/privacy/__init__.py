"""A viewer's rights over their data: erasure (with optional suppression of their future events) and export."""
