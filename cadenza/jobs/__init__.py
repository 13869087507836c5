"""The job system: records (SQL), the queue (huey), the worker that runs jobs, and recovery."""
