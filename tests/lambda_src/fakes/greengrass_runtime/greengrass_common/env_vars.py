"""The environment the Greengrass V1 core gives each Lambda process, as greengrasssdk 1.6.1 reads it.

greengrasssdk imports MY_FUNCTION_ARN, ROUTER_FUNCTION_ARN and SHADOW_FUNCTION_ARN from here and
its IPC client the authorization token; the core sets them as environment variables of the function.
Source of the interface: greengrasssdk 1.6.1 (https://github.com/aws/aws-greengrass-core-sdk-python,
greengrasssdk/Lambda.py) and https://docs.aws.amazon.com/greengrass/v1/developerguide/lambda-functions.html
"""

import os

AUTH_TOKEN = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
MY_FUNCTION_ARN = os.environ.get("MY_FUNCTION_ARN")
SHADOW_FUNCTION_ARN = os.environ.get("SHADOW_FUNCTION_ARN")
ROUTER_FUNCTION_ARN = os.environ.get("ROUTER_FUNCTION_ARN")
