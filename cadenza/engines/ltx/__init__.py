"""The `ltx` engine: LTX-Video and LTX-2 through diffusers (see engine.py). Importing it costs no torch."""

from cadenza.engines.ltx.engine import LtxEngine

__all__ = ["LtxEngine"]
