"""Models of the whitelist app."""
