# Every documented option and role variable is set by at least one test (issue 26).
#   make test-options         every module option and role variable set by at least one test (tests/option_coverage.py; what "set" means is in its docstring)
.PHONY: test-options
test-options: venv
	$(BIN)/python tests/option_coverage.py
