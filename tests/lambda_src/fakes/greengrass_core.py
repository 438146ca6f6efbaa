"""A fake Greengrass V1 core that runs the synthesized DeepLens group: its pinned function, its
model resource and its subscriptions to a fake cloud.

It reads the group from the synthesized template, not from our code:
- the function definition: the function's ARN, pinned, environment variables and resource access
  (AWS::Greengrass::FunctionDefinition; Greengrass V1 API reference, FunctionConfiguration:
  https://docs.aws.amazon.com/greengrass/v1/apireference/definitions-functionconfiguration.html);
- the machine-learning resource: the core downloads the S3 object and extracts model.tar.gz into
  its destination path, visible to the functions it is attached to ("Access machine learning
  resources from Lambda functions", Greengrass V1 developer guide:
  https://docs.aws.amazon.com/greengrass/v1/developerguide/access-ml-resources.html);
- the pinned function: started with the core, one process, started again when it exits
  ("Lifecycle configuration", https://docs.aws.amazon.com/greengrass/v1/developerguide/lambda-functions.html);
- the subscriptions: a message reaches a target only through a subscription whose source is the
  sender and whose subject matches the topic; any other message is dropped (Subscription,
  https://docs.aws.amazon.com/greengrass/v1/apireference/definitions-subscription.html).

The function publishes with the real greengrasssdk, whose iot-data client invokes the core's
router over the core's local IPC (HTTP on localhost). This core answers that IPC on 127.0.0.1
and routes by the group's subscriptions; the Greengrass Core SDK reference documents the
publish call (https://aws.github.io/aws-greengrass-core-sdk-python/, IoTDataPlane.Client.publish).
The device modules (awscam, mo) and the core's runtime modules come from the folders next to this file.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FAKES = Path(__file__).resolve().parent
DEVICE_MODULES = FAKES / "deeplens_device"
RUNTIME_MODULES = FAKES / "greengrass_runtime"
LAMBDA_RUNTIME = RUNTIME_MODULES / "lambda_runtime.py"
IPC_API_VERSION = "2016-11-01"
# The core's own functions (the ARNs are the core's business; the SDK reads them from the environment).
ROUTER_ARN = "arn:aws:lambda:::function:GGRouter"
SHADOW_ARN = "arn:aws:lambda:::function:GGShadowService"
# How long the fake core waits before starting an exited pinned function again.
RESTART_DELAY_S = 1.0


@dataclass
class FakeCloud:
    """AWS IoT Core as seen from the group: what the core forwarded to "cloud"."""

    messages: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.messages.append((topic, payload))

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [payload for received, payload in self.messages if received == topic]


def topic_matches(subject: str, topic: str) -> bool:
    """MQTT topic filter matching ('+' one level, '#' the rest), as subscription subjects allow."""
    filter_levels, topic_levels = subject.split("/"), topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels) or (level != "+" and level != topic_levels[index]):
            return False
    return len(filter_levels) == len(topic_levels)


@dataclass(frozen=True)
class GroupFunction:
    arn: str
    pinned: bool
    variables: dict[str, str]
    resource_access: dict[str, str]


@dataclass(frozen=True)
class Subscription:
    source: str
    subject: str
    target: str


class Group:
    """The DeepLens group as the synthesized template defines it, with the function's ARN resolved."""

    def __init__(self, template: dict[str, Any], function_arn: str) -> None:
        resources = template["Resources"]
        self.function_ref = self._function_ref(resources)
        self.function_arn = function_arn

        def resolve(value: Any) -> str:
            return function_arn if value == self.function_ref else str(value)

        function = self._only(resources, "AWS::Greengrass::FunctionDefinition")["InitialVersion"]["Functions"][0]
        configuration = function["FunctionConfiguration"]
        environment = configuration["Environment"]
        self.function = GroupFunction(
            arn=resolve(function["FunctionArn"]),
            pinned=bool(configuration["Pinned"]),
            variables={key: str(value) for key, value in environment.get("Variables", {}).items()},
            resource_access={p["ResourceId"]: p["Permission"] for p in environment.get("ResourceAccessPolicies", [])},
        )
        subscriptions = self._only(resources, "AWS::Greengrass::SubscriptionDefinition")["InitialVersion"]
        self.subscriptions = [
            Subscription(resolve(item["Source"]), item["Subject"], resolve(item["Target"]))
            for item in subscriptions["Subscriptions"]
        ]
        self.resources = {
            item["Id"]: item["ResourceDataContainer"]
            for item in self._only(resources, "AWS::Greengrass::ResourceDefinition")["InitialVersion"]["Resources"]
        }
        lambda_functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
        self.handler = lambda_functions[0]["Properties"]["Handler"] if lambda_functions else ""

    @staticmethod
    def _only(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = [r["Properties"] for r in resources.values() if r["Type"] == resource_type]
        assert len(found) == 1, f"{len(found)} {resource_type} in the template"
        return found[0]

    @staticmethod
    def _function_ref(resources: dict[str, Any]) -> dict[str, str]:
        aliases = [logical_id for logical_id, r in resources.items() if r["Type"] == "AWS::Lambda::Alias"]
        assert len(aliases) == 1, aliases
        return {"Ref": aliases[0]}

    def model_resource(self) -> tuple[str, dict[str, Any]]:
        models = [
            (resource_id, container["S3MachineLearningModelResourceData"])
            for resource_id, container in self.resources.items()
            if "S3MachineLearningModelResourceData" in container
        ]
        assert len(models) == 1, models
        return models[0]


class _IpcHandler(BaseHTTPRequestHandler):
    core: GreengrassCore

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length)
        prefix = f"/{IPC_API_VERSION}/functions/"
        if not self.path.startswith(prefix) or self.headers.get("Authorization") != self.core.token:
            self.send_response(403)
            self.end_headers()
            return
        self.core.invoked(self.path[len(prefix) :], payload, self.headers.get("X-Amz-Client-Context") or "")
        self.send_response(202)
        self.send_header("X-Amz-InvocationId", secrets.token_hex(8))
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


class GreengrassCore:
    """Runs the group's pinned function in its own process and routes what it publishes."""

    def __init__(self, group: Group, *, thing_name: str, group_name: str, cloud: FakeCloud) -> None:
        self.group = group
        self.thing_name = thing_name
        self.group_name = group_name
        self.cloud = cloud
        self.dropped: list[tuple[str, str]] = []  # (source, topic) of messages no subscription routes
        self.token = secrets.token_hex(16)
        handler = type("Handler", (_IpcHandler,), {"core": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._serving = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._serving.start()
        self.process: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []  # exit statuses of function processes the core started again
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    @property
    def ipc_port(self) -> int:
        return int(self._server.server_address[1])

    def invoked(self, function_arn: str, payload: bytes, client_context: str) -> None:
        if function_arn != ROUTER_ARN:
            self.dropped.append(("?", function_arn))
            return
        custom = json.loads(base64.b64decode(client_context))["custom"]
        source, topic = custom["source"], custom["subject"]
        routes = [s for s in self.group.subscriptions if s.source == source and topic_matches(s.subject, topic)]
        if not routes:
            self.dropped.append((source, topic))
        for route in routes:
            if route.target == "cloud":
                self.cloud.receive(topic, payload)

    def deliver_model(self, archive: Path, local_root: Path) -> Path:
        """The model resource: extract model.tar.gz into its destination (mapped under local_root)."""
        resource_id, data = self.group.model_resource()
        # Only a resource attached to the function (a resource access policy) is in its environment.
        assert resource_id in self.group.function.resource_access, "the model resource is not attached to the function"
        destination = local_root / str(data["DestinationPath"]).lstrip("/")
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as packed:
            packed.extractall(destination, filter="data")
        return destination

    def start_function(
        self, python: str, package_dir: Path, extra_environment: dict[str, str], log_file: Path
    ) -> subprocess.Popen[bytes]:
        function = self.group.function
        assert function.pinned, "only a pinned function starts with the core"
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(package_dir),
            "LANG": "C.UTF-8",
            # The function sees its package, the device's modules and the core's runtime, nothing else.
            "PYTHONPATH": os.pathsep.join([str(RUNTIME_MODULES), str(DEVICE_MODULES)]),
            "PYTHONDONTWRITEBYTECODE": "1",
            **function.variables,
            "AWS_IOT_THING_NAME": self.thing_name,
            "AWS_GREENGRASS_GROUP_NAME": self.group_name,
            "MY_FUNCTION_ARN": function.arn,
            "ROUTER_FUNCTION_ARN": ROUTER_ARN,
            "SHADOW_FUNCTION_ARN": SHADOW_ARN,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.token,
            "FAKE_GREENGRASS_IPC_PORT": str(self.ipc_port),
            **extra_environment,
        }
        def launch() -> subprocess.Popen[bytes]:
            with open(log_file, "ab") as log:
                return subprocess.Popen(
                    [python, str(LAMBDA_RUNTIME), self.group.handler],
                    cwd=package_dir,
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

        def supervise() -> None:  # a pinned function that exits is started again
            while not self._stopping.is_set():
                assert self.process is not None
                status = self.process.wait()
                if self._stopping.is_set():
                    return
                self.exits.append(status)
                self._stopping.wait(RESTART_DELAY_S)
                if not self._stopping.is_set():
                    self.process = launch()

        self.process = launch()
        self._supervisor = threading.Thread(target=supervise, daemon=True)
        self._supervisor.start()
        return self.process

    def stop(self) -> None:
        self._stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._supervisor is not None:
            self._supervisor.join(10)
        self._server.shutdown()
        self._server.server_close()
