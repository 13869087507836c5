"""Engines turn a validated task request into files. See `base.py` for the contract."""
