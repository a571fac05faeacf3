# Executable docs (issue 25): every example of README.md and docs/**/*.md runs as written.
#   make test-docs            every example of README.md and docs/ run as written: each page in a scratch clone with a throwaway HOME, against one OmniRoute 3.7.9 (DOCS_TEST_PORT), podman laptops and the real OpenCode (rules: tests/docs/README.md; results: .build/docs-report/)
#   make docs-setup           what test-docs needs: the collection, OmniRoute, system packages, the base image, containers.podman, OpenCode
# DOCS_ROOT=<tree> make test-docs runs the examples of another checkout's docs (read only).
DOCS_TEST_PORT ?= 20168
DOCS_PYTEST_ARGS ?=
DOCS_OMNIROUTE := OMNIROUTE_PORT=$(DOCS_TEST_PORT) OMNIROUTE_STATE=$(CURDIR)/.build/omniroute-$(DOCS_TEST_PORT) \
  tests/setup/omniroute.sh

.PHONY: test-docs docs-setup
docs-setup: collection
	tests/setup/system.sh
	tests/setup/base-image.sh >/dev/null
	PYTHON=$(BIN)/python tests/setup/podman-collection.sh >/dev/null
	tests/setup/opencode.sh >/dev/null
	tests/setup/omniroute.sh install >/dev/null

# The suite starts OmniRoute itself (once); it is stopped here too, whatever the outcome. The
# podman laptops run with HOME in the clone and under the laptop lock, like the other podman suites.
test-docs: docs-setup
	@mkdir -p $(SUITE_HOME); rc=0; \
	  HOME=$(SUITE_HOME) DOCS_TEST_PORT=$(DOCS_TEST_PORT) flock $(OMNIROUTE_OPENCODE_CACHE)/laptops.lock \
	  $(BIN)/python -m pytest tests/docs -p no:cacheprovider -q -rfE $(DOCS_PYTEST_ARGS) || rc=$$?; \
	  $(DOCS_OMNIROUTE) stop; exit $$rc
