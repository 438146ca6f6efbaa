#!/usr/bin/env python3
"""The CDK app: reads the config and builds the stacks. No resource is defined here."""

import os
import sys

import aws_cdk as cdk

from stacks.app_builder import build_stacks
from stacks.config import ConfigError, load_config
from stacks.constructs.deeplens_bundle import BundleError

app = cdk.App()
try:
    config = load_config(app.node.get_all_context())
except ConfigError as error:
    # One line naming the key, the value and what is allowed; no traceback to dig through.
    print(f"config error: {error}", file=sys.stderr)
    sys.exit(1)

# The account comes from the caller's credentials when there are any; without them the stacks
# are account-agnostic, which is all `cdk synth` needs. The region is always the config's.
try:
    build_stacks(app, config, account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
except BundleError as error:
    # A package the DeepLens function must carry is missing: say what to install, no traceback.
    print(f"bundle error: {error}", file=sys.stderr)
    sys.exit(1)
app.synth()
