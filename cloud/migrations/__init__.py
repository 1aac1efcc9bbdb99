"""Alembic migrations of the cloud database (run with `onecode cloud migrate`)."""
