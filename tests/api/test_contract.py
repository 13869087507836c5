"""What the OpenAPI document promises is what the server does: errors, media types, tasks, time zones."""

from __future__ import annotations

from datetime import datetime

from tests.api.conftest import Server
from tests.api.test_access import studio  # noqa: F401  (the module fixture with the studio mounted)


def test_the_document_describes_errors_tasks_and_files(server: Server) -> None:
    with server.client() as client:
        document = client.get("/openapi.json").json()
        schemas = document["components"]["schemas"]
        assert "HTTPValidationError" not in schemas and "ErrorBody" in schemas
        submit = document["paths"]["/api/v1/jobs"]["post"]
        for status in ("400", "401", "404", "409", "413", "422", "429"):
            content = submit["responses"][status]["content"]
            assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        body = submit["requestBody"]["content"]["application/json"]["schema"]
        tasks = set(body["discriminator"]["mapping"])
        assert {"generate", "export", "master", "lyrics", "cover", "edit", "extend", "stems"} <= tasks
        generate_job = schemas["GenerateRequestJob"]
        assert generate_job["properties"]["task"]["enum"] == ["generate"]
        assert generate_job["properties"]["input"] == {"$ref": "#/components/schemas/GenerateRequest"}
        assert schemas["GenerateRequest"]["additionalProperties"] is False
        files = document["paths"]["/api/v1/files/{artifact_id}"]["get"]["responses"]["200"]["content"]
        assert {"audio/wav", "audio/flac", "audio/mpeg", "application/zip"} <= set(files)

        job = client.post("/api/v1/jobs", json={"task": "generate", "engine": "noop", "input": {}}).json()
        created = datetime.fromisoformat(job["created_at"])
        assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0
        extra = client.post("/api/v1/jobs", json={"task": "generate", "input": {}, "priority": 1})
        assert extra.status_code == 422 and "priority" in extra.json()["error"]["message"]
        typed = client.post("/api/v1/jobs", json={"task": "generate", "input": {"seed": "5"}})
        assert typed.status_code == 422 and "seed" in typed.json()["error"]["message"]
        missing = client.post("/api/v1/jobs", json={"task": "master", "input": {"source": "nosuchid"}})
        assert missing.status_code == 404 and "'nosuchid' is not a job, artifact or upload id" in missing.text
        wrong = client.request("PUT", f"/api/v1/jobs/{job['id']}")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "DELETE, GET, HEAD"


def test_with_the_studio_mounted_unknown_api_routes_and_methods_answer_as_the_api(studio: Server) -> None:  # noqa: F811
    with studio.client("s3cret") as client:
        unknown = client.get("/api/v1/nothing-here")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
        for path in ("/", "/api/v1/jobs"):
            traced = client.request("TRACE", path)
            assert traced.status_code == 405 and traced.json()["error"]["code"] == "method_not_allowed"
            assert "TRACE" not in traced.headers["allow"]
        assert client.request("PATCH", "/api/v1/jobs").headers["allow"] == "GET, HEAD, POST"
