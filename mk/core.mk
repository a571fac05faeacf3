# Core targets: virtualenv, collection link, unit tests, sanity, lint, integration.
#   make venv                 the project's virtualenv (.venv): requirements.txt (the main job's, ansible-core only), then requirements-dev.txt (the test tools)
#   make venv-run             the main job's part of the virtualenv only (requirements.txt: ansible-core), what make configure needs
#   make collection-link      link the working tree in as omniroute.opencode under .build/collections, with the main job's virtualenv only
#   make collection           link the working tree in as omniroute.opencode under .build/collections
#   make test-tree            copy the git-known files into this clone's ansible-test tree in the project cache
#   make ansible-test-home    plant the stand-in get-pip in ansible-test's HOME (its own download host is unreachable)
#   make test-unit            the unit tests that need no root (tests/unit)
#   make test-unit-root       the unit tests marked needs_root (uid switching, ownership, tmpfs mounts); run as root
#   make test-sanity          ansible-test sanity with the newest ansible-core (SANITY_TARGETS= narrows it)
#   make test-integration     the provider integration target through ansible-test
#   make test-lint            ansible-lint with the production profile
VENV_RUN_STAMP := $(VENV)/.stamp-run
VENV_STAMP := $(VENV)/.stamp
$(VENV_RUN_STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# The whole toolchain (requirements-dev.txt names requirements.txt) comes through the project
# cache (tests/setup/venv.sh): built by pip once, then copied. It replaces a venv-run venv.
$(VENV_STAMP): requirements.txt requirements-dev.txt tests/setup/venv.sh
	PYTHON=$(PYTHON) tests/setup/venv.sh $(VENV) requirements-dev.txt
	touch $(VENV_RUN_STAMP) $@

.PHONY: venv venv-run collection collection-link
venv-run: $(VENV_RUN_STAMP)
venv: $(VENV_STAMP)

# Link the working tree in as ansible_collections/omniroute/opencode. Only when it is missing or
# points elsewhere: `ln -sfn` briefly removes the link, and in make test another lane may be
# loading the collection at that moment.
collection-link: venv-run
	@link=$(COLLECTIONS_DIR)/ansible_collections/omniroute/opencode; \
	  [ "$$(readlink $$link)" = "$(CURDIR)" ] || { mkdir -p $$(dirname $$link) && ln -sfn $(CURDIR) $$link; }

collection: venv collection-link

# ansible-test wants a real tree at .../ansible_collections/<ns>/<name>, outside this git checkout
# (it lists files with git, and .build/ is ignored here): copy what git knows. One tree per clone
# (keyed by its path) and per ansible-core, so clones and versions never share one.
# ansible-test keeps its cache (the pip bootstrap, sanity virtualenvs) under ~/.ansible/test: it
# runs with HOME=$(ANSIBLE_TEST_HOME), so nothing lands in the contributor's home.
SANITY_TARGETS ?=
CLONE_ID := $(shell printf '%s' '$(CURDIR)' | sha1sum | cut -c1-12)
ANSIBLE_TEST_ROOT := $(OMNIROUTE_OPENCODE_CACHE)/ansible-test/$(CLONE_ID)
ANSIBLE_TEST_HOME := $(OMNIROUTE_OPENCODE_CACHE)/ansible-test/home
TEST_TREE := $(ANSIBLE_TEST_ROOT)/core-new/ansible_collections/omniroute/opencode
# ansible-test from venv $1 in tree $2: run as `$(call ansible_test,BIN,TREE) sanity ...`.
ansible_test = cd $(2) && HOME=$(ANSIBLE_TEST_HOME) $(1)/ansible-test
# Copy the git-known files of this clone into tree $1. The virtualenvs ansible-test makes there for
# other Pythons (tests/output/.tmp/delegation) live in the project cache, one set per kind of tree
# (core-new, target-python, core-oldest) shared by every clone, so neither a warm run nor a fresh
# clone rebuilds them. Trees of clones that no longer exist are removed (each tree records its
# clone's path), so fresh CI clones do not pile up in the cache.
ANSIBLE_TEST_VENVS := $(OMNIROUTE_OPENCODE_CACHE)/ansible-test/venvs
copy_tree = venvs=$(ANSIBLE_TEST_VENVS)/$(notdir $(patsubst %/ansible_collections/omniroute/opencode,%,$(1))); \
  for old in $(OMNIROUTE_OPENCODE_CACHE)/ansible-test/*; do \
    case $${old\#\#*/} in ????????????) ;; *) continue ;; esac; \
    case $${old\#\#*/} in *[!0-9a-f]*) continue ;; esac; \
    [ -d "$$old" ] && [ "$$old" != $(ANSIBLE_TEST_ROOT) ] || continue; \
    clone=$$(cat "$$old/clone" 2>/dev/null); \
    if [ -z "$$clone" ] || [ ! -d "$$clone" ]; then rm -rf "$$old"; fi; \
  done; \
  rm -rf $(1) && mkdir -p $(1)/tests/output/.tmp $$venvs && printf '%s\n' '$(CURDIR)' > $(ANSIBLE_TEST_ROOT)/clone && \
  ln -s $$venvs $(1)/tests/output/.tmp/delegation && \
  git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -C $(1) -xf -

.PHONY: test-tree test-unit test-unit-root test-sanity test-integration test-lint ansible-test-home
test-tree: venv
	$(call copy_tree,$(TEST_TREE))

# The stand-in get-pip for ansible-test's sanity/units virtualenvs (its own download host is
# unreachable), planted in the project's ansible-test HOME.
ansible-test-home: venv
	tests/setup/ansible-test-pip.sh $(BIN)/python $(ANSIBLE_TEST_HOME) >/dev/null

# Unit tests that need root (uid switching, ownership, tmpfs mounts) are marked needs_root: the
# fast tier runs the rest, for any contributor; make test runs them too, as root.
# Two workers, one test file each at a time (module-scoped fixtures such as the role-option
# scenarios run once): half the wall time of one process on 2 cores, the same CPU (issue 22).
UNIT_WORKERS ?= 2
test-unit: collection
	$(BIN)/python -m pytest -q -p no:cacheprovider -m 'not needs_root' -n $(UNIT_WORKERS) --dist loadfile tests/unit

test-unit-root: collection
	@[ "$$(id -u)" = 0 ] || { echo "test-unit-root: these tests switch uids and mount file systems; run make test as root (sudo make test)" >&2; exit 1; }
	$(BIN)/python -m pytest -q -p no:cacheprovider -m needs_root tests/unit

test-sanity: test-tree ansible-test-home
	tests/setup/system.sh
	$(call ansible_test,$(BIN),$(TEST_TREE)) sanity --python 3.11 --requirements --color no \
	  $(SANITY_TARGETS)

test-integration: test-tree
	$(call ansible_test,$(BIN),$(TEST_TREE)) integration --python 3.11 --color no provider

test-lint: collection
	ANSIBLE_VAULT_PASSWORD_FILE=$(CURDIR)/docs/examples/vault-password.example \
	  $(BIN)/ansible-lint --profile production --offline
