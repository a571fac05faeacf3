# The role omniroute.opencode.opencode (issue 3): docs check, local checks, Molecule on podman.
#   make molecule-setup       what Molecule needs: system packages, the base image, containers.podman, OpenCode
#   make test-molecule        the managed-scope Molecule scenario on podman laptops (MOLECULE_SCENARIOS), then the module executions per host
#   make test-role            the role docs check and the role's fast local checks (no containers)
#   make test-role-docs       check the variable tables in docs/role.md and roles/opencode/README.md against the role's argument_specs
#   make role-docs            regenerate both tables from the argument_specs
# test-molecule ends with tests/role_executions.sh (module executions per host, 1 vs 3 users).
# The role's user-scope scenario is the platform-repo example's (docs/examples/platform-repo,
# make test-platform-repo in mk/dist.mk): the role from the installed tarball, as users get it.
MOLECULE_SCENARIOS ?= managed
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

# The variable tables of docs/role.md and roles/opencode/README.md are generated from
# roles/opencode/meta/argument_specs.yml; either one stale fails.
test-role-docs: venv
	$(BIN)/python tests/role_docs.py --check
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/dist/test_role_docs.py

role-docs: venv
	$(BIN)/python tests/role_docs.py --write
