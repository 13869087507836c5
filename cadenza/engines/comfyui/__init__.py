"""ComfyUI as an engine: Cadenza's jobs run as workflows on a ComfyUI server (see engine.py)."""
