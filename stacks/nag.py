"""cdk-nag acknowledgments: every one names the finding and gives a reason a reviewer can check."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str, *, findings: tuple[str, ...] = ()) -> None:
    """Acknowledge a rule on a construct; with findings, only those (e.g. 'Resource::arn:...')."""
    ids = [f"{rule_id}[{finding}]" for finding in findings] or [rule_id]
    for finding_id in ids:
        Validations.of(construct).acknowledge(Acknowledgment(id=finding_id, reason=reason))


def resource_finding(scope: IConstruct, value: str) -> str:
    """The finding id cdk-nag gives a policy resource: tokens rendered as <AWS::AccountId>, <Logical.Arn>."""
    return "Resource::" + _render(Stack.of(scope).resolve(value))


def _render(resolved: Any) -> str:
    if isinstance(resolved, str):
        return resolved
    if "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if "Fn::GetAtt" in resolved:
        return "<{}.{}>".format(*resolved["Fn::GetAtt"])
    if "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    raise ValueError(f"no cdk-nag rendering for {resolved!r}")
