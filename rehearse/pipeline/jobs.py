"""Processing and training jobs as SageMaker runs them, in the image's Python 3.8 environment.

What SageMaker itself does around a container (download the channels, write the config files,
pack and upload the model, upload the outputs) is done here from the job's request, as the
SageMaker documentation describes it:
- training: https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html
  (/opt/ml/input/config/{hyperparameters,inputdataconfig,resourceconfig}.json, /opt/ml/input/data/
  <channel>/, /opt/ml/model packed into <S3OutputPath>/<job name>/output/model.tar.gz);
- processing: https://docs.aws.amazon.com/sagemaker/latest/dg/build-your-own-processing-container.html
  (ProcessingInputs downloaded to their LocalPath, outputs uploaded from theirs at the end).
The container's side is the image's own code: the processing entrypoint as written, and for
training the toolkits' `train` command with SAGEMAKER_TRAINING_MODULE as the image sets it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rehearse.pipeline.report import StepFailed

CONTAINER_ROOT = "/opt/ml"
# The MXNet 1.9 image's Dockerfile: ENV SAGEMAKER_TRAINING_MODULE=sagemaker_mxnet_container.training:main
TRAINING_MODULE = "sagemaker_mxnet_container.training:main"
# A port nothing listens on: anything a job tries to fetch fails at once.
CLOSED = "http://127.0.0.1:9"
JOB_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Image:
    """The image's Python environment: its bin folder first on PATH, as `python3` in the image."""

    python: Path

    @property
    def bin_dir(self) -> Path:
        return self.python.parent

    def environment(self, base: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A job's environment: the image's Python, no AWS credentials, no way out to a network."""
        keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TERM")
        env = {name: os.environ[name] for name in keep if name in os.environ}
        env.update(
            {
                "PATH": f"{self.bin_dir}:/usr/bin:/bin",
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                # Network isolation: pip's index and every proxy lead nowhere, no pip config applies,
                # AWS endpoints are closed, the MXNet model zoo cache is empty.
                "PIP_INDEX_URL": CLOSED + "/simple",
                "PIP_CONFIG_FILE": os.devnull,
                "PIP_RETRIES": "0",
                "PIP_TIMEOUT": "2",
                "HTTP_PROXY": CLOSED,
                "HTTPS_PROXY": CLOSED,
                "http_proxy": CLOSED,
                "https_proxy": CLOSED,
                "NO_PROXY": "",
                "AWS_ENDPOINT_URL": CLOSED,
                "AWS_EC2_METADATA_DISABLED": "true",
                "MXNET_HOME": str(base / "mxnet-home"),
            }
        )
        env.update(extra or {})
        return env


class S3:
    """Channel downloads and output uploads against the rehearsal's S3."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @staticmethod
    def split(uri: str) -> tuple[str, str]:
        if not uri.startswith("s3://"):
            raise ValueError(f"not an s3:// URI: {uri}")
        bucket, _, key = uri[5:].partition("/")
        return bucket, key

    def download_prefix(self, uri: str, local: Path) -> int:
        """S3Prefix: every object under the prefix, named by its key after the prefix's last '/'."""
        bucket, prefix = self.split(uri)
        cut = prefix.rfind("/") + 1
        count = 0
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                target = local / entry["Key"][cut:]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(bucket, entry["Key"], str(target))
                count += 1
        if count == 0:
            raise FileNotFoundError(f"no object under {uri}")
        return count

    def upload_folder(self, local: Path, uri: str) -> int:
        bucket, prefix = self.split(uri)
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        files = sorted(path for path in local.rglob("*") if path.is_file())
        for path in files:
            self.client.upload_file(str(path), bucket, prefix + path.relative_to(local).as_posix())
        return len(files)

    def upload_file(self, path: Path, uri: str) -> None:
        bucket, key = self.split(uri)
        self.client.upload_file(str(path), bucket, key)


def in_container(value: Any, root: Path) -> Any:
    """The container's /opt/ml paths, moved to the job's folder (the rehearsal's one translation)."""
    if isinstance(value, str) and (value == CONTAINER_ROOT or value.startswith(CONTAINER_ROOT + "/")):
        return str(root) + value[len(CONTAINER_ROOT) :]
    if isinstance(value, list):
        return [in_container(item, root) for item in value]
    return value


def _run(step: str, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
    print(f"    $ {' '.join(command)}", flush=True)
    with log.open("w", encoding="utf-8") as out:
        try:
            result = subprocess.run(
                command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=JOB_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            raise StepFailed(step, f"the job ran past {JOB_TIMEOUT_SECONDS} s", log) from None
    if result.returncode != 0:
        raise StepFailed(step, f"the job exited with status {result.returncode}", log)


def run_processing(step: str, arguments: dict[str, Any], image: Image, s3: S3, job_dir: Path) -> dict[str, Any]:
    """A ProcessingStep's job; returns the properties it records (its outputs' S3 URIs)."""
    root = job_dir / "opt" / "ml"
    for item in arguments.get("ProcessingInputs", []):
        source = item["S3Input"]
        local = Path(in_container(source["LocalPath"], root))
        try:
            s3.download_prefix(source["S3Uri"], local)
        except FileNotFoundError:
            raise StepFailed(step, f"ClientError: No S3 objects found under S3 URL {source['S3Uri']}") from None
    outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for item in outputs:
        Path(in_container(item["S3Output"]["LocalPath"], root)).mkdir(parents=True, exist_ok=True)
    app = arguments["AppSpecification"]
    command = in_container([*app["ContainerEntrypoint"], *app.get("ContainerArguments", [])], root)
    env = image.environment(job_dir, {**arguments.get("Environment", {}), **_processing_paths(root)})
    _run(step, command, env, job_dir, job_dir / "job.log")
    properties: dict[str, Any] = {}
    for item in outputs:
        output = item["S3Output"]
        s3.upload_folder(Path(in_container(output["LocalPath"], root)), output["S3Uri"])
        path = f"Steps.{step}.ProcessingOutputConfig.Outputs['{item['OutputName']}'].S3Output.S3Uri"
        properties[path] = output["S3Uri"]
    return properties


def _processing_paths(root: Path) -> dict[str, str]:
    """The entry script finds the mounted bundle and unpacks the code at their container paths."""
    return {
        "TRASH_SORTER_BUNDLE_DIR": str(root / "processing" / "input" / "bundle"),
        "TRASH_SORTER_CODE_DIR": str(root / "processing" / "code"),
    }


def processing_output_dir(arguments: dict[str, Any], output_name: str, job_dir: Path) -> Path:
    for item in arguments.get("ProcessingOutputConfig", {}).get("Outputs", []):
        if item["OutputName"] == output_name:
            return Path(in_container(item["S3Output"]["LocalPath"], job_dir / "opt" / "ml"))
    raise KeyError(output_name)


def run_training(
    step: str, job_name: str, arguments: dict[str, Any], image: Image, s3: S3, job_dir: Path
) -> dict[str, Any]:
    """A TrainingStep's job; returns the properties it records (the model artifact's S3 URI)."""
    root = job_dir / "opt" / "ml"
    config_dir = root / "input" / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    input_config: dict[str, Any] = {}
    for channel in arguments.get("InputDataConfig", []):
        name = channel["ChannelName"]
        source = channel["DataSource"]["S3DataSource"]
        try:
            s3.download_prefix(source["S3Uri"], root / "input" / "data" / name)
        except FileNotFoundError:
            # SageMaker's own failure reason when a channel has no object.
            raise StepFailed(step, f"ClientError: No S3 objects found under S3 URL {source['S3Uri']}") from None
        input_config[name] = {
            "TrainingInputMode": channel.get("InputMode", arguments["AlgorithmSpecification"]["TrainingInputMode"]),
            "S3DistributionType": source.get("S3DistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
    # Hyperparameters are strings (the SDK JSON-encodes them); the container sees its own paths.
    hyperparameters = {name: in_container(str(value), root) for name, value in arguments["HyperParameters"].items()}
    hyperparameters = {name: _container_json(value, root) for name, value in hyperparameters.items()}
    instance_type = arguments["ResourceConfig"]["InstanceType"]
    resource_config = {
        "current_host": "algo-1",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": ["algo-1"]}
        ],
        "network_interface_name": "eth0",
    }
    (config_dir / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config_dir / "inputdataconfig.json").write_text(json.dumps(input_config))
    (config_dir / "resourceconfig.json").write_text(json.dumps(resource_config))
    for folder in ("model", "output/data", "code"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    env = image.environment(
        job_dir,
        {
            "SAGEMAKER_BASE_DIR": str(root),
            "SAGEMAKER_TRAINING_MODULE": TRAINING_MODULE,
            "TRAINING_JOB_NAME": job_name,
            # algo-1 resolves inside SageMaker's network only; the toolkit's own switch skips the wait.
            "SM_STUDIO_LOCAL_MODE": "true",
            **{name: str(value) for name, value in arguments.get("Environment", {}).items()},
        },
    )
    _run(step, [str(image.bin_dir / "train")], env, job_dir, job_dir / "job.log")
    failure = root / "output" / "failure"
    if failure.is_file() and failure.read_text().strip():
        raise StepFailed(step, "the job wrote /opt/ml/output/failure", job_dir / "job.log")
    model_tar = job_dir / "model.tar.gz"
    pack_model(root / "model", model_tar)
    destination = arguments["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{job_name}/output/model.tar.gz"
    s3.upload_file(model_tar, destination)
    return {
        f"Steps.{step}.ModelArtifacts.S3ModelArtifacts": destination,
        f"Steps.{step}.TrainingJobName": job_name,
    }


def _container_json(value: str, root: Path) -> str:
    """A JSON-encoded string hyperparameter ("\"/opt/ml/...\"") moved like a plain path."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    if isinstance(decoded, str) and decoded.startswith(CONTAINER_ROOT):
        return json.dumps(in_container(decoded, root))
    return value


def pack_model(model_dir: Path, target: Path) -> Path:
    """/opt/ml/model's files at the archive's top level, as SageMaker packs model.tar.gz."""
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(model_dir.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=path.relative_to(model_dir).as_posix())
    return target
