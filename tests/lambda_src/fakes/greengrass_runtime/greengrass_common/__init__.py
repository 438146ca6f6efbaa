"""Fake of the Greengrass V1 core's Python runtime package greengrasssdk imports (not on PyPI: the core provides it).

Interface: what greengrasssdk 1.6.1 imports from it (greengrass_common.env_vars,
greengrass_common.function_arn_fields), read in the SDK's own source,
https://github.com/aws/aws-greengrass-core-sdk-python (greengrasssdk/Lambda.py, IoTDataPlane.py);
the environment the core gives a function: AWS IoT Greengrass V1 Developer Guide, "Run Lambda
functions on the AWS IoT Greengrass core",
https://docs.aws.amazon.com/greengrass/v1/developerguide/lambda-functions.html
"""
