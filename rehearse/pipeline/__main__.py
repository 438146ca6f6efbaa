"""`python -m rehearse.pipeline`: from a user's images to a promoted model, as SageMaker runs it.

Exit status 0 when every step passed; otherwise the failing step's name, why, and the job's last
log lines. Sizes (images per class, epochs, the input downscale) are the user's and the
execution's own knobs: sample's --per-class, and the pipeline parameters Epochs and InputDownscale.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from rehearse.pipeline import aws, cloudformation, jobs
from rehearse.pipeline.executor import Executor
from rehearse.pipeline.expressions import Context, typed_parameters
from rehearse.pipeline.report import StepFailed, Timings, int8_problem, int8_report
from sorter_common.artifact import INT8_ONNX_FILE, INT8_PREFERRED, ONNX_FILE
from sorter_common.training_pipeline import ARCHITECTURES, DEFAULT_ARCHITECTURE, pretrained_weights_file

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "deeplens-rehearsal"
TRAINING_STACK = "TrashSorterTraining"
EDGE_STACK = "TrashSorterEdgeV2"
DATASET = "default"
EVENT_RULE = "AWS::Events::Rule"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rehearse.pipeline", description=__doc__.splitlines()[0])
    default_image = PROJECT_ROOT / ".venv-image" / "bin" / "python"
    parser.add_argument("--image-python", type=Path, default=default_image, help="the image's Python 3.8")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temporary folder)")
    parser.add_argument("--per-class", type=int, default=60, help="sample images per class")
    parser.add_argument("--epochs", type=int, default=10, help="pipeline parameter Epochs")
    parser.add_argument("--downscale", type=int, default=4, help="pipeline parameter InputDownscale")
    parser.add_argument(
        "--accuracy-gate", type=float, default=0.5, help="config accuracyGate to synthesize with (a small run)"
    )
    parser.add_argument(
        "--architecture",
        choices=sorted(ARCHITECTURES),
        default=DEFAULT_ARCHITECTURE,
        help="config networkArchitecture to synthesize with (its stand-in weights are made here)",
    )
    parser.add_argument("--json", type=Path, help="write the step times here")
    return parser


class Rehearsal:
    def __init__(self, args: argparse.Namespace, workdir: Path, endpoint: str) -> None:
        self.args, self.workdir, self.endpoint = args, workdir, endpoint
        self.timings = Timings()
        # Absolute, but not resolved: the venv's python is a symlink out of the venv.
        self.image = jobs.Image(args.image_python.absolute())
        self.s3_client = aws.client("s3", endpoint)
        self.sagemaker = aws.client("sagemaker", endpoint)
        self.user_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            **aws.client_environment(endpoint),
        }
        self.cdk_out = workdir / "cdk.out"

    # --- the user's side ------------------------------------------------------------------

    def user(self, step: str, *arguments: str) -> str:
        """A project command as a user types it (the project's venv, AWS = the rehearsal's)."""
        command = [sys.executable, "-m", *arguments]
        print(f"    $ python -m {' '.join(arguments)}", flush=True)
        log = self.workdir / f"{step}.log"
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=self.user_env, capture_output=True, text=True)
        log.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise StepFailed(step, f"exit status {result.returncode}", log)
        return result.stdout

    def weights_file(self) -> Path:
        """ImageNet-shaped weights made here (nothing is downloaded): the Gluon zoo layout."""
        import mxnet as mx
        from mxnet.gluon.model_zoo import vision

        net = vision.get_model(ARCHITECTURES[self.args.architecture], pretrained=False)
        net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
        net(mx.nd.zeros((1, 3, 32, 32)))
        path = self.workdir / "weights" / pretrained_weights_file(self.args.architecture)
        path.parent.mkdir(parents=True)
        net.save_parameters(str(path))
        return path

    def synthesize(self, weights_sha256: str) -> None:
        context = {
            "bucketName": BUCKET,
            "accuracyGate": str(self.args.accuracy_gate),
            "pretrainedWeightsSha256": weights_sha256,
            "batchSize": "8",
            "learningRate": "0.01",
            "networkArchitecture": self.args.architecture,
        }
        command = ["cdk", "synth", "--quiet", "--output", str(self.cdk_out)]
        for key, value in context.items():
            command += ["-c", f"{key}={value}"]
        print(f"    $ {' '.join(command)}", flush=True)
        env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "CDK_DISABLE_CLI_TELEMETRY": "true"}
        log = self.workdir / "synth.log"
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
        log.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise StepFailed("synthesize", f"cdk synth exit status {result.returncode}", log)

    def deploy_stand_ins(self, training: cloudformation.Template) -> None:
        """What `cdk deploy` would leave behind that the pipeline reads: the data bucket, the code
        assets where the template points, the model package group."""
        self.s3_client.create_bucket(Bucket=BUCKET)
        manifest = json.loads((self.cdk_out / f"{TRAINING_STACK}.assets.json").read_text())
        for asset in manifest.get("files", {}).values():
            source = self.cdk_out / asset["source"]["path"]
            for destination in asset["destinations"].values():
                bucket = cloudformation.Template("assets", {}).resolve({"Fn::Sub": destination["bucketName"]})
                if bucket not in {b["Name"] for b in self.s3_client.list_buckets()["Buckets"]}:
                    self.s3_client.create_bucket(Bucket=bucket)
                if source.is_file():
                    self.s3_client.upload_file(str(source), bucket, destination["objectKey"])
        _, group = training.one("AWS::SageMaker::ModelPackageGroup")
        properties = training.resolve(group["Properties"])
        self.sagemaker.create_model_package_group(
            ModelPackageGroupName=properties["ModelPackageGroupName"],
            ModelPackageGroupDescription=properties.get("ModelPackageGroupDescription", ""),
        )

    # --- the platform's side --------------------------------------------------------------

    def start_execution(self, training: cloudformation.Template) -> dict[str, str]:
        """The _READY object's event -> the rule's pattern -> the start function's handler."""
        from botocore.stub import Stubber

        from lambda_src.start_training import index as start_training

        key = f"datasets/{DATASET}/_READY"
        head = self.s3_client.head_object(Bucket=BUCKET, Key=key)
        event = aws.s3_object_created(BUCKET, key, int(head["ContentLength"]), head["ETag"])
        rules = [training.resolve(rule["Properties"]) for rule in training.resources_of_type(EVENT_RULE).values()]
        if not any("EventPattern" in rule and aws.matches(rule["EventPattern"], event) for rule in rules):
            raise StepFailed("start", "no EventBridge rule of the training stack matches the _READY event")
        _, function = training.one("AWS::Lambda::Function", "StartTraining")
        variables = training.resolve(function["Properties"].get("Environment", {}).get("Variables", {}))
        client = aws.client("sagemaker", None)
        calls: list[dict[str, Any]] = []
        client.meta.events.register("provide-client-params.sagemaker.StartPipelineExecution", _recorder(calls))
        with Stubber(client) as stub:  # the call is checked against SageMaker's service model
            arn = f"arn:aws:sagemaker:{cloudformation.REGION}:{cloudformation.ACCOUNT}:pipeline/x/execution/rehearsal1"
            stub.add_response("start_pipeline_execution", {"PipelineExecutionArn": arn})
            saved = {name: os.environ.get(name) for name in variables}
            os.environ.update({name: str(value) for name, value in variables.items()})
            try:
                start_training.handler(event, None, client=client)
            finally:
                for name, value in saved.items():
                    os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        (call,) = calls
        print(f"    StartPipelineExecution {json.dumps(call['PipelineParameters'])}", flush=True)
        return {item["Name"]: item["Value"] for item in call["PipelineParameters"]}

    def run_pipeline(self, training: cloudformation.Template, given: dict[str, str]) -> Any:
        _, pipeline = training.one("AWS::SageMaker::Pipeline")
        body = training.resolve(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
        definition = json.loads(body)
        # The execution's sizes: pipeline parameters, never edits of the definition.
        given = {**given, "Epochs": str(self.args.epochs), "InputDownscale": str(self.args.downscale)}
        context = Context(
            parameters=typed_parameters(definition["Parameters"], given),
            execution={"PipelineExecutionId": "rehearsal1", "PipelineExecutionArn": "rehearsal1"},
        )
        executor = Executor(
            definition, context, self.image, jobs.S3(self.s3_client), self.sagemaker, self.workdir, self.timings
        )
        return executor.run(), context

    def promote(self, edge: cloudformation.Template, package_arn: str) -> dict[str, Any]:
        """The package's approval event -> the promotion rule -> the promotion function."""
        from botocore.stub import Stubber

        from lambda_src.promote_model import index as promote_model
        from rehearse.greengrass_answers import expect_new_model_version
        from sorter_common.greengrass_components import promoted_version

        package = self.sagemaker.describe_model_package(ModelPackageName=package_arn)
        event = aws.model_package_state_change(package)
        rules = [edge.resolve(rule["Properties"]) for rule in edge.resources_of_type(EVENT_RULE).values()]
        if not any("EventPattern" in rule and aws.matches(rule["EventPattern"], event) for rule in rules):
            raise StepFailed("promote", "no EventBridge rule of the edge stack matches the approval event")
        _, function = edge.one("AWS::Lambda::Function", "Promote")
        variables = edge.resolve(function["Properties"]["Environment"]["Variables"])
        greengrass = aws.client("greengrassv2", None)
        calls: list[dict[str, Any]] = []
        for operation in ("CreateComponentVersion", "CreateDeployment"):
            greengrass.meta.events.register(f"provide-client-params.greengrassv2.{operation}", _recorder(calls))
        with Stubber(greengrass) as stub:  # no Greengrass here: calls checked against its service model
            expect_new_model_version(stub, promoted_version(package["ModelPackageVersion"]))
            saved = dict(os.environ)
            os.environ.update({name: str(value) for name, value in variables.items()})
            try:
                result: dict[str, Any] = promote_model.handler(
                    event, None, sagemaker=self.sagemaker, greengrass=greengrass
                )
            finally:
                os.environ.clear()
                os.environ.update(saved)
        recipe = json.loads(calls[0]["inlineRecipe"])
        print(f"    component {recipe['ComponentName']} {recipe['ComponentVersion']}", flush=True)
        print(f"    deployment {json.dumps(calls[1]['components'])}", flush=True)
        return result

    def int8_record(self, model_uri: str) -> dict[str, Any]:
        """model.json's "int8" in the Train step's model.tar.gz: the export's own measurement in the image.

        The image has no onnxruntime: the job quantizes with the wheel its code bundle carries.
        """
        from sorter_common.artifact import INT8_INFO_KEY, MODEL_INFO_FILE

        bucket, key = jobs.S3.split(model_uri)
        body = self.s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as archive:
            member = archive.extractfile(MODEL_INFO_FILE)
            if member is None:
                raise StepFailed("int8", f"no {MODEL_INFO_FILE} in {model_uri}")
            record: dict[str, Any] = json.loads(member.read())[INT8_INFO_KEY]
        return record

    def edge_check(self, context: Context, model_uri: str) -> tuple[int, int, set[str]]:
        """The registered model.tar.gz in the Greengrass component, over the held-out images.

        Returns the right count, the total and the details of the component's model-loaded statuses
        (which network file it ran, on how many threads)."""
        bucket, key = jobs.S3.split(model_uri)
        model = self.workdir / "edge" / "model.tar.gz"
        model.parent.mkdir(parents=True)
        self.s3_client.download_file(bucket, key, str(model))
        prepared = next(value for name, value in context.properties.items() if "Outputs['prepared']" in name)
        data = self.workdir / "edge" / "prepared"
        jobs.S3(self.s3_client).download_prefix(prepared, data)
        from sorter_common.classes import parse_labels
        from training_job.split import read_lst

        classes = parse_labels((data / "labels.txt").read_text())
        right = 0
        loaded: set[str] = set()
        rows = read_lst(data / "test.lst")
        for index, (label, relative) in enumerate(rows):
            folder = self.workdir / "edge" / f"frame-{index}"
            folder.mkdir()
            shutil.copy(data / relative, folder / Path(relative).name)
            output = self.user(
                "edge",
                "device.greengrass_component",
                *("--source", str(folder), "--model", str(model), "--transport", "stdout"),
                *("--work-dir", str(self.workdir / "edge" / "work"), "--thing-name", "rehearsal"),
                *("--window", "1", "--threshold", "0", "--min-interval", "0"),
            )
            messages = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
            predictions = [m["message"]["label"] for m in messages if m["topic"].endswith("/predictions")]
            statuses = [m["message"] for m in messages if m["topic"].endswith("/status")]
            loaded.update(status["detail"] for status in statuses if status["state"] == "model-loaded")
            if not predictions:
                log = self.workdir / "edge.log"
                raise StepFailed("edge", f"the component published no prediction for {relative}", log)
            right += predictions[0] == classes[label]
        return right, len(rows), loaded


def _recorder(calls: list[dict[str, Any]]) -> Any:
    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    return record


def rehearse(args: argparse.Namespace, workdir: Path) -> tuple[Timings, dict[str, Any]]:
    with aws.moto_server() as endpoint:
        run = Rehearsal(args, workdir, endpoint)
        timings = run.timings
        from training_job.files import sha256_of

        with timings.step("weights file (made here: nothing is downloaded)"):
            weights = run.weights_file()
        with timings.step("cdk synth"):
            run.synthesize(sha256_of(weights))
        training = cloudformation.Template.load(run.cdk_out, TRAINING_STACK)
        edge = cloudformation.Template.load(run.cdk_out, EDGE_STACK)
        with timings.step("deploy stand-ins (bucket, code assets, model package group)"):
            run.deploy_stand_ins(training)
        with timings.step("python -m training sample"):
            run.user("sample", "training", "sample", str(workdir / "images"), "--per-class", str(args.per_class))
        with timings.step("python -m training weights"):
            run.user(
                "weights",
                "training",
                "weights",
                f"s3://{BUCKET}",
                "--from-file",
                str(weights),
                "--architecture",
                args.architecture,
            )
        with timings.step("python -m training upload --ready"):
            run.user(
                "upload", "training", "upload", str(workdir / "images"), f"s3://{BUCKET}/datasets/{DATASET}", "--ready"
            )
        with timings.step("_READY event -> start-training handler"):
            given = run.start_execution(training)
        outcome, context = run.run_pipeline(training, given)
        if outcome.status != "Succeeded" or not outcome.model_package_arn:
            raise StepFailed("pipeline", outcome.message or "no model package was registered")
        with timings.step("int8 measured in the Train step (model.json)"):
            int8 = run.int8_record(context.properties["Steps.Train.ModelArtifacts.S3ModelArtifacts"])
            print(int8_report(int8), flush=True)
            problem = int8_problem(int8)
            if problem:
                raise StepFailed("int8", problem, workdir / "jobs" / "Train" / "job.log")
        with timings.step("python -m training pipeline approve"):
            run.user("approve", "training", "pipeline", "approve", outcome.model_package_arn)
        with timings.step("approval event -> promotion handler"):
            run.promote(edge, outcome.model_package_arn)
        with timings.step("Greengrass component on the held-out images"):
            model_uri = context.properties["Steps.Train.ModelArtifacts.S3ModelArtifacts"]
            right, total, loaded = run.edge_check(context, model_uri)
            # The camera must run the file the export chose (model.json's int8 decision).
            chosen = INT8_ONNX_FILE if int8.get(INT8_PREFERRED) else ONNX_FILE
            if not loaded or any(f"file={chosen} " not in detail + " " for detail in loaded):
                raise StepFailed("edge", f"the export chose {chosen}, the component loaded: {sorted(loaded)}")
            print(f"    the component ran {chosen}, as the export decided ({'; '.join(sorted(loaded))})")
            accuracy = context.property_files["Steps.Evaluate.PropertyFiles.EvaluationReport"]
            measured = float(accuracy["multiclass_classification_metrics"]["accuracy"]["value"])
            print(f"    {right}/{total} held-out images in the right bin; the Evaluate step measured {measured:.4f}")
            # The image's MXNet (Evaluate) and the edge's ONNX Runtime must agree image for image.
            if right != round(measured * total) or right / total < args.accuracy_gate:
                raise StepFailed("edge", f"{right}/{total} held-out images in the right bin, Evaluate said {measured}")
        return timings, int8


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.image_python.is_file():
        print(f"error: no image Python at {args.image_python}: run `make setup-image`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="trash-sorter-rehearsal-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            timings, int8 = rehearse(args, workdir)
        except StepFailed as failure:
            print(f"\nrehearsal FAILED at {failure.step}: {failure.reason}", file=sys.stderr)
            tail = failure.tail()
            if tail:
                print(f"--- last lines of {failure.log} ---\n{tail}", file=sys.stderr)
            return 1
    print("\nrehearsal passed: step times")
    print(timings.table())
    print("\nint8 at export, measured in the Train step (model.json):")
    print(int8_report(int8))
    if args.json:
        document = {"steps": dict(timings.steps), "total": timings.total(), "int8": int8}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
