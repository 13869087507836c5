"""Shipped and user workflows: API format only, parameters found by node class or an explicit map, and
the check against a server's node definitions (transcribed from ComfyUI's source, data/object_info.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadenza.engines.comfyui.library import TASKS, Library, shipped
from cadenza.engines.comfyui.workflows import check, parse_graph
from cadenza.errors import InputError, NotFound
from tests.engines.comfyui.standin import StandIn, node_definitions

# The inputs each task's workflow must expose for the engine to honour its request.
NEEDED = {
    "t2v": {"prompt", "negative_prompt", "seed", "steps", "width", "height", "frames", "fps"},
    "i2v": {"prompt", "seed", "steps", "width", "height", "frames", "fps", "image"},
    "a2v": {"prompt", "seed", "steps", "width", "height", "frames", "fps", "audio"},
    "lipsync": {"prompt", "seed", "steps", "width", "height", "frames", "fps", "image", "audio"},
    "keyframe": {"prompt", "seed", "steps", "width", "height", "frames", "fps", "first_frame", "last_frame"},
    "style": {"prompt", "seed", "steps", "video"},
    "generate": {"prompt", "seed", "steps", "duration", "lyrics", "bpm", "key", "time_signature"},
}


@pytest.mark.parametrize("task", TASKS)
def test_every_shipped_workflow_validates_against_comfyuis_node_definitions(task: str) -> None:
    workflow = shipped(task)
    assert check(workflow.graph, node_definitions()) == []
    standin = StandIn()  # the server-side validation, as ComfyUI's validate_prompt does it
    for name in ("image", "first_frame", "last_frame", "audio", "video"):
        for node_id, input_name in workflow.parameters.get(name, []):
            (standin.inputs / workflow.graph[node_id]["inputs"][input_name]).write_bytes(b"x")
    assert standin.validate(workflow.graph) is None
    assert NEEDED[task] <= set(workflow.parameters)
    classes = {node["class_type"] for node in workflow.graph.values()}
    if task == "generate":
        assert {"TextEncodeAceStepAudio1.5", "EmptyAceStep1.5LatentAudio", "VAEDecodeAudio", "SaveAudio"} <= classes
    else:
        assert {"LTXVConditioning", "LTXVScheduler", "SamplerCustom", "VAEDecode", "SaveVideo"} <= classes


def test_the_standin_rejects_what_comfyui_rejects() -> None:
    standin = StandIn()
    graph = json.loads(json.dumps(shipped("t2v").graph))
    graph["99"] = {"class_type": "VHS_VideoCombine", "inputs": {}}
    assert standin.validate(graph)["error"]["type"] == "invalid_prompt"
    graph = json.loads(json.dumps(shipped("t2v").graph))
    del graph["9"]["inputs"]["sigmas"]
    graph["10"]["inputs"]["vae"] = ["1", 7]
    graph["11"]["inputs"]["images"] = ["77", 0]
    errors = standin.validate(graph)["node_errors"]
    assert errors["9"]["errors"][0]["type"] == "required_input_missing" and errors["9"]["class_type"] == "SamplerCustom"
    assert errors["10"]["errors"][0]["type"] == "return_type_mismatch"
    assert errors["11"]["errors"][0]["type"] == "bad_linked_input"


def test_check_names_missing_node_classes_with_their_pack_and_missing_models() -> None:
    graph = json.loads(json.dumps(shipped("t2v").graph))
    graph["1"]["inputs"]["ckpt_name"] = "ltx-2-19b-dev.safetensors"
    graph["12"] = {"class_type": "VHS_VideoCombine", "inputs": {"images": ["10", 0]}}
    graph["13"] = {"class_type": "MyPrivateNode", "inputs": {}}
    graph["9"]["inputs"]["sigmas"] = ["8", 3]
    problems = check(graph, node_definitions())
    assert any(
        "'ltx-2-19b-dev.safetensors' (ckpt_name) is not on the server" in p and "ltxv-2b-0.9.8-distilled" in p
        for p in problems
    )
    assert any("'VHS_VideoCombine'" in p and "ComfyUI-VideoHelperSuite" in p for p in problems)
    assert any("'MyPrivateNode'" in p and "custom node" in p for p in problems)
    assert any("links to output 3 of node 8 (KSamplerSelect), which has 1 outputs" in p for p in problems)
    assert len(problems) == 4


def test_an_editor_format_workflow_is_refused_with_how_to_export_the_api_format(tmp_path: Path) -> None:
    editor = {"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler", "widgets_values": [1, 20]}], "links": []}
    path = tmp_path / "editor.json"
    path.write_text(json.dumps(editor))
    with pytest.raises(InputError) as caught:
        Library(tmp_path / "workflows").add(path, "t2v")
    assert "editor workflow" in caught.value.message and "Export (API)" in caught.value.message
    assert not (tmp_path / "workflows").exists()


def test_api_format_is_accepted_bare_or_as_a_prompt_body_and_bad_shapes_are_named() -> None:
    graph = shipped("t2v").graph
    assert parse_graph({"prompt": graph, "client_id": "x"}, "body.json") == graph
    with pytest.raises(InputError, match="node '3' has no class_type"):
        parse_graph({"3": {"inputs": {}}}, "odd.json")
    with pytest.raises(InputError, match="links to node 42, which the workflow does not have"):
        parse_graph({"1": {"class_type": "VAEDecode", "inputs": {"samples": ["42", 0]}}}, "dangling.json")


def test_user_workflows_are_stored_listed_and_removed(tmp_path: Path) -> None:
    library = Library(tmp_path / "workflows")
    source = tmp_path / "My LTX flow.json"
    source.write_text(json.dumps(shipped("i2v").graph))
    workflow = library.add(source, "i2v", mapping=["seed=9.noise_seed"])
    assert workflow.name == "my-ltx-flow" and workflow.parameters["image"] == [("13", "image")]
    assert library.get("my-ltx-flow").sha256 == shipped("i2v").sha256
    assert [w.name for w in library.list()][-1] == "my-ltx-flow"
    with pytest.raises(InputError, match="is for 'i2v', not 't2v'"):
        library.for_task("t2v", "my-ltx-flow")
    with pytest.raises(InputError, match=r"NAME=NODE_ID\.INPUT"):
        library.add(source, "i2v", "x", ["prompt:3.text"])
    with pytest.raises(InputError, match="has no input 'txt'; its inputs: text, clip"):
        library.add(source, "i2v", "x", ["prompt=3.txt"])
    with pytest.raises(InputError, match="cannot be removed"):
        library.remove("cadenza-i2v")
    library.remove("my-ltx-flow")
    with pytest.raises(NotFound):
        library.get("my-ltx-flow")


def test_patching_copies_the_template() -> None:
    workflow = shipped("keyframe")
    before = workflow.sha256
    patched = workflow.patched({"prompt": "dusk", "seed": 7, "first_frame": "a.png", "last_frame": "b.png"})
    assert patched["3"]["inputs"]["text"] == "dusk" and patched["13"]["inputs"]["image"] == "a.png"
    assert patched["14"]["inputs"]["image"] == "b.png" and patched["9"]["inputs"]["noise_seed"] == 7
    assert workflow.sha256 == before and workflow.graph["3"]["inputs"]["text"] != "dusk"
