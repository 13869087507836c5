"""`make bench`: speed of the procedural engine and overhead of the job service, written to docs/benchmarks.md."""
