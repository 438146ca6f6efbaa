"""cdk-nag acknowledgments: every one names the finding and gives a reason a reviewer can check."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str, *, findings: tuple[str, ...] = ()) -> None:
    """Acknowledge a rule on a construct; with findings, only those (e.g. 'Resource::arn:...')."""
    ids = [f"{rule_id}[{finding}]" for finding in findings] or [rule_id]
    for finding_id in ids:
        Validations.of(construct).acknowledge(Acknowledgment(id=finding_id, reason=reason))
