# omniroute.opencode — developer entry points. Every target is documented in one line
# `#   make <target>  <what it does>`, here or in its mk/*.mk file; `make help` lists those lines.
#   make help                 list every target with what it does (these lines, from Makefile and mk/*.mk)
#   make configure            configure OpenCode for the current user with OmniRoute's local defaults (OMNIROUTE_BASE_URL, OMNIROUTE_API_KEY, OMNIROUTE_KEY_STORE override; ARGS= adds ansible-playbook options)
#   make check                the fast tier, the inner loop (<= 3 min warm; no root, npm or containers): unit, plan, integration, lint, role docs, tooling
#   make test                 every suite, as CI runs it (.ci/run), with a time per suite; fails if the run changed anything outside the clone and the project cache
#   make test-setup           install what both lanes of make test use (system packages, OpenCode, OmniRoute) before they start
#   make test-hygiene         make check inside the clean-up check that always wraps make test (tests/setup/hygiene.sh)
#   make test-plan            plan every corpus case present, present, absent through module_utils (no OpenCode)
#   make test-tooling         tests of the project's own tooling: make help, the clean-up check, unique test file names
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
# Nothing outside the clone and the project cache changes (issue 12; `make test-hygiene` checks):
# Podman's settings come from the project, never from /etc/containers (see tests/setup/containers.conf),
# and its images and containers live in the project cache (storage.conf written by tests/setup/system.sh).
export CONTAINERS_CONF := $(CURDIR)/tests/setup/containers.conf
export CONTAINERS_STORAGE_CONF := $(OMNIROUTE_OPENCODE_CACHE)/podman/storage.conf
# Ansible's own state (~/.ansible: tmp, galaxy cache) stays in the clone.
export ANSIBLE_HOME := $(CURDIR)/.build/ansible-home
# ... and so do async job files (default ~/.ansible_async) and the temporary directories of tasks
# run on this machine (default ~/.ansible/tmp, which Ansible expands as ~root whatever HOME says).
# On a container the same absolute path is created inside the container.
export ANSIBLE_ASYNC_DIR := $(CURDIR)/.build/ansible-async
export ANSIBLE_REMOTE_TMP := $(CURDIR)/.build/ansible-remote-tmp
# The podman suites (Molecule, the OmniRoute laptops, the EE, pull mode) run with this HOME:
# Molecule's podman driver puts its async files in $HOME/.ansible_async whatever ANSIBLE_ASYNC_DIR says.
SUITE_HOME := $(CURDIR)/.build/home
# pip, npm, Molecule and ansible-compat caches go to the project cache, not ~/.cache or ~/.npm.
export XDG_CACHE_HOME := $(OMNIROUTE_OPENCODE_CACHE)/xdg-cache
export PIP_CACHE_DIR := $(OMNIROUTE_OPENCODE_CACHE)/xdg-cache/pip
export npm_config_cache := $(OMNIROUTE_OPENCODE_CACHE)/npm-cache

include mk/*.mk

.PHONY: help configure test
# Target names are padded to one column; a description is never wrapped.
help:
	@echo 'Targets (make <target>):'
	@awk '/^#   make [a-z]/ { target = $$3; sub(/^#   make [^ ]+ */, ""); printf "  make %-22s %s\n", target, $$0 }' Makefile mk/*.mk

# Extra arguments for ansible-playbook: make configure ARGS='-e opencode_key_store=auth --diff'
# The main job needs the main job's packages only (requirements.txt), not the test toolchain.
configure: collection-link
	$(BIN)/ansible-playbook -i localhost, omniroute.opencode.configure $(ARGS)

# The fast tier: no root, no npm, no containers; what a contributor runs after every change.
CHECK_SUITES := test-unit test-plan test-integration test-lint test-role-docs test-options test-tooling
# Everything CI runs: the fast tier, then sanity, the claimed Pythons and ansible-cores, and the
# real parts (OpenCode CLI, podman laptops, OmniRoute, the benchmark harness).
# (test-opencode also runs every corpus step through the users module and compares the files
# byte for byte, so the separate test-opencode-users pass is opt-in.)
# Two lanes run side by side (mk/suites.sh): the suites below on the console, and the podman
# suites and the docs (each with its own laptops, ports and state) with their output in
# .build/suites/. The OpenCode corpus keeps both cores busy on its own, so it comes last in lane A.
# test-galaxy and test-installed run inside test-release (its one whole release checks its tarball
# with both), so make test does not run them a second time on their own (docs/testing.md).
# test-integration (the fast tier's `provider` target on Python 3.11) is not run again by make test:
# test-target-python runs the same target with the same ansible-core on the oldest and newest
# target Pythons, 3.8 and 3.13 (and test-core-oldest on 3.11 with ansible-core 2.16).
# test-unit and test-unit-root are not run by make test either: test-target-python runs the same
# portable unit tests (as root, with the same ansible-core) on 3.8 and 3.13, and test-unit-rest
# the rest of tests/unit on 3.11 (mk/matrix.mk).
# SUITES_LANES=1 make test runs them one after another.
# test-gateway (its own OmniRoute port, no laptops) runs in lane A, before the corpus: lane B, the
# podman suites and the docs, is the longer lane.
TEST_SUITES := test-unit-rest $(filter-out test-unit test-integration,$(CHECK_SUITES)) test-sanity test-target-python test-core-oldest \
               test-release test-gateway test-opencode test-bench-smoke
TEST_CONTAINER_SUITES := test-molecule test-platform-repo test-omniroute test-ee test-pull test-docs

.PHONY: check test-setup test-plan test-hygiene test-tooling
# Two lanes here too (issue 26: make check within 3 minutes): the unit tests on their two xdist
# workers, and beside them the single-process suites, with their output in .build/suites/ (a failing
# one prints the end of its log). The unit tests leave a core idle for about a third of their time
# (their process fixtures), which the other lane fills. SUITES_LANES=1 make check runs them one
# after another, each on the console.
CHECK_LANE_B := $(filter-out test-unit,$(CHECK_SUITES))
check: collection
	@MAKE="$(MAKE)" mk/suites.sh check test-unit -- $(CHECK_LANE_B)

# What both lanes use, installed once before they start (so two lanes never install it at once):
# system packages (only when missing, only by root: a legitimate change, so it happens before
# the hygiene snapshot), the OpenCode CLI and the OmniRoute server (npm, into the cache).
test-setup: collection
	tests/setup/system.sh >/dev/null
	tests/setup/opencode.sh >/dev/null
	tests/setup/omniroute.sh install >/dev/null

# Every suite, inside the hygiene check.
test: test-setup
	@MAKE="$(MAKE)" tests/setup/hygiene.sh mk/suites.sh test $(TEST_SUITES) -- $(TEST_CONTAINER_SUITES)

# Every corpus case planned present, present, absent through module_utils (no OpenCode).
test-plan: collection
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/plan

# The suite's own clean-up check (tests/setup/hygiene.sh says what it compares before and after).
# `make test` (what CI runs) is always wrapped in it; test-hygiene does the same for the fast tier.
test-hygiene: collection
	tests/setup/hygiene.sh $(MAKE) --no-print-directory check

# make help, the clean-up check (against a scratch HOME) and the test file names.
test-tooling: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/tooling
