"""ComfyUI workflows in API format: loading, finding Cadenza's parameters in them, patching a copy per
job, and checking one against a server's /object_info before anything is queued.

An API-format workflow is `{node_id: {"class_type": ..., "inputs": {name: value or [node_id, output]}}}`.
Parameters (prompt, seed, width ...) are found by node class, because node ids change whenever a
workflow is re-exported; a user can pin any of them with an explicit `name=node_id.input` map.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadenza.errors import InputError

Graph = dict[str, dict[str, Any]]
Target = tuple[str, str]  # (node id, input name)

EXPORT_HINT = (
    "Cadenza runs ComfyUI's API format. In ComfyUI, open the workflow and use Workflow > Export (API) "
    "(older versions: enable 'Dev mode' in the settings, then 'Save (API Format)'), and add that file"
)

# Inputs that hold a single value of a parameter, by node class.
BY_CLASS: dict[str, dict[str, str]] = {
    "seed": {
        "KSampler": "seed",
        "KSamplerAdvanced": "noise_seed",
        "SamplerCustom": "noise_seed",
        "RandomNoise": "noise_seed",
        "TextEncodeAceStepAudio1.5": "seed",
    },
    "steps": {"LTXVScheduler": "steps", "KSampler": "steps", "KSamplerAdvanced": "steps", "BasicScheduler": "steps"},
    "width": {"EmptyLTXVLatentVideo": "width", "LTXVImgToVideo": "width", "EmptyLatentImage": "width"},
    "height": {"EmptyLTXVLatentVideo": "height", "LTXVImgToVideo": "height", "EmptyLatentImage": "height"},
    "frames": {"EmptyLTXVLatentVideo": "length", "LTXVImgToVideo": "length"},
    "fps": {"LTXVConditioning": "frame_rate", "CreateVideo": "fps", "SaveWEBM": "fps"},
    "duration": {
        "EmptyAceStep1.5LatentAudio": "seconds",
        "TextEncodeAceStepAudio1.5": "duration",
        "EmptyLatentAudio": "seconds",
        "EmptyAceStepLatentAudio": "seconds",
    },
    "lyrics": {"TextEncodeAceStepAudio1.5": "lyrics", "TextEncodeAceStepAudio": "lyrics"},
    "bpm": {"TextEncodeAceStepAudio1.5": "bpm"},
    "key": {"TextEncodeAceStepAudio1.5": "keyscale"},
    "time_signature": {"TextEncodeAceStepAudio1.5": "timesignature"},
    "audio": {"LoadAudio": "audio"},
    "video": {"LoadVideo": "file"},
}
TEXT_ENCODERS = {"CLIPTextEncode": "text"}
PROMPT_ENCODERS = {"TextEncodeAceStepAudio1.5": "tags", "TextEncodeAceStepAudio": "tags"}
FILE_PARAMETERS = ("image", "first_frame", "last_frame", "audio", "video")
# Custom node packs that commonly provide a class a server may lack, by class-name prefix.
NODE_PACKS = {
    "VHS_": "ComfyUI-VideoHelperSuite",
    "LTXV": "ComfyUI-LTXVideo",
    "STGGuider": "ComfyUI-LTXVideo",
    "WanVideo": "ComfyUI-WanVideoWrapper",
    "easy ": "ComfyUI-Easy-Use",
    "CR ": "ComfyUI_Comfyroll_CustomNodes",
    "IPAdapter": "ComfyUI_IPAdapter_plus",
    "UnetLoaderGGUF": "ComfyUI-GGUF",
    "CLIPLoaderGGUF": "ComfyUI-GGUF",
    "RIFE VFI": "ComfyUI-Frame-Interpolation",
    "Florence2": "ComfyUI-Florence2",
    "KSampler (Efficient)": "efficiency-nodes-comfyui",
    "Image Resize": "was-node-suite-comfyui",
}
UPLOAD_FLAGS = ("image_upload", "video_upload", "audio_upload", "upload")


@dataclass
class Workflow:
    """A runnable workflow: the graph (never mutated), what it does, and where each parameter goes."""

    name: str
    task: str
    graph: Graph
    parameters: dict[str, list[Target]]
    origin: str  # "shipped" or the file it was added from
    explicit: dict[str, list[Target]] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return graph_sha256(self.graph)

    def patched(self, values: dict[str, Any]) -> Graph:
        """A deep copy of the graph with each known parameter set; the template stays as it was."""
        graph = copy.deepcopy(self.graph)
        for name, value in values.items():
            for node_id, input_name in self.parameters.get(name, []):
                graph[node_id]["inputs"][input_name] = value
        return graph

    def literal(self, name: str) -> Any:
        """The value the template holds for a parameter (its first literal target), if any."""
        for node_id, input_name in self.parameters.get(name, []):
            value = self.graph[node_id]["inputs"].get(input_name)
            if not is_link(value):
                return value
        return None

    def mapping_text(self) -> list[str]:
        rows = []
        for name, targets in sorted(self.parameters.items()):
            where = ", ".join(f"{n}.{i} ({self.graph[n]['class_type']})" for n, i in targets)
            rows.append(f"{name} -> {where}{'  (explicit map)' if name in self.explicit else ''}")
        return rows


def graph_sha256(graph: Graph) -> str:
    return hashlib.sha256(json.dumps(graph, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int) and isinstance(value[1], int)


def parse_graph(data: Any, source: str) -> Graph:
    """An API-format graph from parsed JSON; the editor format is refused with how to export the API one."""
    if isinstance(data, dict) and isinstance(data.get("nodes"), list):
        raise InputError(f"{source} is a ComfyUI editor workflow (it has a 'nodes' array). {EXPORT_HINT}.")
    if isinstance(data, dict) and isinstance(data.get("prompt"), dict) and "class_type" not in data["prompt"]:
        data = data["prompt"]  # the body of a POST /prompt
    if not isinstance(data, dict) or not data:
        raise InputError(f"{source} is not a ComfyUI workflow: expected a JSON object of nodes. {EXPORT_HINT}.")
    graph: Graph = {}
    for node_id, node in data.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            raise InputError(
                f"{source}: node {node_id!r} has no class_type; an API-format node is "
                f'{{"class_type": "...", "inputs": {{...}}}}. {EXPORT_HINT}.'
            )
        inputs = node.get("inputs", {})
        if not isinstance(inputs, dict):
            raise InputError(f"{source}: node {node_id} ({node['class_type']}) has inputs that are not an object")
        graph[str(node_id)] = {**node, "inputs": inputs}
    for node_id, node in graph.items():
        for name, value in node["inputs"].items():
            if is_link(value) and str(value[0]) not in graph:
                raise InputError(
                    f"{source}: node {node_id} ({node['class_type']}) input {name!r} links to node {value[0]}, "
                    "which the workflow does not have"
                )
    return graph


def load_graph(path: Path) -> Graph:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    except ValueError as exc:
        raise InputError(f"{path.name} is not JSON: {exc}") from None
    return parse_graph(data, path.name)


def parse_map(entries: Iterable[str], graph: Graph) -> dict[str, list[Target]]:
    """`prompt=240.text` entries (several per name allowed) checked against the graph."""
    mapping: dict[str, list[Target]] = {}
    for entry in entries:
        name, equals, where = entry.partition("=")
        node_id, dot, input_name = where.strip().rpartition(".")
        name = name.strip()
        if not equals or not dot or not name or not node_id or not input_name:
            raise InputError(f"--map {entry!r} must look like NAME=NODE_ID.INPUT, e.g. prompt=240.text")
        if node_id not in graph:
            raise InputError(f"--map {entry!r}: the workflow has no node {node_id!r} (it has {', '.join(graph)})")
        inputs = graph[node_id]["inputs"]
        if input_name not in inputs:
            raise InputError(
                f"--map {entry!r}: node {node_id} ({graph[node_id]['class_type']}) has no input {input_name!r}; "
                f"its inputs: {', '.join(inputs)}"
            )
        mapping.setdefault(name, []).append((node_id, input_name))
    return mapping


def _consumers(graph: Graph, node_id: str) -> list[tuple[str, str]]:
    """(consumer node id, input name) of every link from `node_id`."""
    return [
        (other, name)
        for other, node in graph.items()
        for name, value in node["inputs"].items()
        if is_link(value) and str(value[0]) == node_id
    ]


def _guide_index(graph: Graph, node_id: str, depth: int = 3) -> int | None:
    """The frame_idx of the LTXVAddGuide an image reaches (through preprocessing nodes), if any."""
    frontier = [node_id]
    for _ in range(depth):
        following = []
        for current in frontier:
            for consumer, _name in _consumers(graph, current):
                node = graph[consumer]
                if node["class_type"] == "LTXVAddGuide":
                    index = node["inputs"].get("frame_idx", 0)
                    return index if isinstance(index, int) else 0
                following.append(consumer)
        frontier = following
    return None


def find_parameters(graph: Graph) -> dict[str, list[Target]]:
    """Where each of Cadenza's parameters goes in `graph`, found by node class."""
    found: dict[str, list[Target]] = {}

    def add(name: str, node_id: str, input_name: str) -> None:
        if input_name in graph[node_id]["inputs"] and not is_link(graph[node_id]["inputs"][input_name]):
            found.setdefault(name, []).append((node_id, input_name))

    for node_id, node in sorted(graph.items(), key=lambda item: _order(item[0])):
        kind = node["class_type"]
        for name, classes in BY_CLASS.items():
            if kind in classes:
                add(name, node_id, classes[kind])
        if kind in PROMPT_ENCODERS:
            add("prompt", node_id, PROMPT_ENCODERS[kind])
        if kind in TEXT_ENCODERS:
            sides = {name for _, name in _consumers(graph, node_id)}
            if "positive" in sides:
                add("prompt", node_id, TEXT_ENCODERS[kind])
            elif "negative" in sides:
                add("negative_prompt", node_id, TEXT_ENCODERS[kind])
        if kind == "LoadImage":
            index = _guide_index(graph, node_id)
            add("image" if index is None else "first_frame" if index == 0 else "last_frame", node_id, "image")
    return found


def _order(node_id: str) -> tuple[int, str]:
    return (int(node_id), "") if node_id.isdigit() else (1 << 30, node_id)


def make_workflow(
    name: str, task: str, graph: Graph, origin: str, explicit: dict[str, list[Target]] | None = None
) -> Workflow:
    parameters = find_parameters(graph) | (explicit or {})
    return Workflow(name, task, graph, parameters, origin, explicit or {})


# -- checking against a server's /object_info ----------------------------------------------------
def _combo_options(spec: Any) -> tuple[list[Any] | None, dict[str, Any]]:
    """(options, flags) of an input spec when it is a combo, else (None, flags)."""
    if not isinstance(spec, list) or not spec:
        return None, {}
    flags = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if isinstance(spec[0], list):
        return spec[0], flags
    if spec[0] == "COMBO":
        return list(flags.get("options", [])), flags
    return None, flags


def node_pack(class_type: str) -> str | None:
    return next((pack for prefix, pack in NODE_PACKS.items() if class_type.startswith(prefix)), None)


def check(graph: Graph, object_info: dict[str, Any]) -> list[str]:
    """Problems that would stop `graph` on a server with these node definitions: node classes it lacks
    (with the custom node pack when known), model files the loaders name that it does not list, required
    inputs left out, links to outputs a node does not have."""
    problems: list[str] = []
    for node_id, node in sorted(graph.items(), key=lambda item: _order(item[0])):
        kind = node["class_type"]
        definition = object_info.get(kind)
        if definition is None:
            pack = node_pack(kind)
            hint = f": install the custom node pack {pack}" if pack else " (a custom node the server does not have)"
            problems.append(f"node {node_id}: the server has no node class {kind!r}{hint}")
            continue
        specs = definition.get("input", {})
        required = specs.get("required", {})
        every = required | specs.get("optional", {})
        for name in required:
            if name not in node["inputs"]:
                problems.append(f"node {node_id} ({kind}): required input {name!r} is missing")
        for name, value in node["inputs"].items():
            if is_link(value):
                source = graph.get(str(value[0]))
                outputs = object_info.get(source["class_type"], {}).get("output") if source else None
                if outputs is not None and not 0 <= value[1] < len(outputs):
                    problems.append(
                        f"node {node_id} ({kind}): input {name!r} links to output {value[1]} of node {value[0]} "
                        f"({source['class_type']}), which has {len(outputs)} outputs"
                    )
                continue
            options, flags = _combo_options(every.get(name))
            if options is None or any(flags.get(flag) for flag in UPLOAD_FLAGS) or value in options:
                continue
            if _is_model_input(kind, name):
                listed = ", ".join(map(str, options[:8])) or "none"
                problems.append(
                    f"node {node_id} ({kind}): model file {value!r} ({name}) is not on the server; "
                    f"it lists: {listed}{' ...' if len(options) > 8 else ''}"
                )
            else:
                problems.append(f"node {node_id} ({kind}): {name} {value!r} is not one of {options[:12]}")
    return problems


def _is_model_input(class_type: str, input_name: str) -> bool:
    """Loaders name their files in `*_name` inputs (ckpt_name, clip_name, vae_name, lora_name ...)."""
    return input_name.endswith("_name") and input_name not in ("sampler_name", "scheduler_name")
