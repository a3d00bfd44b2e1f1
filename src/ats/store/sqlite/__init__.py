"""The embedded SQLite backend (the zero-set-up default)."""
