"""The safetensors header, read without loading a tensor: an 8-byte little-endian length, then JSON.

Anything else (a pickle, a torch zip archive, a truncated or forged file) is refused with what it looks
like: adapters are only ever safetensors, which cannot run code when loaded.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cadenza.errors import InputError

MAX_HEADER_BYTES = 100 * 2**20  # safetensors' own limit
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


@dataclass(frozen=True)
class Tensor:
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Header:
    tensors: dict[str, Tensor]
    metadata: dict[str, str] = field(default_factory=dict)


def _looks_like(start: bytes) -> str:
    if start[:1] == b"\x80" and start[1:2] and start[1] <= 5:
        return "a Python pickle (a .bin/.pt/.ckpt checkpoint), which can run code when loaded"
    if start[:2] == b"PK":
        return "a zip archive (a torch.save checkpoint), which holds a pickle that can run code when loaded"
    if start[:1] in (b"{", b"["):
        return "a JSON file"
    return "not a safetensors file"


def read_header(path: Path, shown_name: str | None = None) -> Header:
    """The tensor names, dtypes, shapes and metadata of a safetensors file, checked for consistency."""
    name = shown_name or path.name
    accepted = "accepted: a .safetensors LoRA file"
    size = path.stat().st_size
    with path.open("rb") as handle:
        start = handle.read(8)
        if len(start) < 8:
            raise InputError(f"{name} is too short to be a safetensors file; {accepted}")
        (length,) = struct.unpack("<Q", start)
        if length < 2 or length > MAX_HEADER_BYTES or 8 + length > size:
            raise InputError(f"{name} is {_looks_like(start)}; {accepted}")
        raw = handle.read(length)
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{name} is {_looks_like(start)}; {accepted}") from None
    if not isinstance(parsed, dict):
        raise InputError(f"{name} has a malformed safetensors header; {accepted}")
    metadata = parsed.pop("__metadata__", None) or {}
    tensors, data_bytes = {}, size - 8 - length
    for key, entry in parsed.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], tuple(int(n) for n in entry["shape"]), entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{name}: tensor {key!r} has a malformed header entry; {accepted}") from None
        count = 1
        for n in shape:
            count *= n
        if dtype not in DTYPE_BYTES or not 0 <= begin <= end <= data_bytes or end - begin != count * DTYPE_BYTES[dtype]:
            raise InputError(f"{name}: tensor {key!r} does not match the file's data (truncated or corrupt)")
        tensors[key] = Tensor(dtype, shape)
    if not tensors:
        raise InputError(f"{name} holds no tensors; {accepted}")
    return Header(tensors, {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {})


def weight_shapes(files: list[Path]) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape over a model's weight files (headers only)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for file in files:
        shapes.update({key: tensor.shape for key, tensor in read_header(file).tensors.items()})
    return shapes
