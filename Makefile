# omniroute.opencode — developer entry points.
#   make configure   configure OpenCode for the current user (seed's local defaults;
#                    OMNIROUTE_BASE_URL / OMNIROUTE_API_KEY / OMNIROUTE_KEY_STORE override)
#   make test        every test (what CI runs through .ci/run)
#   make bench       benchmarks (figures go to docs/performance.md)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
# Heavy, re-usable downloads (OpenCode CLI, OmniRoute server, base image tarball) live here.
export OMNIROUTE_OPENCODE_CACHE ?= $(HOME)/.cache/omniroute-opencode
# The collection is made visible to Ansible as omniroute.opencode through this path.
COLLECTIONS_DIR := $(CURDIR)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_DIR)
export PATH := $(BIN):$(PATH)
# Podman's settings come from the project, never from /etc/containers (see tests/setup/containers.conf).
export CONTAINERS_CONF := $(CURDIR)/tests/setup/containers.conf

include mk/*.mk

.PHONY: help configure test
help:
	@grep -E '^#   make|^#      ' Makefile | sed 's/^#   //'

# Extra arguments for ansible-playbook: make configure ARGS='-e opencode_key_store=auth --diff'
configure: collection
	$(BIN)/ansible-playbook -i localhost, omniroute.opencode.configure $(ARGS)

# Fast, local checks first; then the real parts (OpenCode CLI, podman laptops, OmniRoute).
test: test-unit test-integration test-sanity test-lint test-role-docs test-opencode test-opencode-users \
      test-molecule test-omniroute test-bench-smoke
	@echo "make test: every suite passed"
