"""The Lambda side of the Greengrass V1 core's local IPC, at the interface greengrasssdk 1.6.1 calls.

greengrasssdk's Lambda client (which iot-data publish goes through) builds IPCClient(endpoint=...)
and calls post_work(function_arn, payload, client_context, invocation_type), and for a
RequestResponse invocation get_work_result(function_arn, invocation_id) -> (payload, func_err).
The core serves this as HTTP on localhost (port 8000 on a device; FAKE_GREENGRASS_IPC_PORT here):
POST /2016-11-01/functions/<function ARN> with the client context, the authorization token and
the invocation type as headers, answered with the invocation id.
Source of the interface: greengrasssdk 1.6.1's Lambda client (https://github.com/aws/aws-greengrass-core-sdk-python,
greengrasssdk/Lambda.py) and the Core SDK reference (https://aws.github.io/aws-greengrass-core-sdk-python/).
"""

import collections
import os
import sys
from typing import Optional, Union
from urllib.error import URLError
from urllib.request import Request, urlopen

from greengrass_common.env_vars import AUTH_TOKEN

API_VERSION = "2016-11-01"
# Says in the function's log which greengrasssdk is calling (the one its package carries).
_sdk = sys.modules.get("greengrasssdk")
print("greengrass runtime: IPC client for greengrasssdk from " + str(getattr(_sdk, "__file__", None)), file=sys.stderr)
GetWorkResultOutput = collections.namedtuple("GetWorkResultOutput", ["payload", "func_err"])


class IPCException(Exception):
    pass


class IPCClient:
    def __init__(self, endpoint: str = "localhost", port: Optional[int] = None) -> None:
        self.endpoint = endpoint
        self.port = int(port or os.environ.get("FAKE_GREENGRASS_IPC_PORT", "8000"))

    def _url(self, function_arn: str) -> str:
        return f"http://{self.endpoint}:{self.port}/{API_VERSION}/functions/{function_arn}"

    def post_work(
        self,
        function_arn: str,
        input_bytes: bytes,
        client_context: Union[str, bytes],
        invocation_type: str = "RequestResponse",
    ) -> Optional[str]:
        if isinstance(client_context, bytes):
            client_context = client_context.decode()
        request = Request(self._url(function_arn), data=input_bytes or b"")
        request.add_header("X-Amz-Client-Context", client_context)
        request.add_header("Authorization", AUTH_TOKEN or "")
        request.add_header("X-Amz-Invocation-Type", invocation_type)
        try:
            response = urlopen(request, timeout=10)
        except URLError as error:
            raise IPCException(str(error)) from error
        invocation_id: Optional[str] = response.info().get("X-Amz-InvocationId")
        return invocation_id

    def get_work_result(self, function_arn: str, invocation_id: str) -> GetWorkResultOutput:
        request = Request(self._url(function_arn))
        request.add_header("X-Amz-InvocationId", invocation_id)
        request.add_header("Authorization", AUTH_TOKEN or "")
        try:
            response = urlopen(request, timeout=10)
        except URLError as error:
            raise IPCException(str(error)) from error
        return GetWorkResultOutput(payload=response.read(), func_err=response.info().get("X-Amz-Function-Error"))
