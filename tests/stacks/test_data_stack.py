"""TrashSorterData: the bucket can be neither exposed nor lost."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Match, Template

from stacks.config import load_config
from stacks.data_stack import DataStack
from tests.stacks.synth import SynthesizedApp
from tools.cdk_context import cdk_json_context

DATA = "TrashSorterData"


def data_bucket(app: SynthesizedApp) -> dict[str, Any]:
    buckets = app.template(DATA).find_resources("AWS::S3::Bucket", {"Properties": {"BucketName": Match.any_value()}})
    assert len(buckets) == 1
    return dict(next(iter(buckets.values())))


def test_bucket_name_is_generated_with_the_deeplens_prefix_per_account_and_region(
    synthesized_app: SynthesizedApp,
) -> None:
    name = data_bucket(synthesized_app)["Properties"]["BucketName"]
    assert name == {"Fn::Join": ["-", ["deeplens-trash-sorter", {"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}]]}


def test_both_buckets_block_public_access_encrypt_and_enforce_ownership(synthesized_app: SynthesizedApp) -> None:
    template = synthesized_app.template(DATA)
    template.resource_count_is("AWS::S3::Bucket", 2)
    template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
        },
    )


def test_every_bucket_policy_denies_requests_without_tls(synthesized_app: SynthesizedApp) -> None:
    policies = synthesized_app.template(DATA).find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            statement["Effect"] == "Deny"
            and statement["Action"] == "s3:*"
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in statements
        )


def test_data_bucket_is_retained_logged_and_cleans_old_versions(synthesized_app: SynthesizedApp) -> None:
    bucket = data_bucket(synthesized_app)
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    properties = bucket["Properties"]
    assert properties["LoggingConfiguration"]["LogFilePrefix"] == "deeplens-bucket/"
    rules = {rule["Id"]: rule for rule in properties["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireOldVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert "ExpirationInDays" not in rules["ExpireOldVersions"], "current datasets and models never expire"
    assert properties["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_access_log_bucket_is_retained_too(synthesized_app: SynthesizedApp) -> None:
    buckets = synthesized_app.template(DATA).find_resources("AWS::S3::Bucket")
    assert all(bucket["DeletionPolicy"] == "Retain" for bucket in buckets.values())


def test_stack_is_termination_protected_and_outputs_the_bucket_name(synthesized_app: SynthesizedApp) -> None:
    assert synthesized_app.stacks.data.termination_protection is True
    outputs = synthesized_app.template(DATA).find_outputs("BucketName")
    assert outputs["BucketName"]["Value"] == {"Ref": data_bucket_logical_id(synthesized_app)}


def data_bucket_logical_id(app: SynthesizedApp) -> str:
    buckets = app.template(DATA).find_resources("AWS::S3::Bucket", {"Properties": {"BucketName": Match.any_value()}})
    return next(iter(buckets))


def test_a_configured_bucket_name_is_used_as_given() -> None:
    stack = DataStack(
        cdk.App(context=cdk_json_context()), "Named", config=load_config({"bucketName": "deeplens-team-sorter"}).data
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::S3::Bucket", {"BucketName": "deeplens-team-sorter"})
