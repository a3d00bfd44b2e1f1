"""The PostgreSQL backend (asyncpg)."""
