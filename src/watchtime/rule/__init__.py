"""The watch-time rule and what is derived from it, as pure functions: no Django, no database."""
