"""The pipeline definition's own expression language: Get, Std:Join, Std:JsonGet, conditions.

From the SageMaker pipeline definition JSON schema
(https://aws-sagemaker-mlops.github.io/sagemaker-model-building-pipeline-definition-JSON-schema/):
`{"Get": "Parameters.X" | "Execution.Y" | "Steps.S.<property path>"}`, `{"Std:Join": {"On",
"Values"}}`, `{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.S.PropertyFiles.F"}, "Path"}}`.
An expression the rehearsal cannot resolve is an error, never a guess.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_COMPARISONS = {
    "Equals": operator.eq,
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
}


class ExpressionError(ValueError):
    """An expression in the definition that the rehearsal cannot resolve."""


@dataclass
class Context:
    parameters: dict[str, Any]
    execution: dict[str, str]
    # "Steps.<name>.<property path>" -> value, as each finished step recorded it
    properties: dict[str, Any] = field(default_factory=dict)
    # "Steps.<name>.PropertyFiles.<file>" -> the parsed JSON document
    property_files: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.evaluate(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Get"}:
            return self._get(value["Get"])
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return str(join["On"]).join(_text(self.evaluate(item)) for item in join["Values"])
        if set(value) == {"Std:JsonGet"}:
            spec = value["Std:JsonGet"]
            reference = spec["PropertyFile"]["Get"]
            if reference not in self.property_files:
                raise ExpressionError(f"no property file {reference} (has its step run?)")
            return json_path(self.property_files[reference], spec["Path"])
        return {key: self.evaluate(item) for key, item in value.items()}

    def _get(self, reference: str) -> Any:
        kind, _, name = reference.partition(".")
        if kind == "Parameters":
            if name not in self.parameters:
                raise ExpressionError(f"unknown pipeline parameter {name}")
            return self.parameters[name]
        if kind == "Execution":
            if name not in self.execution:
                raise ExpressionError(f"unknown execution variable {name}")
            return self.execution[name]
        if reference in self.properties:
            return self.properties[reference]
        raise ExpressionError(f"cannot resolve {reference}")

    def condition(self, condition: dict[str, Any]) -> bool:
        kind = condition["Type"]
        if kind == "Not":
            return not self.condition(condition["Expression"])
        if kind == "Or":
            return any(self.condition(item) for item in condition["Conditions"])
        if kind == "In":
            return self.evaluate(condition["QueryValue"]) in self.evaluate(condition["Values"])
        if kind not in _COMPARISONS:
            raise ExpressionError(f"condition type {kind} is not rehearsed")
        left, right = self.evaluate(condition["LeftValue"]), self.evaluate(condition["RightValue"])
        return bool(_COMPARISONS[kind](left, right))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def json_path(document: Any, path: str) -> Any:
    """`a.b[0].c` in a JSON document (the subset Std:JsonGet paths use)."""
    current = document
    for key, index in _PATH_PART.findall(path):
        try:
            current = current[int(index)] if index else current[key]
        except (KeyError, IndexError, TypeError):
            raise ExpressionError(f"{path!r} is not in the property file") from None
    return current


def typed_parameters(declared: list[dict[str, Any]], given: dict[str, str]) -> dict[str, Any]:
    """Declared defaults overridden by the execution's values, converted to their declared type."""
    unknown = set(given) - {parameter["Name"] for parameter in declared}
    if unknown:
        # StartPipelineExecution refuses parameters the pipeline does not declare.
        raise ExpressionError(f"the pipeline declares no parameter {', '.join(sorted(unknown))}")
    converters: dict[str, Callable[[Any], Any]] = {
        "Integer": int,
        "Float": float,
        "Boolean": lambda text: str(text).lower() == "true",
        "String": str,
    }
    values: dict[str, Any] = {}
    for parameter in declared:
        name = parameter["Name"]
        raw = given.get(name, parameter.get("DefaultValue"))
        values[name] = converters[parameter.get("Type", "String")](raw)
    return values
