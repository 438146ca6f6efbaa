"""The custom resources' answer to CloudFormation (sorter_common.cfn_response)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sorter_common import cfn_response

EVENT = {
    "RequestType": "Create",
    "ResponseURL": "https://example/presigned",
    "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
    "RequestId": "r1",
    "LogicalResourceId": "Thing",
}


def test_a_failed_response_put_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[bytes] = []

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return b""

    def urlopen(request: Any, timeout: float) -> Response:
        attempts.append(request.data)
        if len(attempts) < 3:
            raise OSError("connection reset")
        return Response()

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    cfn_response.send("https://example/presigned", b"{}", wait_s=0)
    assert attempts == [b"{}"] * 3
    attempts.clear()
    monkeypatch.setattr(cfn_response, "SEND_ATTEMPTS", 2)
    with pytest.raises(OSError, match="connection reset"):
        cfn_response.send("https://example/presigned", b"{}", wait_s=0)


def test_a_failing_handler_is_reported_failed_with_its_error_and_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, bytes]] = []
    monkeypatch.setattr(cfn_response, "send", lambda url, body: sent.append((url, body)))

    def fail() -> dict[str, Any]:
        raise RuntimeError("no access")

    cfn_response.respond(EVENT, fail)
    cfn_response.respond(EVENT, lambda: {"PhysicalResourceId": "p1", "Data": {"A": "b"}})
    (url, failed), (_, succeeded) = sent
    assert url == EVENT["ResponseURL"]
    assert json.loads(failed) == {
        "Status": "FAILED",
        "Reason": "RuntimeError: no access",
        "PhysicalResourceId": "not-created-r1",
        "StackId": EVENT["StackId"],
        "RequestId": "r1",
        "LogicalResourceId": "Thing",
        "NoEcho": False,
        "Data": {},
    }
    assert json.loads(succeeded)["Status"] == "SUCCESS"
    assert json.loads(succeeded)["Data"] == {"A": "b"}
