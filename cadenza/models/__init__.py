"""The model manager: which weights each engine knows, where they are looked for, and what to fetch."""
