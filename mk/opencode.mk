# Issue 4: prove every config the collection writes against the real OpenCode client.
#   make test-opencode        the corpus, key and managed-layer tests against the real OpenCode CLI; results per case in .build/opencode-report/
#   make test-opencode-users  the same tests through omniroute.opencode.users (the role's path) instead of provider
# OpenCode is npm opencode-ai, its version pinned in tests/setup/versions.env.
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
