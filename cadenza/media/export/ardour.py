"""An Ardour 7/8 session: one stereo track per stem, all aligned at zero, with the song's tempo and meter.

Ardour keeps each channel of a source in its own mono file under `interchange/<name>/audiofiles/`
(`drums%L.wav`, `drums%R.wav`), and positions in superclock ticks ("a<ticks>") rather than samples.
Ardour fills in everything else a track needs (disk reader, panner, triggers) when it loads the session.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import soundfile as sf

SUPERCLOCKS_PER_SECOND = 282_240_000
SESSION_VERSION = "7002"
SESSION_FOLDERS = ("analysis", "dead", "export", "externals", "peaks", "plugins")


def session_name(text: str) -> str:
    """Ardour refuses names with path or port separators in them."""
    return re.sub(r"[^A-Za-z0-9 _.-]+", "-", text).strip(" .-") or "cadenza"


def _time(samples: int, sample_rate: int) -> str:
    return f"a{samples * SUPERCLOCKS_PER_SECOND // sample_rate}"


class _SessionXml:
    """Builds the .ardour document; every object gets a fresh id from one counter, as Ardour's own do."""

    def __init__(self, name: str, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._ids: Iterator[int] = itertools.count(100)
        self.root = ElementTree.Element("Session", version=SESSION_VERSION, name=name)
        self.root.set("sample-rate", str(sample_rate))
        config = self.child(self.root, "Config")
        # Regions play exactly what the stems hold: no default fades at their edges.
        for option, value in {
            "use-region-fades": "0",
            "native-file-data-format": "FormatFloat",
            "native-file-header-format": "WAVE",
        }.items():
            self.child(config, "Option", name=option, value=value)
        self.child(self.root, "Metadata")
        self.sources = self.child(self.root, "Sources")
        self.regions = self.child(self.root, "Regions")
        self.locations = self.child(self.root, "Locations")
        self.child(self.root, "Bundles")
        self.routes = self.child(self.root, "Routes")
        self.playlists = self.child(self.root, "Playlists")
        self.child(self.root, "UnusedPlaylists")
        self.child(self.root, "RouteGroups")

    def new_id(self) -> str:
        return str(next(self._ids))

    @staticmethod
    def child(parent: ElementTree.Element, tag: str, **attributes: str) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, tag)
        for key, value in attributes.items():
            element.set(key.replace("_", "-"), value)
        return element

    def route(self, name: str, order: int, *, master: bool = False) -> ElementTree.Element:
        route = self.child(self.routes, "Route", version=SESSION_VERSION, id=self.new_id(), name=name)
        route.set("default-type", "audio")
        route.set("active", "1")
        flags = "MasterOut,OrderSet" if master else "AudioTrack,OrderSet"
        self.child(route, "PresentationInfo", order=str(order), flags=flags, color="0")
        processors = [] if master else [(f"recorder:{name}", "diskwriter"), (f"player:{name}", "diskreader")]
        processors += [("Polarity", "polarity"), ("Amp", "trim"), ("Amp", "amp"), (f"meter-{name}", "meter")]
        for label, kind in processors:
            self.child(route, "Processor", id=self.new_id(), name=label, active="1", type=kind)
        outs = self.child(route, "Processor", id=self.new_id(), name=name, active="1", type="main-outs")
        for key, value in {"own-input": "1", "own-output": "0", "output": name, "role": "Main"}.items():
            outs.set(key, value)
        self.child(outs, "PannerShell", bypassed="0", user_panner="", linked_to_route="1")
        return route

    def ports(self, route: ElementTree.Element, direction: str, connections: list[list[str]]) -> None:
        name = route.get("name", "")
        io = self.child(route, "IO", name=name, id=self.new_id(), direction=direction, default_type="audio")
        side = "in" if direction == "Input" else "out"
        for number, others in enumerate(connections, start=1):
            port = self.child(io, "Port", type="audio", name=f"{name}/audio_{side} {number}")
            for other in others:
                self.child(port, "Connection", other=other)

    def track(self, name: str, order: int, channel_files: list[str], frames: int) -> None:
        source_ids = []
        for filename in channel_files:
            source_ids.append(self.new_id())
            self.child(self.sources, "Source", name=filename, type="audio", flags="", id=source_ids[-1])
        region = {
            "name": name,
            "type": "audio",
            "start": "a0",
            "position": "a0",
            "length": f"{_time(frames, self.sample_rate)}@a0",
            "sync-position": "a0",
            "ancestral-start": "a0",
            "ancestral-length": "a0@a0",
            "stretch": "1",
            "shift": "1",
            "scale-amplitude": "1",
            "envelope-active": "0",
            "fade-in-active": "0",
            "fade-out-active": "0",
            "opaque": "1",
            "muted": "0",
            "channels": str(len(source_ids)),
        }
        for index, source_id in enumerate(source_ids):
            region[f"source-{index}"] = region[f"master-source-{index}"] = source_id
        whole = self.child(self.regions, "Region", id=self.new_id())
        for key, value in {**region, "whole-file": "1"}.items():
            whole.set(key, value)
        route = self.route(name, order)
        playlist = self.child(self.playlists, "Playlist", id=self.new_id(), name=name, type="audio")
        playlist.set("orig-track-id", route.get("id", ""))
        route.set("audio-playlist", playlist.get("id", ""))
        route.set("mode", "Normal")
        placed = self.child(playlist, "Region", id=self.new_id())
        for key, value in {**region, "whole-file": "0"}.items():
            placed.set(key, value)
        self.ports(route, "Input", [[], []])
        self.ports(route, "Output", [["Master/audio_in 1"], ["Master/audio_in 2"]])

    def tempo_map(self, bpm: float, meter: tuple[int, int]) -> None:
        tempo_map = self.child(self.root, "TempoMap", superclocks_per_second=str(SUPERCLOCKS_PER_SECOND))
        at_zero = {"sclock": "0", "quarters": "0:0", "bbt": "1|1|0"}
        tempo = self.child(self.child(tempo_map, "Tempos"), "Tempo", npm=f"{bpm:g}", enpm=f"{bpm:g}")
        for key, value in {
            "note-type": "4",
            "type": "Tempo::Constant",
            "active": "1",
            "locked-to-meter": "0",
            "continuing": "0",
            **at_zero,
            "omega": "0",
        }.items():
            tempo.set(key, value)
        meter_element = self.child(self.child(tempo_map, "Meters"), "Meter", **at_zero)
        meter_element.set("note-value", str(meter[1]))
        meter_element.set("divisions-per-bar", str(meter[0]))
        self.child(tempo_map, "MusicTimes")

    def write(self, path: Path) -> None:
        self.root.set("id-counter", self.new_id())
        ElementTree.indent(self.root)
        ElementTree.ElementTree(self.root).write(path, encoding="UTF-8", xml_declaration=True)


def write_ardour_session(
    folder: Path, *, name: str, stems: dict[str, Path], bpm: float, meter: tuple[int, int]
) -> Path:
    """Write `folder/<name>.ardour` and its audio files; returns the .ardour path.

    `stems` maps track names to audio files (mono or stereo, all at one sample rate); each becomes a
    stereo track routed to the master bus at unity gain, so the session plays the sum of the stems.
    """
    audio_folder = folder / "interchange" / name / "audiofiles"
    audio_folder.mkdir(parents=True)
    (folder / "interchange" / name / "midifiles").mkdir()
    for sub in SESSION_FOLDERS:
        (folder / sub).mkdir()
    rates = {sf.info(str(path)).samplerate for path in stems.values()}
    if len(rates) != 1:
        raise ValueError(f"stems must share one sample rate, got {sorted(rates)}")
    sample_rate = rates.pop()
    session = _SessionXml(name, sample_rate)
    master = session.route("Master", 0, master=True)
    longest = 0
    for order, (track, path) in enumerate(stems.items(), start=1):
        audio, _ = sf.read(path, dtype="float32", always_2d=True)
        stereo = np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio[:, :2]
        channel_files = [f"{track}%L.wav", f"{track}%R.wav"]
        for channel, filename in enumerate(channel_files):
            sf.write(audio_folder / filename, stereo[:, channel], sample_rate, subtype="FLOAT")
        session.track(track, order, channel_files, len(stereo))
        longest = max(longest, len(stereo))
    tracks = list(stems)
    session.ports(master, "Input", [[f"{t}/audio_out {n}" for t in tracks] for n in (1, 2)])
    session.ports(master, "Output", [["system:playback_1"], ["system:playback_2"]])
    location = session.child(session.locations, "Location", id=session.new_id(), name="session", start="a0")
    location.set("end", _time(longest, sample_rate))
    location.set("flags", "IsSessionRange")
    session.tempo_map(bpm, meter)
    path = folder / f"{name}.ardour"
    session.write(path)
    return path
