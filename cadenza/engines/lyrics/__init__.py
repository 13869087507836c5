"""Lyrics writers: `rhyme` (embedded, rule-based) and `llm` (an OpenAI-compatible server or a local model)."""
