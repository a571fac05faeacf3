# The role omniroute.opencode.opencode (issue 3): docs check, local checks, Molecule on podman.
#   make molecule-setup       what Molecule needs: system packages, the base image, containers.podman, OpenCode
#   make test-molecule        the Molecule scenarios on podman laptops (MOLECULE_SCENARIOS), then the module executions per host
#   make test-role            the role docs check and the role's fast local checks (no containers)
#   make test-role-docs       check the variable table in docs/role.md against the role's argument_specs
#   make role-docs            regenerate that table from the argument_specs
# test-molecule ends with tests/role_executions.sh (module executions per host, 1 vs 3 users).
MOLECULE_SCENARIOS ?= default managed
MOLECULE_LOG_DIR := $(CURDIR)/.build/molecule

.PHONY: test-molecule molecule-setup test-role test-role-docs role-docs
molecule-setup: collection
	tests/setup/system.sh
	tests/setup/base-image.sh >/dev/null
	PYTHON=$(BIN)/python tests/setup/podman-collection.sh >/dev/null
	tests/setup/opencode.sh >/dev/null

# Each scenario's full log is kept in .build/molecule/<scenario>.log and must not hold any key.
test-molecule: molecule-setup test-role
	mkdir -p $(MOLECULE_LOG_DIR)
	mkdir -p $(SUITE_HOME)
	set -o pipefail; cd roles/opencode && export HOME=$(SUITE_HOME) && \
	export ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS_DIR):$$(PYTHON=$(BIN)/python ../../tests/setup/podman-collection.sh)" \
	       OPENCODE_BIN="$$(../../tests/setup/opencode.sh)"; \
	for s in $(MOLECULE_SCENARIOS); do \
	  start=$$SECONDS; \
	  molecule test -s $$s 2>&1 | tee $(MOLECULE_LOG_DIR)/$$s.log || exit 1; \
	  echo "molecule scenario $$s passed in $$((SECONDS - start)) s"; \
	  ../../tests/molecule_no_keys.sh $(MOLECULE_LOG_DIR)/$$s.log || exit 1; \
	done; \
	../../tests/role_executions.sh

test-role: collection test-role-docs
	roles/opencode/tests/run_local.sh

# docs/role.md's variable table is generated from roles/opencode/meta/argument_specs.yml.
test-role-docs: venv
	$(BIN)/python tests/role_docs.py --check

role-docs: venv
	$(BIN)/python tests/role_docs.py --write
