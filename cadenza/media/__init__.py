"""Audio and MIDI building blocks shared by engines and faces: io, loudness, analysis, midi, export."""
