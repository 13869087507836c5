"""The REST API (FastAPI, /api/v1): a thin face over the job service."""
