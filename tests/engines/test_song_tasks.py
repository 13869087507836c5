"""master, stems and export, run through the job service and worker on real songs."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from cadenza.config import Settings
from cadenza.errors import InputError
from cadenza.jobs.db import ensure_schema
from cadenza.jobs.service import JobService
from cadenza.jobs.store import Store
from cadenza.jobs.worker import run_job


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> JobService:
    settings = Settings(home=tmp_path_factory.mktemp("studio"))
    ensure_schema(settings.database)
    return JobService(settings, Store(settings.database))


def run(studio: JobService, task: str, engine: str | None = None, **fields: object):
    job = studio.submit(task=task, engine=engine, input=fields, enqueue=False)
    finished = run_job(studio.settings, studio.store, job.id)
    assert finished is not None
    return finished


def files(studio: JobService, job) -> dict[str, Path]:
    return {a.role: studio.settings.home / a.path for a in job.artifacts}


@pytest.fixture(scope="module")
def song(studio: JobService):
    job = run(studio, "generate", prompt="funk groove with clavinet", duration=12, seed=5)
    assert job.status == "succeeded"
    return job


def test_master_hits_loudness_and_true_peak_and_reports_both(studio: JobService, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet take.wav"
    rng = np.random.default_rng(1)
    t = np.arange(44100 * 8) / 44100
    signal = 0.05 * np.sin(2 * np.pi * 220 * t)[:, None] * np.ones(2) + 0.01 * rng.standard_normal((len(t), 2))
    sf.write(quiet, signal.astype(np.float32), 44100)
    upload = studio.upload_file(quiet)
    job = run(studio, "master", source=upload.id, lufs=-16.0, true_peak=-2.0)
    assert job.status == "succeeded", job.error_message
    audio, rate = sf.read(files(studio, job)["mix"], dtype="float64")
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(audio) + 16.0) <= 0.5
    assert 20 * np.log10(np.abs(resample_poly(audio, 4, 1, axis=0)).max()) <= -2.0 + 0.05
    report = job.recipe["master"]
    assert report["input_lufs"] < -25 and abs(report["output_lufs"] + 16) <= 0.5
    assert Path(job.artifacts[0].path).name.startswith("quiet take_master")


def test_a_procedural_song_gives_its_exact_stems(studio: JobService, song) -> None:
    job = run(studio, "stems", source=song.id)
    assert job.engine == "native" and job.parent_id == song.id
    original = {
        r: hashlib.sha256(p.read_bytes()).hexdigest() for r, p in files(studio, song).items() if r.startswith("stem:")
    }
    separated = {a.role: a.sha256 for a in job.artifacts}
    assert separated == original


def test_hpss_stems_sum_to_the_input_and_the_drums_land_in_percussive(studio: JobService, song) -> None:
    mix = next(a for a in song.artifacts if a.role == "mix")
    job = run(studio, "stems", engine="hpss", source=mix.id)
    assert job.status == "succeeded", job.error_message
    parts = {r: sf.read(p, dtype="float64")[0] for r, p in files(studio, job).items()}
    original, _ = sf.read(files(studio, song)["mix"], dtype="float64")
    residual = original - parts["stem:harmonic"] - parts["stem:percussive"]
    assert 20 * np.log10(np.sqrt(np.mean(residual**2)) / np.sqrt(np.mean(original**2))) < -40
    drums, rate = sf.read(files(studio, song)["stem:drums"], dtype="float64")

    def similarity(part: np.ndarray, drums: np.ndarray) -> float:
        # how much of the drum hits the part carries: the cosine of the two signals above 300 Hz (a kick's
        # sustained body below that is tonal, and median filtering rightly calls it harmonic)
        from scipy.signal import butter, sosfilt

        highpass = butter(4, 300, "highpass", fs=rate, output="sos")
        part, drums = sosfilt(highpass, part, axis=0), sosfilt(highpass, drums, axis=0)
        return float(np.sum(part * drums) / (np.linalg.norm(part) * np.linalg.norm(drums)))

    assert similarity(parts["stem:percussive"], drums) > similarity(parts["stem:harmonic"], drums)


def test_stems_of_a_non_procedural_upload_need_another_engine(studio: JobService, song, tmp_path: Path) -> None:
    copy = tmp_path / "take.wav"
    copy.write_bytes(files(studio, song)["mix"].read_bytes())
    upload = studio.upload_file(copy)
    assert studio.submit(task="stems", input={"source": upload.id}, enqueue=False).engine == "hpss"
    job = run(studio, "stems", engine="native", source=upload.id)
    assert job.status == "failed" and "use --engine hpss" in job.error_message


def test_reaper_export_has_a_track_per_stem_and_the_tempo(studio: JobService, song, tmp_path: Path) -> None:
    job = run(studio, "export", source=song.id, format="reaper")
    assert job.status == "succeeded", job.error_message
    with zipfile.ZipFile(files(studio, job)["reaper"]) as bundle:
        names = bundle.namelist()
        project = next(n for n in names if n.endswith(".rpp"))
        text = bundle.read(project).decode()
        folder = project.rsplit("/", 1)[0]
        for line in text.splitlines():
            if line.strip().startswith("FILE "):
                relative = line.split('"')[1]
                assert f"{folder}/{relative}" in names
    stems = [r for r in files(studio, song) if r.startswith("stem:")]
    assert text.count("<TRACK") == len(stems)
    assert f"TEMPO {song.recipe['style']['bpm']:g} 4 4" in text


ARDOUR_EXPORT = shutil.which("ardour7-export") or shutil.which("ardour8-export")
ARDOUR_LUA = shutil.which("ardour7-lua") or shutil.which("ardour8-lua")


@pytest.mark.skipif(not (ARDOUR_EXPORT and ARDOUR_LUA), reason="needs Ardour's headless tools (apt install ardour)")
def test_ardour_session_renders_in_ardour_as_the_sum_of_its_stems(studio: JobService, song, tmp_path: Path) -> None:
    job = run(studio, "export", source=song.id, format="ardour")
    assert job.status == "succeeded", job.error_message
    with zipfile.ZipFile(files(studio, job)["ardour"]) as bundle:
        bundle.extractall(tmp_path)
    (session,) = tmp_path.glob("*/*.ardour")
    folder, name = session.parent, session.stem
    assert (folder / "interchange" / name / "audiofiles").is_dir()

    script = tmp_path / "inspect.lua"
    script.write_text(
        f's = load_session("{folder}", "{name}")\n'
        "local at = Temporal.timepos_t(0)\n"
        "local tempo_map = Temporal.TempoMap.read()\n"
        'print("tempo", tempo_map:tempo_at(at):note_types_per_minute())\n'
        'print("meter", tempo_map:meter_at(at):divisions_per_bar(), tempo_map:meter_at(at):note_value())\n'
        'for t in s:get_tracks():iter() do print("track", t:name()) end\n'
        "close_session()\n"
    )
    report = subprocess.run([ARDOUR_LUA, str(script)], capture_output=True, text=True, timeout=120).stdout
    lines = [line.split() for line in report.splitlines() if line.split()[:1] in (["tempo"], ["meter"], ["track"])]
    stems = {r.removeprefix("stem:"): p for r, p in files(studio, song).items() if r.startswith("stem:")}
    assert sorted(words[1] for words in lines if words[0] == "track") == sorted(stems)
    assert abs(float(next(w[1] for w in lines if w[0] == "tempo")) - song.recipe["style"]["bpm"]) < 0.01
    assert next(w[1:] for w in lines if w[0] == "meter") == ["4", "4"]

    rendered_path = tmp_path / "ardour.wav"
    # Debian's ardour7-export 7.3 aborts in free() on a few percent of runs, sessions saved by Ardour itself
    # included; a crash (a signal, not an error exit) is retried, anything else fails the test.
    for _attempt in range(5):
        render = subprocess.run(
            [ARDOUR_EXPORT, "-b", "float", "-o", str(rendered_path), str(folder), name],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if render.returncode >= 0:
            break
    assert render.returncode == 0, render.stdout + render.stderr
    rendered, _ = sf.read(rendered_path, dtype="float64")
    premaster = np.sum([sf.read(p, dtype="float64")[0] for p in stems.values()], axis=0)
    assert abs(len(rendered) - len(premaster)) <= 1
    n = min(len(rendered), len(premaster))
    assert level_db(rendered[:n] - premaster[:n], premaster[:n]) < -60
    mix, _ = sf.read(files(studio, song)["mix"], dtype="float64")
    assert np.corrcoef(rendered[:n].ravel(), mix[:n].ravel())[0, 1] > 0.98  # the mix is this, mastered


def test_stems_zip_carries_stems_midi_and_recipe(studio: JobService, song) -> None:
    job = run(studio, "export", source=song.id, format="stems-zip")
    with zipfile.ZipFile(files(studio, job)["stems-zip"]) as bundle:
        names = bundle.namelist()
    assert any(n.endswith("song.mid") for n in names) and any(n.endswith("recipe.json") for n in names)
    stems_in_zip = [n for n in names if "/stems/" in n and not n.endswith("/")]
    assert len(stems_in_zip) == sum(r.startswith("stem:") for r in files(studio, song))


def test_bad_sources_are_refused_at_submission(studio: JobService, song) -> None:
    with pytest.raises(InputError, match="is not a job, artifact or upload id"):
        studio.submit(task="master", input={"source": "nothing-here"}, enqueue=False)
    with pytest.raises(InputError, match="source"):
        studio.submit(task="master", input={"source": "../../etc/passwd"}, enqueue=False)
    midi = next(a for a in song.artifacts if a.role == "midi")
    with pytest.raises(InputError, match="not audio"):
        studio.submit(task="master", input={"source": midi.id}, enqueue=False)
    upload = studio.upload_file(files(studio, song)["mix"])
    no_tempo = run(studio, "export", source=upload.id, format="ardour")
    assert no_tempo.status == "failed" and "needs one" in no_tempo.error_message


def stems_of(studio: JobService, job) -> dict[str, np.ndarray]:
    return {r: sf.read(p, dtype="float32")[0] for r, p in files(studio, job).items() if r.startswith("stem:")}


def premix(studio: JobService, job) -> np.ndarray:
    stems = [sf.read(p, dtype="float32")[0] for r, p in files(studio, job).items() if r.startswith("stem:")]
    return np.sum(stems, axis=0)


def level_db(audio: np.ndarray, reference: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(audio**2)) / np.sqrt(np.mean(reference**2)) + 1e-20)


@pytest.fixture(scope="module")
def long_song(studio: JobService):
    job = run(studio, "generate", prompt="pop song", duration=30, seed=8)
    assert job.status == "succeeded"
    return job


def test_edit_repaints_the_snapped_range_and_leaves_the_rest_sample_identical(studio: JobService, long_song) -> None:
    job = run(studio, "edit", source=long_song.id, start=8.3, end=15.7, seed=3)
    assert job.status == "succeeded", job.error_message
    edit = job.recipe["operations"][-1]
    bar = 60 / long_song.recipe["style"]["bpm"] * 4
    assert edit["start_s"] == pytest.approx(edit["start_bar"] * bar, abs=1e-3)
    assert abs(edit["start_s"] - 8.3) <= bar / 2 and abs(edit["end_s"] - 15.7) <= bar / 2
    start, end = round((edit["start_s"] - 0.025) * 44100), round((edit["end_s"] + 0.025) * 44100)
    source_stems, edited_stems = stems_of(studio, long_song), stems_of(studio, job)
    assert set(source_stems) == set(edited_stems)
    for name, audio in source_stems.items():  # every stem, sample for sample, outside the range
        assert np.array_equal(audio[:start], edited_stems[name][:start]), name
        assert np.array_equal(audio[end:], edited_stems[name][end:]), name
    before, after = premix(studio, long_song), premix(studio, job)
    inside = slice(start + 2205, end - 2205)
    assert level_db(after[inside] - before[inside], before[inside]) > -10  # really different music


def test_editing_an_edit_replays_the_chain(studio: JobService, long_song) -> None:
    first = run(studio, "edit", source=long_song.id, start=4.5, end=9, seed=1)
    second = run(studio, "edit", source=first.id, start=18, end=22, seed=2)
    assert second.status == "succeeded", second.error_message
    assert [op["op"] for op in second.recipe["operations"]] == ["edit", "edit"]
    head = round((second.recipe["operations"][-1]["start_s"] - 0.025) * 44100)
    for name, audio in stems_of(studio, first).items():
        assert np.array_equal(audio[:head], stems_of(studio, second)[name][:head]), name


def test_extend_keeps_the_song_and_moves_the_ending(studio: JobService, long_song) -> None:
    job = run(studio, "extend", source=long_song.id, seconds=20, seed=6)
    assert job.status == "succeeded", job.error_message
    audio, rate = sf.read(files(studio, job)["mix"])
    assert abs(len(audio) / rate - 50) <= 0.25
    join = job.recipe["operations"][-1]["join_s"]
    before, after = premix(studio, long_song), premix(studio, job)
    prefix = round(join * rate)
    assert level_db(after[:prefix] - before[:prefix], before[:prefix]) < -60
    tail = audio[-2 * rate :]
    quarters = [np.sqrt(np.mean(tail[i * rate // 2 : (i + 1) * rate // 2] ** 2)) for i in range(4)]
    assert quarters[-1] < quarters[0] and 20 * np.log10(quarters[-1] + 1e-12) < -40
    assert job.recipe["structure"][-1]["kind"] == "outro"


def test_edit_and_extend_refuse_what_they_cannot_do(studio: JobService, long_song, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must be before end"):
        studio.submit(task="edit", input={"source": long_song.id, "start": 10, "end": 5}, enqueue=False)
    outside = run(studio, "edit", source=long_song.id, start=40, end=50)
    assert outside.status == "failed" and "outside the song" in outside.error_message
    take = tmp_path / "take.wav"
    take.write_bytes(files(studio, long_song)["mix"].read_bytes())
    foreign = run(studio, "edit", source=studio.upload_file(take).id, start=25, end=60)
    assert foreign.status == "failed" and "past the end of the source" in foreign.error_message


@pytest.fixture(scope="module")
def foreign_take(studio: JobService, tmp_path_factory: pytest.TempPathFactory):
    """Audio without a recipe: a rendered song at a known tempo and key, uploaded as a plain file."""
    made = run(studio, "generate", genre="pop", bpm=120, key="A minor", duration=20, seed=2)
    take = tmp_path_factory.mktemp("foreign") / "band take.wav"
    take.write_bytes(files(studio, made)["mix"].read_bytes())
    return studio.upload_file(take)


def test_other_audio_is_extended_in_its_tempo_and_key(studio: JobService, foreign_take) -> None:
    from cadenza.media.analysis import estimate_tempo

    job = run(studio, "extend", source=foreign_take.id, seconds=12, prompt="pop")
    assert job.status == "succeeded", job.error_message
    analysis = job.recipe["analysis"]
    assert abs(analysis["bpm"] - 120) / 120 < 0.03 and analysis["key"] == "A minor"
    source, rate = sf.read(studio.settings.home / foreign_take.path, dtype="float32")
    result, _ = sf.read(files(studio, job)["mix"], dtype="float32")
    assert abs(len(result) / rate - (len(source) / rate + 12)) < 0.01
    join = round(job.recipe["operations"][0]["join_s"] * rate)
    bar = 4 * 60 / analysis["bpm"]
    bars = (job.recipe["operations"][0]["join_s"] - analysis["beat_phase_s"]) / bar
    assert abs(bars - round(bars)) < 1e-3  # the join is on a bar line
    assert level_db(result[:join] - source[:join], source[:join]) < -60
    new_part = result[join + rate :]
    assert abs(estimate_tempo(new_part, rate).bpm - analysis["bpm"]) / analysis["bpm"] < 0.03
    assert abs(level_db(new_part, source[join - 8 * rate : join])) < 3  # at the source's loudness


def test_other_audio_is_repainted_between_bar_lines(studio: JobService, foreign_take) -> None:
    job = run(studio, "edit", source=foreign_take.id, start=6, end=12)
    assert job.status == "succeeded", job.error_message
    edit = job.recipe["operations"][0]
    source, rate = sf.read(studio.settings.home / foreign_take.path, dtype="float32")
    result, _ = sf.read(files(studio, job)["mix"], dtype="float32")
    assert len(result) == len(source)
    start, end = round((edit["start_s"] - 0.025) * rate), round((edit["end_s"] + 0.025) * rate)
    assert level_db(result[:start] - source[:start], source[:start]) < -80
    assert level_db(result[end:] - source[end:], source[end:]) < -80
    inside = slice(start + rate // 10, end - rate // 10)
    assert level_db(result[inside] - source[inside], source[inside]) > -10


def lead_line(path: Path, names: tuple[str, ...] = ()) -> list[tuple[float, int]]:
    """(beat, pitch) of the melody track of a song's MIDI: the track named like its lead instrument."""
    import mido

    song = mido.MidiFile(path)
    tracks = [t for t in song.tracks[1:] if any(m.type == "note_on" for m in t)]
    track = next(t for t in tracks if t.name in names) if names else tracks[-1]
    now, line = 0, []
    for message in track:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            line.append((now / song.ticks_per_beat, message.note))
    return line


def pitch_class_overlap(source: list[tuple[float, int]], cover: list[tuple[float, int]]) -> float:
    """Share of source melody notes whose pitch class the cover sounds within an 8th of the same beat."""
    hits = sum(any(abs(b - beat) <= 0.5 and p % 12 == pitch % 12 for b, p in cover) for beat, pitch in source)
    return hits / max(1, len(source))


def test_cover_of_a_procedural_song_keeps_melody_harmony_and_form(studio: JobService, long_song) -> None:
    job = run(studio, "cover", source=long_song.id, prompt="bossa nova, nylon guitar, flute", strength=1.0, seed=1)
    assert job.status == "succeeded", job.error_message
    source_style, cover_style = long_song.recipe["style"], job.recipe["style"]
    assert cover_style["genre"] == "bossa nova"
    assert (cover_style["bpm"], cover_style["key"]) == (source_style["bpm"], source_style["key"])
    assert set(cover_style["instruments"].values()) != set(source_style["instruments"].values())
    assert [s["kind"] for s in job.recipe["structure"]] == [s["kind"] for s in long_song.recipe["structure"]]
    from cadenza.engines.procedural.instruments import instrument_slug

    source_lead = lead_line(files(studio, long_song)["midi"], (instrument_slug(source_style["instruments"]["lead"]),))
    cover_lead = lead_line(files(studio, job)["midi"], (instrument_slug(cover_style["instruments"]["lead"]),))
    assert pitch_class_overlap(source_lead, cover_lead) >= 0.7
    from cadenza.media.analysis import estimate_tempo

    audio, rate = sf.read(files(studio, job)["mix"], dtype="float32")
    assert abs(estimate_tempo(audio, rate).bpm - source_style["bpm"]) / source_style["bpm"] < 0.03
    # The key is checked in the MIDI: measured from the audio, a bossa bass that alternates root and fifth
    # makes the estimator answer the dominant for some arrangements.
    import mido

    key_events = [m.key for m in mido.MidiFile(files(studio, job)["midi"]).tracks[0] if m.type == "key_signature"]
    assert (
        key_events == [source_style["key"].split()[0]]
        if source_style["key"].endswith("major")
        else [source_style["key"].split()[0] + "m"]
    )


def test_a_lower_strength_lets_the_arranger_vary_the_melody(studio: JobService, long_song) -> None:
    job = run(studio, "cover", source=long_song.id, prompt="jazz trio with sax", strength=0.2, seed=3)
    assert job.status == "succeeded", job.error_message
    from cadenza.engines.procedural.instruments import instrument_slug

    lead = (instrument_slug(long_song.recipe["style"]["instruments"]["lead"]),)
    cover_lead = (instrument_slug(job.recipe["style"]["instruments"]["lead"]),)
    overlap = pitch_class_overlap(
        lead_line(files(studio, long_song)["midi"], lead), lead_line(files(studio, job)["midi"], cover_lead)
    )
    assert overlap < 0.7


@pytest.mark.slow
def test_cover_of_other_audio_transcribes_its_melody(studio: JobService, foreign_take, tmp_path: Path) -> None:
    pytest.importorskip("basic_pitch")
    job = run(studio, "cover", source=foreign_take.id, prompt="synthwave, saw lead", strength=1.0)
    assert job.status == "succeeded", job.error_message
    assert job.recipe["source"]["analysis"]["key"] == "A minor"
    original = next(j for j in studio.list(task="generate").items if j.request.get("bpm") == 120)
    from cadenza.engines.procedural.instruments import instrument_slug

    source_lead = lead_line(
        files(studio, original)["midi"], (instrument_slug(original.recipe["style"]["instruments"]["lead"]),)
    )
    cover_lead = lead_line(files(studio, job)["midi"], (instrument_slug(job.recipe["style"]["instruments"]["lead"]),))
    phase_beats = job.recipe["source"]["analysis"]["beat_phase_s"] * 120 / 60
    shifted = [(beat + phase_beats, pitch) for beat, pitch in cover_lead]
    assert pitch_class_overlap(source_lead, shifted) >= 0.7
