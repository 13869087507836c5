"""schemathesis drives every operation of the OpenAPI schema with generated input: never a 5xx."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from cadenza.api.app import create_app
from cadenza.config import load_settings


def test_no_operation_answers_with_a_server_error(tmp_path: Path) -> None:
    # No embedded workers: generated jobs stay queued instead of rendering.
    config = load_settings(home=tmp_path, max_queue_depth=10_000, api_token="fuzz", allowed_hosts=["testserver"])
    app = create_app(config, workers=0)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case) -> None:
            if case.path.endswith("/events"):
                case.path_parameters = {"job_id": "does-not-exist"}  # a live stream would never end
            case.call_and_validate(checks=[not_a_server_error], headers={"Authorization": "Bearer fuzz"})

        exercise()
