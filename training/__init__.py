"""Training for the trash sorter: dataset tools, the SageMaker entry point, evaluation, export.

Run `python -m training --help`. The code that runs inside the SageMaker MXNet 1.9 container
(train.py and what it imports) keeps Python 3.8 syntax: that container ships Python 3.8.
"""
