"""Splits a Lambda function ARN as greengrasssdk's Lambda client needs (only invoke uses it)."""

from typing import Optional


class FunctionArnFields:
    def __init__(self, function_arn: str) -> None:
        parts = function_arn.split(":")
        if len(parts) < 7 or parts[:3] != ["arn", parts[1], "lambda"] or parts[5] != "function":
            raise ValueError("not a Lambda function ARN: " + function_arn)
        self.qualifier = parts[7] if len(parts) > 7 else ""
        self.unqualified_arn = ":".join(parts[:7])

    @staticmethod
    def build_function_arn(unqualified_arn: str, qualifier: Optional[str] = None) -> str:
        return unqualified_arn + (":" + qualifier if qualifier else "")
