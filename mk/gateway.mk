# Gateway-aware catalog and verify (issue 9) against a real OmniRoute 3.7.9 and the real OpenCode.
#   make test-gateway         catalog=gateway and verify against a real OmniRoute and the real OpenCode (tests/gateway)
# The tests start the server (tests/support/omniroute.py) on GATEWAY_TEST_PORT, set it up through
# its API and stop it at the end. Field-by-field observations land in .build/gateway-report/fields.json.
GATEWAY_TEST_PORT ?= 20148
GATEWAY_PYTEST_ARGS ?=
.PHONY: test-gateway
test-gateway: collection
	tests/setup/omniroute.sh install >/dev/null
	@OPENCODE_BIN=$$(bash tests/setup/opencode.sh) && export OPENCODE_BIN && \
	  GATEWAY_TEST_PORT=$(GATEWAY_TEST_PORT) \
	  $(BIN)/python -m pytest tests/gateway -p no:cacheprovider -q -rfE $(GATEWAY_PYTEST_ARGS); \
	  rc=$$?; OMNIROUTE_PORT=$(GATEWAY_TEST_PORT) OMNIROUTE_STATE=$(CURDIR)/.build/omniroute-gateway-$(GATEWAY_TEST_PORT) \
	  tests/setup/omniroute.sh stop; exit $$rc
