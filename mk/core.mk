# Core targets: virtualenv, collection link, unit tests, sanity, lint, integration.
VENV_STAMP := $(VENV)/.stamp
$(VENV_STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

.PHONY: venv collection
venv: $(VENV_STAMP)

# Link the working tree in as ansible_collections/omniroute/opencode.
collection: venv
	mkdir -p $(COLLECTIONS_DIR)/ansible_collections/omniroute
	ln -sfn $(CURDIR) $(COLLECTIONS_DIR)/ansible_collections/omniroute/opencode

# ansible-test wants a real tree at .../ansible_collections/<ns>/<name>, outside this git checkout
# (it lists files with git, and .build/ is ignored here): copy what git knows.
SANITY_TARGETS ?=
TEST_TREE := $(OMNIROUTE_OPENCODE_CACHE)/ansible-test/ansible_collections/omniroute/opencode
.PHONY: test-tree test-unit test-sanity test-integration test-lint test-docs
test-tree: venv
	rm -rf $(TEST_TREE) && mkdir -p $(TEST_TREE)
	git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -C $(TEST_TREE) -xf -

test-unit: collection
	$(BIN)/python -m pytest -q tests/unit

test-sanity: test-tree
	tests/setup/system.sh
	tests/setup/ansible-test-pip.sh $(BIN)/python
	cd $(TEST_TREE) && $(BIN)/ansible-test sanity --python 3.11 --requirements --color no \
	  $(SANITY_TARGETS)

test-integration: test-tree
	cd $(TEST_TREE) && $(BIN)/ansible-test integration --python 3.11 --color no provider

test-lint: collection
	ANSIBLE_VAULT_PASSWORD_FILE=$(CURDIR)/docs/examples/vault-password.example \
	  $(BIN)/ansible-lint --profile production --offline
