"""One line for each AWS error an operator's command can meet: what went wrong and what to do.

Every command that calls AWS with the operator's credentials (`training upload`, `training
pipeline`, `device.provision`) words these the same way. botocore is imported lazily: the
DeepLens bundle carries this package but not botocore. Python 3.7 syntax (bundled).
"""

from typing import Optional


def describe_aws_error(error: BaseException) -> Optional[str]:
    """The one-line explanation of a botocore error, or None when error is not one."""
    try:
        from botocore import exceptions
    except ImportError:  # pragma: no cover - only where botocore is absent, and then no AWS call was made
        return None
    if isinstance(error, (exceptions.NoCredentialsError, exceptions.PartialCredentialsError)):
        return "no AWS credentials found: run `aws configure` (or `aws sso login`), or set AWS_PROFILE"
    if isinstance(error, exceptions.ProfileNotFound):
        return "AWS profile {!r} is not in your AWS config: run `aws configure --profile {}` or pick another".format(
            error.kwargs.get("profile", "?"), error.kwargs.get("profile", "NAME")
        )
    if isinstance(error, exceptions.NoRegionError):
        # boto3 reads AWS_DEFAULT_REGION (or the profile's region), not AWS_REGION.
        return "no AWS region: pass --region, set AWS_DEFAULT_REGION, or set a region in your profile (aws configure)"
    if isinstance(error, (exceptions.EndpointConnectionError, exceptions.ConnectTimeoutError)):
        return "cannot reach AWS at {}: check the network connection and any proxy settings".format(
            error.kwargs.get("endpoint_url", "its endpoint")
        )
    if isinstance(error, (exceptions.ReadTimeoutError, exceptions.ConnectionClosedError)):
        return f"the connection to AWS broke off ({error}): check the network and try again"
    if isinstance(error, exceptions.ClientError):
        return _client_error(error)
    if isinstance(error, exceptions.BotoCoreError):
        return f"AWS request failed: {error}"
    return None


def _client_error(error: "Exception") -> str:
    response = getattr(error, "response", {}) or {}
    details = response.get("Error", {})
    code = str(details.get("Code", ""))
    message = str(details.get("Message", "")) or code
    operation = getattr(error, "operation_name", "the request")
    if code in ("NoSuchBucket",):
        bucket = details.get("BucketName")
        named = f"bucket {bucket!r}" if bucket else "the bucket"
        return f"{named} does not exist: deploy the TrashSorterData stack, or check the name"
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "UnrecognizedClientException"):
        return f"AWS did not accept your credentials ({code}): refresh them (aws configure / aws sso login)"
    if code in ("AccessDenied", "AccessDeniedException", "403"):
        return f"AWS denied {operation}: your credentials lack the permission ({message})"
    return f"AWS refused {operation}: {message} ({code})"
