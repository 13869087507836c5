"""ASGI middleware in front of the API and the studio: who may ask (access.py) and how much (limits.py)."""
