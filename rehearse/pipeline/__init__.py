"""The training pipeline rehearsed as SageMaker runs it, with no AWS account and no network in the jobs.

`python -m rehearse.pipeline` (`make rehearse-pipeline`): the synthesized TrashSorterTraining
template's pipeline definition is executed step by step in the definition's order. Processing
jobs run their ContainerEntrypoint and ContainerArguments; the Train step runs the image's own
toolkits (PyPI sagemaker-training and sagemaker-mxnet-training) through their `train` entry point;
both in a Python 3.8 environment holding the MXNet 1.9 image's packages. S3 and SageMaker's model
registry are moto in server mode on 127.0.0.1. The one translation: the container's /opt/ml is a
folder per job (SAGEMAKER_BASE_DIR, the toolkit's own switch for running outside SageMaker).
"""
