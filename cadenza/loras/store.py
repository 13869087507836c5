"""Adapters kept in the data dir: each file once, named by its sha256, with one small JSON record per name.

    <data dir>/loras/files/<sha256>.safetensors     the adapter, content-addressed
    <data dir>/loras/index/<name>.json              its record: name, sha256, family, base model, rank ...

Records are created with an exclusive link (two adds of one name cannot both win) and written through a
temporary file (a reader never sees half a record); adds and removals of files hold a lock on
`loras/.lock`, so a removal never deletes a file another name still needs. The faces (CLI, API, studio)
call this class; jobs reach the files through `cadenza.loras.choices`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from cadenza.errors import Conflict, InputError, NotFound
from cadenza.loras.incontext import classify
from cadenza.loras.inspect import inspect_adapter

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"


class LoraRecord(BaseModel):
    """A stored adapter, as the CLI, the API and the studio show it (and as its index file holds it)."""

    name: str
    sha256: str
    family: str  # the engine family it fits: musicgen, stable_audio, ltx
    base_model: str | None
    width: int | None
    style: str  # peft or kohya keys
    layers: int
    rank: int | list[int]
    dtype: str
    triggers: list[str]
    bytes: int
    filename: str
    added_at: datetime
    alpha: float | None = None  # from a PEFT folder's adapter_config.json (a single file carries its own)
    kind: str = "lora"  # lora, or ic-lora: an LTX-2 in-context adapter that follows a control video
    control: str | None = None  # an IC-LoRA's control type (depth, pose, canny ...), when known
    reference_downscale_factor: int = 1  # an IC-LoRA reads its control video at 1/factor of the output size
    metadata: dict[str, str] = {}


def default_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(filename).stem).strip("-._")[:64]
    return stem or "adapter"


def peft_folder(folder: Path) -> tuple[Path, float | None]:
    """A PEFT adapter folder's weight file and lora_alpha (adapter_model.safetensors, adapter_config.json)."""
    weights, config_file = folder / "adapter_model.safetensors", folder / "adapter_config.json"
    if not weights.is_file():
        found = "adapter_model.bin (a pickle)" if (folder / "adapter_model.bin").exists() else "no adapter_model file"
        raise InputError(
            f"{folder} is a folder with {found}; accepted: a .safetensors file or a PEFT adapter folder "
            "with adapter_model.safetensors"
        )
    if not config_file.is_file():
        return weights, None
    try:
        config = json.loads(config_file.read_text())
    except ValueError:
        raise InputError(f"{config_file} is not JSON") from None
    if config.get("use_rslora") or config.get("alpha_pattern") or config.get("use_dora"):
        raise InputError(
            f"{config_file}: rsLoRA, DoRA and per-layer alpha patterns are not supported; accepted: plain LoRA"
        )
    alpha = config.get("lora_alpha")
    return weights, float(alpha) if isinstance(alpha, int | float) else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class LoraStore:
    def __init__(self, home: Path) -> None:
        self.root = home / "loras"
        self.files = self.root / "files"
        self.index = self.root / "index"

    def file(self, record: LoraRecord) -> Path:
        return self.files / f"{record.sha256}.safetensors"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add(
        self,
        path: Path,
        *,
        name: str | None = None,
        engine: str | None = None,
        trigger: str | None = None,
        filename: str | None = None,
        kind: str | None = None,
        control: str | None = None,
    ) -> LoraRecord:
        """Check the file (header only), copy it in under its sha256 and record it under `name`. `kind`
        (lora or ic-lora) and `control` say what the file cannot (see `cadenza.loras.incontext`).

        Adding the same file under the same name again returns the existing record.
        """
        alpha = None
        if path.is_dir():  # a PEFT save_pretrained folder: its weights, and the alpha its config holds
            path, alpha = peft_folder(path)
        filename = Path(filename or path.name).name
        if not path.is_file():
            raise InputError(f"{path} is not a file")
        name = name or default_name(filename)
        if not NAME.match(name):
            raise InputError(f"adapter name {name!r} is not valid; use {NAME_RULE}")
        info = inspect_adapter(path, shown_name=filename, engine=engine, trigger=trigger)
        in_context = classify(info, filename, kind=kind, control=control)
        digest = sha256_of(path)
        record = LoraRecord(
            name=name,
            sha256=digest,
            filename=filename[:200],
            bytes=path.stat().st_size,
            added_at=datetime.now(UTC),
            alpha=alpha,
            metadata={k: v[:500] for k, v in list(info.metadata.items())[:50]},
            kind=in_context.kind,
            control=in_context.control,
            reference_downscale_factor=in_context.reference_downscale_factor,
            **info.summary(),  # type: ignore[arg-type]
        )
        with self._locked():
            existing = self._read(name)
            if existing is not None:
                if existing.sha256 == digest:
                    return existing
                raise Conflict(
                    f"an adapter named {name!r} already exists (a different file, sha256 {existing.sha256[:12]}); "
                    f"remove it first (cadenza loras rm {name}) or choose another --name"
                )
            self.files.mkdir(parents=True, exist_ok=True)
            target = self.files / f"{digest}.safetensors"
            if not target.exists():
                handle, temporary = tempfile.mkstemp(dir=self.files, prefix=".incoming-")
                os.close(handle)
                try:
                    shutil.copyfile(path, temporary)
                    os.replace(temporary, target)
                finally:
                    if os.path.exists(temporary):
                        os.unlink(temporary)
            self._write(record)
        return record

    def list(self, family: str | None = None) -> list[LoraRecord]:
        if not self.index.is_dir():
            return []
        records = [self._read(p.stem) for p in sorted(self.index.glob("*.json"))]
        return [r for r in records if r is not None and (family is None or r.family == family)]

    def get(self, name: str) -> LoraRecord:
        record = self._read(name) if NAME.match(name) else None
        if record is None:
            known = ", ".join(r.name for r in self.list()) or "none yet (cadenza loras add FILE)"
            raise NotFound(f"no adapter named {name!r}; stored adapters: {known}")
        return record

    def remove(self, name: str) -> LoraRecord:
        """Forget `name`; its file goes too unless another name holds the same file."""
        with self._locked():
            record = self.get(name)
            (self.index / f"{name}.json").unlink(missing_ok=True)
            if not any(other.sha256 == record.sha256 for other in self.list()):
                self.file(record).unlink(missing_ok=True)
        return record

    def _read(self, name: str) -> LoraRecord | None:
        try:
            return LoraRecord.model_validate_json((self.index / f"{name}.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _write(self, record: LoraRecord) -> None:
        self.index.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.index, prefix=".record-")
        with os.fdopen(handle, "w") as out:
            out.write(record.model_dump_json(indent=2))
        try:
            os.link(temporary, self.index / f"{record.name}.json")  # fails if the name was taken meanwhile
        except FileExistsError:
            raise Conflict(f"an adapter named {record.name!r} already exists") from None
        finally:
            os.unlink(temporary)
