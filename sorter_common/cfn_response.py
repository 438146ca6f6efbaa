"""The answer a CloudFormation custom resource's Lambda owes the stack, sent to its pre-signed URL.

One definition for every custom resource function (the bundle carries sorter_common): the
response document, the retried PUT, and the rule that any failure is reported, never raised,
so the stack is never left waiting an hour for an answer.
"""

import json
import logging
import time
import urllib.request
from typing import Any, Callable, Dict

LOG = logging.getLogger(__name__)
SEND_ATTEMPTS = 3


def response_body(event: Dict[str, Any], status: str, result: Dict[str, Any], reason: str) -> bytes:
    """`result` holds PhysicalResourceId (None: a Create that made nothing) and optionally Data."""
    return json.dumps(
        {
            "Status": status,
            "Reason": reason,
            "PhysicalResourceId": result.get("PhysicalResourceId") or f"not-created-{event['RequestId']}",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": result.get("Data", {}),
        }
    ).encode()


def send(url: str, body: bytes, wait_s: float = 1.0) -> None:
    # The pre-signed S3 URL CloudFormation waits on; an empty Content-Type is what it signs. A
    # lost response would leave the stack waiting an hour, so a failed PUT is tried again.
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            return
        except OSError as error:  # URLError and timeouts are OSErrors
            if attempt == SEND_ATTEMPTS:
                raise
            LOG.warning("sending the response failed (%s); attempt %d of %d", error, attempt + 1, SEND_ATTEMPTS)
            time.sleep(wait_s * attempt)


def respond(event: Dict[str, Any], handle: Callable[[], Dict[str, Any]]) -> None:
    """Runs `handle` and sends CloudFormation its result, or FAILED with the error's text.

    The error text only, never the request: the event holds the pre-signed URL, and no AWS error
    message holds a secret.
    """
    LOG.info("%s request for %s", event.get("RequestType"), event.get("LogicalResourceId"))
    try:
        body = response_body(event, "SUCCESS", handle(), "OK")
    except Exception as error:
        LOG.exception("request failed")
        fallback = {"PhysicalResourceId": event.get("PhysicalResourceId")}
        body = response_body(event, "FAILED", fallback, f"{type(error).__name__}: {error}"[:1000])
    send(event["ResponseURL"], body)
