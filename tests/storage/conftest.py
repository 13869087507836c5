"""moto's S3 server, one per test module (a real HTTP server speaking the S3 protocol)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from tests.servers import S3Server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    pytest.importorskip("s3fs", reason="S3 storage needs s3fs (pip install 'cadenza[s3]')")
    pytest.importorskip("moto.server", reason="the S3 test server is moto[server] (in the dev extra)")
    server = S3Server().start()
    yield server
    server.stop()


def objects(s3: S3Server, prefix: str) -> dict[str, int]:
    """key -> size of the objects under `prefix` in the server's bucket."""
    client = boto3.client("s3", endpoint_url=s3.endpoint(), **s3._credentials())
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("Contents", [])
    return {item["Key"]: item["Size"] for item in listed}
