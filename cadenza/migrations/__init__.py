"""Alembic migrations of the job database (`cadenza db upgrade`)."""
