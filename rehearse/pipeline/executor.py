"""Executes a pipeline definition's steps in the definition's own order, as SageMaker would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rehearse.pipeline import jobs
from rehearse.pipeline.expressions import Context
from rehearse.pipeline.report import StepFailed, Timings


@dataclass
class Outcome:
    status: str  # Succeeded or Failed
    message: str
    model_package_arn: str | None = None


class Executor:
    def __init__(
        self,
        definition: dict[str, Any],
        context: Context,
        image: jobs.Image,
        s3: jobs.S3,
        sagemaker: Any,
        workdir: Path,
        timings: Timings,
    ) -> None:
        self.definition, self.context, self.image, self.s3 = definition, context, image, s3
        self.sagemaker, self.workdir, self.timings = sagemaker, workdir, timings
        self.outcome = Outcome("Succeeded", "")

    def run(self) -> Outcome:
        for step in self.definition["Steps"]:
            self._step(step)
            if self.outcome.status != "Succeeded":
                break
        return self.outcome

    def _step(self, step: dict[str, Any]) -> None:
        name, kind = step["Name"], step["Type"]
        with self.timings.step(f"{kind} step {name}"):
            if kind == "Processing":
                self._processing(step)
            elif kind == "Training":
                self._training(step)
            elif kind == "Condition":
                self._condition(step)
            elif kind == "RegisterModel":
                self._register(step)
            elif kind == "Fail":
                self._fail(step)
            else:
                raise StepFailed(name, f"step type {kind} is not rehearsed")

    def _job_dir(self, name: str) -> Path:
        path = self.workdir / "jobs" / name
        path.mkdir(parents=True, exist_ok=False)
        return path

    def _processing(self, step: dict[str, Any]) -> None:
        name = step["Name"]
        arguments = self.context.evaluate(step["Arguments"])
        job_dir = self._job_dir(name)
        self.context.properties.update(jobs.run_processing(name, arguments, self.image, self.s3, job_dir))
        for property_file in step.get("PropertyFiles", []):
            folder = jobs.processing_output_dir(arguments, property_file["OutputName"], job_dir)
            path = folder / property_file["FilePath"]
            if not path.is_file():
                missing = f"property file {property_file['FilePath']} was not written"
                raise StepFailed(name, missing, job_dir / "job.log")
            document = json.loads(path.read_text())
            self.context.property_files[f"Steps.{name}.PropertyFiles.{property_file['PropertyFileName']}"] = document

    def _training(self, step: dict[str, Any]) -> None:
        name = step["Name"]
        arguments = self.context.evaluate(step["Arguments"])
        # SageMaker Pipelines names a step's job pipelines-<execution id>-<step>-<suffix>.
        job_name = f"pipelines-{self.context.execution['PipelineExecutionId']}-{name}"[:63]
        job_dir = self._job_dir(name)
        self.context.properties.update(jobs.run_training(name, job_name, arguments, self.image, self.s3, job_dir))

    def _condition(self, step: dict[str, Any]) -> None:
        arguments = step["Arguments"]
        outcome = all(self.context.condition(condition) for condition in arguments["Conditions"])
        print(f"    conditions {'met' if outcome else 'not met'}: {'IfSteps' if outcome else 'ElseSteps'}", flush=True)
        for inner in arguments["IfSteps" if outcome else "ElseSteps"]:
            self._step(inner)
            if self.outcome.status != "Succeeded":
                return

    def _register(self, step: dict[str, Any]) -> None:
        arguments = self.context.evaluate(step["Arguments"])
        # CreateModelPackage, checked by botocore against the service model, stored by moto.
        response = self.sagemaker.create_model_package(**arguments)
        self.outcome.model_package_arn = response["ModelPackageArn"]
        print(f"    registered {response['ModelPackageArn']}", flush=True)

    def _fail(self, step: dict[str, Any]) -> None:
        message = self.context.evaluate(step["Arguments"].get("ErrorMessage", ""))
        print(f"    {step['Name']}: {message}", flush=True)
        self.outcome = Outcome("Failed", f"step {step['Name']}: {message}")
