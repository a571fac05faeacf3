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
