"""The embedded video engine: visualizer (a2v), camera (i2v), morph (keyframe), looks (style), titles (t2v)."""
