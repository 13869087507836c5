"""The embedded procedural engine: prompt -> Style -> Score -> stems -> mastered mix. No weights needed."""
