"""/api/v1/loras: LoRA adapters (safetensors only, never a pickle), uploaded once and named in jobs."""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from cadenza.api.deps import SettingsDep
from cadenza.api.routes.uploads import received
from cadenza.loras.store import LoraStore

router = APIRouter(tags=["loras"])


def get_loras(request: Request) -> LoraStore:
    return LoraStore(request.app.state.settings.home)


LorasDep = Annotated[LoraStore, Depends(get_loras)]


def _public(store: LoraStore, name: str) -> dict[str, Any]:
    return store.get(name).model_dump(mode="json")


@router.post("/loras", status_code=201)
async def add_lora(
    file: UploadFile,
    store: LorasDep,
    settings: SettingsDep,
    name: Annotated[str | None, Form()] = None,
    engine: Annotated[str | None, Form()] = None,
    trigger: Annotated[str | None, Form()] = None,
    kind: Annotated[str | None, Form(description="lora or ic-lora; default: from the file")] = None,
    control: Annotated[str | None, Form(description="An IC-LoRA's control type: depth, pose, canny ...")] = None,
) -> dict[str, Any]:
    """Upload a .safetensors adapter (at most CADENZA_MAX_UPLOAD_MB); its header is checked before it is kept."""
    async with received(file, settings.home, ".lora-incoming-", settings.max_upload_mb, "adapter") as temporary:
        filename = os.path.basename(file.filename or "adapter.safetensors") or "adapter.safetensors"
        record = await run_in_threadpool(
            store.add,
            temporary,
            name=name or None,
            engine=engine or None,
            trigger=trigger,
            filename=filename,
            kind=kind or None,
            control=control or None,
        )
    return record.model_dump(mode="json")


@router.get("/loras")
def list_loras(store: LorasDep, engine: str | None = None) -> dict[str, Any]:
    """Stored adapters, optionally only those for one engine family (musicgen, stable_audio, ltx)."""
    return {"items": [record.model_dump(mode="json") for record in store.list(engine)]}


@router.get("/loras/{name}")
def get_lora(name: str, store: LorasDep) -> dict[str, Any]:
    return _public(store, name)


@router.delete("/loras/{name}", status_code=204)
def delete_lora(name: str, store: LorasDep) -> None:
    store.remove(name)
