# Key lifecycle against a live OmniRoute server (issue 6).
#   make omniroute-setup      what the api_key tests need: OmniRoute, system packages, the base image, containers.podman
#   make test-omniroute       the api_key tests (module, concurrency, two-laptop lifecycle, two-phase rotation through the role, the offline fake's fidelity to this server) against a scratch OmniRoute on 127.0.0.1
#   make omniroute-start      start a scratch OmniRoute server and print OMNIROUTE_URL / OMNIROUTE_PASSWORD_FILE
#   make omniroute-stop       stop the server omniroute-start started
# test-omniroute installs and starts the server, runs the tests and stops the server whatever their outcome.
# The server for these tests gets its own port and state directory, so it never collides with
# another target's server (tests/setup/omniroute.sh defaults: port 20128, $cache/omniroute-run).
OMNIROUTE_TEST_PORT ?= 20138
OMNIROUTE_TEST_STATE ?= $(CURDIR)/.build/omniroute-server
OMNIROUTE_TEST_STEPS ?= module concurrency lifecycle fidelity rotation
OMNIROUTE_SH := OMNIROUTE_PORT=$(OMNIROUTE_TEST_PORT) OMNIROUTE_STATE=$(OMNIROUTE_TEST_STATE) tests/setup/omniroute.sh

.PHONY: test-omniroute omniroute-setup omniroute-start omniroute-stop
omniroute-setup: collection
	tests/setup/omniroute.sh install >/dev/null
	tests/setup/system.sh
	tests/setup/base-image.sh >/dev/null
	PYTHON=$(BIN)/python tests/setup/podman-collection.sh >/dev/null

omniroute-start: omniroute-setup
	$(OMNIROUTE_SH) start

omniroute-stop:
	$(OMNIROUTE_SH) stop

# The server is stopped whatever the tests' outcome; the target fails if the tests failed.
test-omniroute: omniroute-setup
	@set -o pipefail; rc=0; mkdir -p $(SUITE_HOME); \
	eval "$$($(OMNIROUTE_SH) start)" || exit 1; \
	ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS_DIR):$$(PYTHON=$(BIN)/python tests/setup/podman-collection.sh)" \
	PYTHON=$(BIN)/python OMNIROUTE_URL="$$OMNIROUTE_URL" OMNIROUTE_PASSWORD_FILE="$$OMNIROUTE_PASSWORD_FILE" \
	  HOME=$(SUITE_HOME) tests/integration/targets/api_key/runme.sh $(OMNIROUTE_TEST_STEPS) || rc=$$?; \
	$(OMNIROUTE_SH) stop; \
	exit $$rc
