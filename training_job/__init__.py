"""The code that runs inside SageMaker's MXNet 1.9 container: prepare, train, evaluate, export.

This package and sorter_common are all the pipeline ships (stacks/training_pipeline/source_bundle.py),
so it keeps Python 3.8 syntax and imports only what the image has. The Train step runs train.py
(script mode); the Prepare and Evaluate steps run `python -m training_job <command>` through
pipeline_entry.py. On a laptop the same commands are `python -m training <command>`.
"""
