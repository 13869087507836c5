"""The cost of singing: CPU seconds per second of sung vocal for a 180 s song with lyrics, against the
SoundFont playing the same vocal notes ("Voice Oohs", the wordless vocal it replaced) in the same run."""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmarks.common import machine, median, write_section

PROMPT = "pop ballad, female vocal"
SECONDS = 180.0
BPM = 112
RUNS = 3
STRUCTURE = ["verse", "chorus", "verse", "chorus", "bridge", "chorus", "verse", "chorus"]


def main() -> dict[str, float]:
    import numpy as np

    from cadenza.engines.base import RunContext
    from cadenza.engines.lyrics.rhyme import write_lyrics
    from cadenza.engines.procedural import render, singer, speech
    from cadenza.engines.procedural.compose import compose
    from cadenza.engines.procedural.soundfont import pick_renderer
    from cadenza.engines.procedural.style import resolve_style
    from cadenza.tasks import GenerateRequest

    lyrics = write_lyrics("city lights after rain", STRUCTURE, seed=7)
    request = GenerateRequest(prompt=PROMPT, duration=SECONDS, bpm=BPM, seed=7)
    style = resolve_style(request)
    score = compose(style, SECONDS, RunContext(seed=7, scratch=Path("/nonexistent")).rng, lyrics)
    track = next(t for t in score.tracks if t.role == "vocal")
    sung = sum(score.seconds(n.duration) for n in track.notes)
    frames = render.frames_at(SECONDS)

    cold, warm = [], []
    for _ in range(RUNS):
        singer._analyse.cache_clear()
        speech.speak.cache_clear()
        for times in (cold, warm):  # a cold run speaks and analyses every word; a warm one reuses them
            start = time.process_time()
            singer.sing_track(track, score, render.SAMPLE_RATE, frames, lambda: None)
            times.append(time.process_time() - start)

    renderer = pick_renderer()
    oohs = []
    if renderer.soundfont is not None:
        out = np.zeros((frames, 2), np.float32)
        for _ in range(RUNS):
            start = time.process_time()
            render.render_track_soundfont(track, score, renderer.soundfont, out, lambda: None)
            oohs.append(time.process_time() - start)

    per_second = median(cold) / sung
    lines = [
        f'Machine: {machine()}. Prompt: "{PROMPT}", {SECONDS:g} s at {BPM} bpm, lyrics by the rhyme writer '
        f"({len(lyrics)} sections, {sum(len(s.lines) for s in lyrics)} lines), {sung:.1f} s of sung notes, "
        f"median of {RUNS} runs, CPU time of the one process.",
        "",
        "| measure | CPU seconds | per second of sung vocal |",
        "|---|---:|---:|",
        f"| eSpeak NG + WORLD singing the vocal stem, every word new | {median(cold):.2f} | {per_second:.3f} |",
        f"| the same with every word already spoken and analysed (repeated choruses) | {median(warm):.2f} | "
        f"{median(warm) / sung:.3f} |",
    ]
    figures = {"sing_cpu_s": median(cold), "sung_s": sung, "cpu_per_sung_s": per_second}
    if oohs:
        lines.append(
            f'| SoundFont "Voice Oohs" playing the same notes, no words (`{renderer.soundfont.name}`) | '
            f"{median(oohs):.2f} | {median(oohs) / sung:.3f} |"
        )
        lines += ["", f"Singing the words costs {median(cold) / median(oohs):.1f}x the wordless SoundFont vocal."]
        figures["soundfont_cpu_s"] = median(oohs)
    lines += [
        "",
        "Goal: under 0.2 CPU seconds per second of sung vocal.",
        "",
        "Command: `make bench` (or `python -m benchmarks.singing`).",
    ]
    write_section("Procedural engine: singing", "\n".join(lines))
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
