"""What CloudFormation would fill in, from the synthesized templates, with local stand-ins.

Only the intrinsic functions our templates use are resolved (Ref, Fn::GetAtt, Fn::Sub,
Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap); anything else is an error, so a template that
needs more is noticed here rather than rehearsed wrongly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "rehearsal",
    "AWS::NoValue": None,
}
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class Template:
    name: str
    body: dict[str, Any]

    @classmethod
    def load(cls, cdk_out: Path, stack: str) -> Template:
        path = cdk_out / f"{stack}.template.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: synthesize first (make synth)")
        return cls(stack, json.loads(path.read_text()))

    def resources_of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.body.get("Resources", {}).items() if res.get("Type") == kind}

    def one(self, kind: str, id_contains: str = "") -> tuple[str, dict[str, Any]]:
        found = [(name, res) for name, res in self.resources_of_type(kind).items() if id_contains in name]
        if len(found) != 1:
            raise LookupError(f"{self.name}: expected one {kind} named like {id_contains!r}, found {len(found)}")
        return found[0]

    def resolve(self, value: Any) -> Any:
        return _resolve(value, self)


def stand_in_attribute(logical_id: str, attribute: str) -> str:
    if attribute == "Arn":
        return f"arn:aws:rehearsal:{REGION}:{ACCOUNT}:{logical_id}"
    return f"{logical_id}.{attribute}"


def _ref(name: str, template: Template) -> Any:
    if name in PSEUDO:
        return PSEUDO[name]
    resource = template.body.get("Resources", {}).get(name)
    if resource is None:
        parameter = template.body.get("Parameters", {}).get(name, {})
        if "Default" in parameter:
            return parameter["Default"]
        raise KeyError(f"{template.name}: Ref to unknown {name}")
    properties = resource.get("Properties", {})
    for key in ("BucketName", "Name", "FunctionName", "PipelineName", "ThingName", "ThingGroupName"):
        if isinstance(properties.get(key), str):
            return properties[key]
    return name


def _resolve(value: Any, template: Template) -> Any:
    if isinstance(value, list):
        return [_resolve(item, template) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref")):
        return {key: _resolve(item, template) for key, item in value.items()}
    (function, argument), = value.items()
    if function == "Ref":
        return _ref(argument, template)
    if function == "Fn::GetAtt":
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        return stand_in_attribute(logical_id, attribute)
    if function == "Fn::Join":
        separator, items = argument
        return separator.join(str(item) for item in _resolve(items, template))
    if function == "Fn::Select":
        index, items = _resolve(argument, template)
        return items[int(index)]
    if function == "Fn::Split":
        separator, text = _resolve(argument, template)
        return str(text).split(separator)
    if function == "Fn::FindInMap":
        mapping, first, second = _resolve(argument, template)
        return template.body["Mappings"][mapping][first][second]
    if function == "Fn::Sub":
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: _resolve(item, template) for name, item in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return stand_in_attribute(logical_id, attribute)
            return str(_ref(name, template))

        # ${!Literal} is Fn::Sub's escape for a literal ${Literal}.
        return _SUB_VARIABLE.sub(substitute, text).replace("${!", "${")
    raise NotImplementedError(f"{template.name}: the rehearsal does not resolve {function}")
