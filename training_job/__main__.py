"""`python -m training_job <command>`: the commands the pipeline's jobs run in the container."""

import sys

from training_job.cli import main
from training_job.commands import JOB_COMMANDS

sys.exit(main(JOB_COMMANDS, prog="python -m training_job", description="The trash sorter's pipeline jobs."))
