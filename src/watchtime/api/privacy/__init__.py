"""The privacy API: erasure, suppression and export (admin scope)."""
