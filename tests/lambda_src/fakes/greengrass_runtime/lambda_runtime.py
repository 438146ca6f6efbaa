"""How the Greengrass V1 core runs a pinned (long-lived) Python function, for the fake core.

The core starts one process per pinned function when the core starts, in the function's
package folder (the deployment package unzipped), with the group's environment variables and
its own. The runtime imports the handler's module once, so code at module level runs (DeepLens
functions start their inference loop there), and then waits for work for the handler; a pinned
function without subscriptions targeting it never gets any. The process lives until the core
stops it (SIGTERM) or it exits by itself, which the core answers by starting it again.
AWS IoT Greengrass V1 Developer Guide, "Lifecycle configuration for Greengrass Lambda functions":
https://docs.aws.amazon.com/greengrass/v1/developerguide/lambda-functions.html#lambda-lifecycle

Usage: python lambda_runtime.py <module.function handler>
"""

import importlib
import os
import signal
import sys
import threading


def main() -> None:
    handler = sys.argv[1]
    module_name, function_name = handler.rsplit(".", 1)
    sys.path.insert(0, os.getcwd())  # the function's package folder
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    module = importlib.import_module(module_name)
    if not callable(getattr(module, function_name, None)):
        raise SystemExit(f"handler {function_name} is not a function of {module_name}")
    print(f"lambda_runtime: imported {handler}; waiting for work", file=sys.stderr, flush=True)
    while not stopped.wait(0.2):
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
