"""The operator's command line: `python -m training <command>`, run on a laptop with the project's Python.

Dataset tools (sample, upload), the pipeline commands (start, status, approve) and the pretrained
weights command, beside the container's own prepare, train and evaluate (training_job). Nothing
here is shipped to SageMaker; training_job is, and only it is held to the image's Python 3.8.
"""
