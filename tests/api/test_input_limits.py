"""Every oversized, malformed or abusive input is a clear 4xx that leaves the store as it was."""

from __future__ import annotations

import io
import socket
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

from tests.api.conftest import Server, running, stored


def png(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of any size: a few hundred KB on the wire, however many pixels it claims."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes((width + 7) // 8)
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def peak_memory_mb(server: Server) -> float:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024


def test_image_bombs_are_refused_from_their_header(server: Server) -> None:
    before, peak = stored(server), peak_memory_mb(server)
    with server.client() as client:
        for side, file_bytes in ((15000, png(15000, 15000)), (13000, png(13000, 13000))):
            assert len(file_bytes) < 300_000
            response = client.post("/api/v1/uploads", files={"file": ("bomb.png", file_bytes, "image/png")})
            assert response.status_code == 422, response.text
            message = response.json()["error"]["message"]
            assert "too large an image" in message or f"{side}x{side}" in message
            assert "at most 8192 pixels a side" in message
        fine = client.post("/api/v1/uploads", files={"file": ("cover.png", png(640, 480), "image/png")})
        assert fine.status_code == 201 and fine.json()["kind"] == "image"
    # 169 megapixels decoded would have cost Pillow that many bytes; the header check costs nothing.
    assert peak_memory_mb(server) - peak < 60
    after = stored(server)
    assert after["uploads"][:-1] == before["uploads"] and len(after["uploads"]) == len(before["uploads"]) + 1


def float_wav(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples.astype(np.float32), 44100, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def test_audio_that_is_not_numbers_is_refused(server: Server) -> None:
    before = stored(server)
    with server.client() as client:
        tone = np.sin(np.linspace(0, 2000, 44100))[:, None].repeat(2, axis=1)
        for bad, where in ((np.nan, "0.500"), (np.inf, "0.500")):
            samples = tone.copy()
            samples[22050:, 0] = bad
            response = client.post("/api/v1/uploads", files={"file": ("take.wav", float_wav(samples), "audio/wav")})
            assert response.status_code == 422, response.text
            message = response.json()["error"]["message"]
            assert "not numbers (NaN or infinity)" in message and f"first at {where} s" in message
        all_nan = client.post(
            "/api/v1/uploads", files={"file": ("nan.wav", float_wav(np.full((4410, 1), np.nan)), "audio/wav")}
        )
        assert all_nan.status_code == 422
    assert stored(server) == before


def _request_head(port: int, length: str | None) -> bytes:
    boundary = "cadenzaboundary"
    lines = [
        "POST /api/v1/uploads HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: multipart/form-data; boundary={boundary}",
        f"Content-Length: {length}" if length else "Transfer-Encoding: chunked",
        "",
        "",
    ]
    part = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
    head = "\r\n".join(lines).encode()
    return head + (part.encode() if length else f"{len(part):x}\r\n{part}\r\n".encode())


def _send_until_answered(port: int, length: str | None, total: int) -> tuple[int, bytes]:
    """Send a `total`-byte upload, stopping as soon as the server answers; (bytes sent, answer)."""
    import select

    piece = b"\x00" * (16 << 10)
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request_head(port, length))
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break
            data = piece if length else f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        sock.settimeout(10)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except ConnectionResetError:
            pass
    return sent, answer


def test_an_upload_over_the_cap_is_refused_before_it_is_transferred(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running(home, workers=0, env={"CADENZA_MAX_UPLOAD_MB": "1"}) as small:
        before = stored(home)
        total = 200 << 20
        for length in (str(total), None):  # declared, then chunked
            started = time.monotonic()
            sent, answer = _send_until_answered(small.port, length, total)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
            assert b"exceeds 1 MB (CADENZA_MAX_UPLOAD_MB)" in answer
            assert sent < 8 << 20, f"{sent / 2**20:.0f} MB were sent before the refusal"
            assert time.monotonic() - started < 10
        assert stored(home) == before
        assert not [p for p in (home / "uploads").glob(".incoming-*")] if (home / "uploads").exists() else True


def test_a_retry_gets_its_job_and_a_reused_key_is_a_conflict(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running(home, workers=0, env={"CADENZA_MAX_QUEUE_DEPTH": "1"}) as idle, idle.client() as client:
        body = {"task": "generate", "engine": "noop", "input": {"prompt": "retry me"}}
        first = client.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "k1"})
        assert first.status_code == 202
        full = client.post("/api/v1/jobs", json={**body, "input": {"prompt": "another"}})
        assert full.status_code == 429
        before = stored(home)

        retry = client.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "k1"})
        assert retry.status_code == 202 and retry.json()["id"] == first.json()["id"]

        for other in (
            {**body, "input": {"prompt": "something else"}},
            {"task": "lyrics", "input": {"theme": "rain"}},
            {**body, "input": {"prompt": "retry me", "seed": 5}},
        ):
            reused = client.post("/api/v1/jobs", json=other, headers={"Idempotency-Key": "k1"})
            assert reused.status_code == 409, reused.text
            error = reused.json()["error"]
            assert error["code"] == "conflict" and "Idempotency-Key 'k1' was already used" in error["message"]
            assert error["details"] == {"job_id": first.json()["id"]}
        assert stored(home) == before


def test_the_queue_cap_holds_under_concurrent_clients(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running(home, workers=0, env={"CADENZA_MAX_QUEUE_DEPTH": "5"}) as idle:

        def submit(index: int) -> httpx.Response:
            with idle.client() as client:
                body = {"task": "generate", "engine": "noop", "input": {"prompt": f"burst {index}"}}
                return client.post("/api/v1/jobs", json=body)

        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(submit, range(60)))
        statuses = [r.status_code for r in responses]
        assert statuses.count(202) == 5 and statuses.count(429) == 55
        for refused in (r for r in responses if r.status_code == 429):
            assert refused.json()["error"]["message"] == "the queue is full (5 jobs waiting, maximum 5); retry later"
            assert int(refused.headers["Retry-After"]) > 0
        assert [status for _, status, _ in stored(home)["jobs"]] == ["queued"] * 5


def test_event_streams_are_capped_per_client_and_in_total(tmp_path: Path) -> None:
    env = {"CADENZA_MAX_EVENT_STREAMS_PER_CLIENT": "2", "CADENZA_MAX_EVENT_STREAMS": "3"}
    home = tmp_path / "home"
    with running(home, workers=0, env=env) as idle, idle.client() as one:
        job = one.post("/api/v1/jobs", json={"task": "generate", "engine": "noop", "input": {}}).json()
        url = f"/api/v1/jobs/{job['id']}/events"
        # A second client: another loopback address (the whole of 127.0.0.0/8 is this machine).
        other = httpx.Client(base_url=idle.url, transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30)
        before = stored(home)
        opened = [one.send(one.build_request("GET", url), stream=True) for _ in range(2)]
        assert [r.status_code for r in opened] == [200, 200]
        third = one.get(url)
        assert third.status_code == 429 and "this client already has 2 job event streams open" in third.text
        assert int(third.headers["Retry-After"]) > 0
        opened.append(other.send(other.build_request("GET", url), stream=True))
        assert opened[-1].status_code == 200
        over = other.get(url)
        assert over.status_code == 429 and "3 job event streams are open" in over.json()["error"]["message"]
        for response in opened:
            response.close()
        deadline = time.monotonic() + 10
        while True:  # a closed stream frees its place
            again = one.send(one.build_request("GET", url), stream=True)
            again.close()
            if again.status_code == 200:
                break
            assert time.monotonic() < deadline, "closed streams never freed their places"
            time.sleep(0.2)
        other.close()
        assert stored(home) == before


def wav(seconds: float, frequency: float = 440.0) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(int(44100 * seconds)) / 44100
    sf.write(buffer, 0.3 * np.sin(2 * np.pi * frequency * t), 44100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_uploads_are_deduplicated_within_a_quota_and_can_be_deleted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running(home, workers=0, env={"CADENZA_UPLOAD_QUOTA_MB": "1"}) as idle, idle.client() as client:
        take = wav(4.0)  # 350 KB
        first = client.post("/api/v1/uploads", files={"file": ("take.wav", take, "audio/wav")})
        assert first.status_code == 201
        for copy in range(5):  # the same bytes again: no new file, the same upload back
            again = client.post("/api/v1/uploads", files={"file": (f"copy{copy}.wav", take, "audio/wav")})
            assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        assert len(list((home / "uploads").iterdir())) == 1

        second = client.post("/api/v1/uploads", files={"file": ("b.wav", wav(4.0, 220), "audio/wav")})
        assert second.status_code == 201
        before = stored(home)
        over = client.post("/api/v1/uploads", files={"file": ("c.wav", wav(4.0, 330), "audio/wav")})
        assert over.status_code == 413 and over.json()["error"]["code"] == "quota"
        message = over.json()["error"]["message"]
        assert "of the 1 MB quota (CADENZA_UPLOAD_QUOTA_MB)" in message and "DELETE /api/v1/uploads/{id}" in message
        assert stored(home) == before

        job = client.post("/api/v1/jobs", json={"task": "master", "input": {"source": second.json()["id"]}}).json()
        busy = client.delete(f"/api/v1/uploads/{second.json()['id']}")
        assert busy.status_code == 409 and job["id"] in busy.json()["error"]["message"]
        assert client.delete(f"/api/v1/uploads/{first.json()['id']}").status_code == 204
        assert client.get(f"/api/v1/uploads/{first.json()['id']}").status_code == 404
        assert client.delete(f"/api/v1/uploads/{first.json()['id']}").status_code == 404
        assert len(list((home / "uploads").iterdir())) == 1
        third = client.post("/api/v1/uploads", files={"file": ("c.wav", wav(4.0, 330), "audio/wav")})
        assert third.status_code == 201  # the freed space is usable again


def test_unused_uploads_expire(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"CADENZA_UPLOAD_TTL_HOURS": "0.002", "CADENZA_STALE_AFTER_SECONDS": "1"}  # 7.2 s
    with running(home, workers=0, env=env) as idle, idle.client() as client:
        unused = client.post("/api/v1/uploads", files={"file": ("a.wav", wav(1.0), "audio/wav")}).json()
        needed = client.post("/api/v1/uploads", files={"file": ("b.wav", wav(1.0, 220), "audio/wav")}).json()
        submitted = client.post("/api/v1/jobs", json={"task": "master", "input": {"source": needed["id"]}})
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()
        deadline = time.monotonic() + 40
        while client.get(f"/api/v1/uploads/{unused['id']}").status_code == 200:
            assert time.monotonic() < deadline, "the unused upload never expired"
            time.sleep(0.3)
        assert not (home / "uploads" / f"{unused['sha256']}.wav").exists()
        time.sleep(8)  # past its time too, but a queued job needs it
        assert client.get(f"/api/v1/uploads/{needed['id']}").status_code == 200
        assert client.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "queued"


def test_non_finite_numbers_get_their_own_message(server: Server) -> None:
    before = stored(server)
    with server.client() as client:
        for field, value, shown in (
            ("duration", "NaN", "nan"),
            ("bpm", "Infinity", "inf"),
            ("seed", "-Infinity", "-inf"),
        ):
            body = f'{{"task": "generate", "input": {{"prompt": "x", "{field}": {value}}}}}'
            response = client.post("/api/v1/jobs", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 422, response.text
            message = response.json()["error"]["message"]
            assert message == f"{field}: {shown} is not a finite number; give an ordinary number"
            assert "600" not in message
        nested = client.post(
            "/api/v1/generate",
            content=b'{"prompt": "x", "advanced": {"target_lufs": NaN}}',
            headers={"Content-Type": "application/json"},
        )
        assert nested.status_code == 422 and nested.json()["error"]["message"].startswith("advanced.target_lufs: nan")
    assert stored(server) == before
