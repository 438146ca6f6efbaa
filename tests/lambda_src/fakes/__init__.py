"""Fakes of what a DeepLens function talks to and cannot exist here, each written from AWS's documentation.

- deeplens_device/: the device's `awscam` and `mo` modules (archived AWS DeepLens Developer Guide,
  https://docs.aws.amazon.com/deeplens/latest/dg/; each module cites its pages).
- greengrass_runtime/: the Greengrass V1 core's Python runtime modules the real greengrasssdk
  imports (greengrass_common, greengrass_ipc_python_sdk) and how the core starts a pinned function
  (https://docs.aws.amazon.com/greengrass/v1/developerguide/lambda-functions.html).
- greengrass_core.py: the core itself (its local IPC, the group's model resource and
  subscriptions) and the cloud behind it.
The greengrasssdk package is never faked: the function runs with the copy its package carries.
"""
