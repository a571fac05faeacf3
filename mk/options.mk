# Every documented option and role variable is set by at least one test (issue 26).
#   make test-options   tests/option_coverage.py: the options of every module's argument spec and
#                       the variables of roles/opencode/meta/argument_specs.yml that no test sets
#                       (what "set" means is in the script's docstring); fails when there is one
.PHONY: test-options
test-options: venv
	$(BIN)/python tests/option_coverage.py
