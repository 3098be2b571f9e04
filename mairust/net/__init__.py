"""Outgoing network access: the one HTTP client of the platform and its address guard."""
