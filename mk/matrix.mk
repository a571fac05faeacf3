# Test what is claimed (issue 12): the oldest and newest target Python (3.8, 3.13) and the oldest
# and newest ansible-core (meta/runtime.yml: >=2.16; tested 2.16 and 2.19).
#   make test-target-python   module unit tests and the provider integration target on the oldest and newest target Python (TARGET_PYTHONS)
#   make test-unit-rest       the unit tests test-target-python leaves out (the *_processes tests, root ones too) and the JSONC properties at 200 examples, on 3.11; run as root (make test runs it instead of test-unit and test-unit-root)
#   make test-core-oldest     sanity, unit and integration tests with the oldest ansible-core (CORE_OLDEST, own venv)
# The interpreters come from tests/setup/python.sh (pyenv or PATH).
# The newest ansible-core is the main venv's (requirements-dev.txt), tested by test-sanity,
# test-unit and test-integration (make check; make test runs its target here, on 3.8 and 3.13).
# ansible-core 2.20+ needs a Python 3.12+ controller.
TARGET_PYTHONS ?= 3.8 3.13
# Hypothesis examples per JSONC property in the matrix's tree copies (make test-unit runs 200).
MATRIX_HYPOTHESIS_EXAMPLES ?= 25
CORE_OLDEST ?= 2.16
# Sanity with the oldest ansible-core covers what ships (galaxy.yml's build_ignore leaves these):
# what a user of 2.16 runs and reads. test-sanity checks the whole tree, tests and benchmarks
# too, with the newest ansible-core; their pylint and pep8 a second time, under 2.16, cost about
# 30 s of every make test and prove nothing a 2.16 user runs (issue 22, docs/testing.md).
CORE_OLDEST_SANITY_TARGETS ?= plugins/ roles/ playbooks/ meta/ docs/ changelogs/ README.md galaxy.yml requirements.txt
CORE_OLD_VENV := $(CURDIR)/.build/venv-core-$(CORE_OLDEST)
CORE_OLD_BIN := $(CORE_OLD_VENV)/bin
CORE_OLD_TREE := $(ANSIBLE_TEST_ROOT)/core-oldest/ansible_collections/omniroute/opencode
# Its own tree, so a test-sanity or test-integration started meanwhile cannot pull it away.
TARGET_PY_TREE := $(ANSIBLE_TEST_ROOT)/target-python/ansible_collections/omniroute/opencode
# Which unit test files each run takes has one home, mk/unit-files.sh: the portable ones are all
# but tests/unit/**/test_*_processes.py (the checkout venv's ansible CLI, other uids), which
# test-unit and test-unit-rest run; mk/target-units.sh takes the portable ones for each target
# Python. test-core-oldest leaves out tests/unit/plugins/module_utils as well: plain functions
# that test-target-python runs on 3.8 and 3.13 with the newest ansible-core, and that under 2.16
# ran the same code again (about 30 s of every make test; issue 22, docs/testing.md).
CORE_UNITS = $$($(CURDIR)/mk/unit-files.sh $(1) core)
PROCESS_UNITS = $$($(CURDIR)/mk/unit-files.sh $(1) processes)

.PHONY: test-target-python test-core-oldest test-unit-rest

# The unit tests run in a virtualenv per Python (.build/venv-py<X.Y>, from the project cache), as
# ansible-test units would run them but without its fork of every test (mk/target-units.sh says
# what it keeps); the Python itself is never modified. test-core-oldest still runs them through
# ansible-test units. The integration target prints the Python it ran on, and that must be the one
# asked for.
test-target-python: venv ansible-test-home
	@$(call copy_tree,$(TARGET_PY_TREE))
	@echo $(MATRIX_HYPOTHESIS_EXAMPLES) > $(TARGET_PY_TREE)/tests/unit/hypothesis-examples
	@set -eo pipefail; for v in $(TARGET_PYTHONS); do \
	  py=$$(tests/setup/python.sh $$v); start=$$SECONDS; \
	  UNIT_WORKERS=$(UNIT_WORKERS) mk/target-units.sh $$v $$py $(TARGET_PY_TREE) $(CURDIR)/.build/venv-py$$v $(BIN)/python; \
	  ( cd $(TARGET_PY_TREE) && HOME=$(ANSIBLE_TEST_HOME) $(BIN)/ansible-test integration --color no \
	    --controller origin:python=3.11 --target controller:python=$$v@$$py provider ) \
	    | tee $(TARGET_PY_TREE)/../integration-py$$v.log; \
	  grep -q "target python: $$v\." $(TARGET_PY_TREE)/../integration-py$$v.log || \
	    { echo "provider integration did not run on Python $$v"; exit 1; }; \
	  echo "target Python $$v ($$py): units + provider integration passed in $$((SECONDS - start)) s"; \
	done

# make test runs the portable unit tests only here, on 3.8 and 3.13 (as root, so the needs_root
# ones too, with the main venv's ansible-core), not a third time on the controller's 3.11 as
# make test-unit and test-unit-root do (issue 22, docs/testing.md). test-unit-rest runs on 3.11
# what these runs leave out: the *_processes tests (the checkout's ansible CLI, other uids), and
# the JSONC properties at their full 200 examples (the matrix runs MATRIX_HYPOTHESIS_EXAMPLES).
test-unit-rest: collection
	@[ "$$(id -u)" = 0 ] || { echo "test-unit-rest: some of these tests switch uids; run make test as root (sudo make test)" >&2; exit 1; }
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(UNIT_WORKERS) --dist loadfile \
	  $(call PROCESS_UNITS,$(CURDIR)) tests/unit/plugins/module_utils/test_jsonc.py

$(CORE_OLD_VENV)/.stamp: mk/matrix.mk tests/unit/requirements.txt tests/setup/venv.sh
	PYTHON=$(PYTHON) tests/setup/venv.sh $(CORE_OLD_VENV) 'ansible-core==$(CORE_OLDEST).*' pytest tests/unit/requirements.txt
	touch $@

test-core-oldest: $(CORE_OLD_VENV)/.stamp venv
	$(call copy_tree,$(CORE_OLD_TREE))
	echo $(MATRIX_HYPOTHESIS_EXAMPLES) > $(CORE_OLD_TREE)/tests/unit/hypothesis-examples
	tests/setup/ansible-test-pip.sh $(CORE_OLD_BIN)/python $(ANSIBLE_TEST_HOME) >/dev/null
	tests/setup/system.sh
	$(CORE_OLD_BIN)/ansible --version | awk 'NR == 1' | grep -F '[core $(CORE_OLDEST).'
	$(call ansible_test,$(CORE_OLD_BIN),$(CORE_OLD_TREE)) sanity --python 3.11 --requirements --color no \
	  $(CORE_OLDEST_SANITY_TARGETS)
	$(call ansible_test,$(CORE_OLD_BIN),$(CORE_OLD_TREE)) units --python 3.11 --requirements --color no \
	  $(call CORE_UNITS,$(CORE_OLD_TREE))
	$(call ansible_test,$(CORE_OLD_BIN),$(CORE_OLD_TREE)) integration --python 3.11 --color no provider
