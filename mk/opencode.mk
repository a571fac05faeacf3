# Issue 4: prove every config the collection writes against the real OpenCode client.
#   make test-opencode    corpus + key tests against the real `opencode` CLI (npm opencode-ai,
#                         version pinned in tests/setup/versions.env); results per corpus case
#                         land in .build/opencode-report/<case>.json
#   make test-opencode-users  the same tests through the per-host module omniroute.opencode.users
#                         (the role's path) instead of omniroute.opencode.provider
OPENCODE_PYTEST_ARGS ?=
# Corpus cases run in parallel (pytest-xdist); each case has its own scratch HOME and database.
OPENCODE_WORKERS ?= 2
.PHONY: test-opencode test-opencode-users
test-opencode-users:
	OPENCODE_TEST_MODULE=users $(MAKE) test-opencode

test-opencode: collection
	@OPENCODE_BIN=$$(bash tests/setup/opencode.sh) && export OPENCODE_BIN && \
	  echo "opencode: $$OPENCODE_BIN ($$($$OPENCODE_BIN --version))" && \
	  $(BIN)/python -m pytest tests/opencode -p no:cacheprovider -q -rfE -n $(OPENCODE_WORKERS) --dist loadgroup $(OPENCODE_PYTEST_ARGS)
