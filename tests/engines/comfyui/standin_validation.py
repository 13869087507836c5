"""How the stand-in ComfyUI validates a posted graph, following execution.validate_prompt: an unknown
class is an `invalid_prompt`; missing required inputs, links to missing nodes or outputs of the wrong
type, values out of range or not in a list are `node_errors` in ComfyUI's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

UPLOAD_FLAGS = ("image_upload", "video_upload", "audio_upload")


def validate(graph: dict[str, Any], info: dict[str, Any], input_dir: Path) -> dict[str, Any] | None:
    """None if ComfyUI would accept `graph`, else its 400 body (`error` and `node_errors`)."""
    for node_id, node in graph.items():
        kind = node.get("class_type") if isinstance(node, dict) else None
        if kind not in info:
            return {
                "error": {
                    "type": "invalid_prompt",
                    "message": f"Cannot execute because node {kind} does not exist.",
                    "details": f"Node ID '#{node_id}'",
                    "extra_info": {},
                },
                "node_errors": {},
            }
    outputs = [n for n, node in graph.items() if info[node["class_type"]].get("output_node")]
    if not outputs:
        return {
            "error": {
                "type": "prompt_no_outputs",
                "message": "Prompt has no outputs",
                "details": "",
                "extra_info": {},
            },
            "node_errors": {},
        }
    node_errors = {}
    for node_id, node in graph.items():
        errors = node_errors_of(graph, node, info, input_dir)
        if errors:
            node_errors[node_id] = {
                "errors": errors,
                "dependent_outputs": outputs,
                "class_type": node["class_type"],
            }
    if node_errors:
        return {
            "error": {
                "type": "prompt_outputs_failed_validation",
                "message": "Prompt outputs failed validation",
                "details": "",
                "extra_info": {},
            },
            "node_errors": node_errors,
        }
    return None


def node_errors_of(
    graph: dict[str, Any], node: dict[str, Any], info: dict[str, Any], input_dir: Path
) -> list[dict[str, Any]]:
    def error(kind: str, message: str, details: str, name: str) -> dict[str, Any]:
        return {"type": kind, "message": message, "details": details, "extra_info": {"input_name": name}}

    definition = info[node["class_type"]]["input"]
    specs = definition.get("required", {}) | definition.get("optional", {})
    inputs = node.get("inputs", {})
    errors = []
    for name in definition.get("required", {}):
        if name not in inputs:
            errors.append(error("required_input_missing", "Required input is missing", name, name))
    for name, value in inputs.items():
        spec = specs.get(name)
        if spec is None:
            continue
        wanted = spec[0]
        if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int):
            source = graph.get(str(value[0]))
            if source is None:
                errors.append(
                    error("bad_linked_input", "Bad linked input", f"{name}: node {value[0]} does not exist", name)
                )
                continue
            produced = info[source["class_type"]]["output"]
            received = produced[value[1]] if 0 <= value[1] < len(produced) else f"no output {value[1]}"
            expected = "COMBO" if isinstance(wanted, list) else wanted
            if received != expected and not (expected in ("INT", "FLOAT", "COMBO") and received in ("INT", "FLOAT")):
                errors.append(
                    error(
                        "return_type_mismatch",
                        "Return type mismatch between linked nodes",
                        f"{name}, received_type({received}) mismatch input_type({expected})",
                        name,
                    )
                )
            continue
        flags = spec[1] if len(spec) > 1 else {}
        if isinstance(wanted, list):
            if any(flags.get(flag) for flag in UPLOAD_FLAGS):
                if not (input_dir / str(value)).is_file():
                    errors.append(
                        error(
                            "custom_validation_failed",
                            "Custom validation failed for node",
                            f"Invalid file: {value}",
                            name,
                        )
                    )
            elif value not in wanted:
                errors.append(
                    error("value_not_in_list", "Value not in list", f"{name}: '{value}' not in {wanted}", name)
                )
        elif wanted in ("INT", "FLOAT"):
            if not isinstance(value, int | float) or isinstance(value, bool):
                errors.append(
                    error(
                        "invalid_input_type",
                        f"Failed to convert an input value to a {wanted} value",
                        f"{name}, {value}",
                        name,
                    )
                )
            elif "min" in flags and value < flags["min"]:
                errors.append(
                    error("value_smaller_than_min", f"Value {value} smaller than min of {flags['min']}", name, name)
                )
            elif "max" in flags and value > flags["max"]:
                errors.append(
                    error("value_bigger_than_max", f"Value {value} bigger than max of {flags['max']}", name, name)
                )
    return errors
