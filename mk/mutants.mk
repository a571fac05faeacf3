# Mutation testing (issue 26). Opt-in: neither make check nor make test runs it.
#   make mutants              the curated safety-net mutants, then mutmut over the module code
#   make mutants-curated      only the curated list (tests/mutants/curated.py): each promised safety net, broken on purpose in a copy of the tree, must be caught by its tier (MUTANTS_TIERS=unit,root,integration)
#   make mutants-tool         mutmut 3.8.1 (own venv in the project cache) over plugins/module_utils and plugins/modules with the unit tier (MUTANTS_GLOBS selects mutant names)
# Long: run it under the shared lock. docs/testing.md has the last score.
_comma := ,
MUTANTS_TIERS ?= $(if $(filter 0,$(shell id -u)),unit$(_comma)root$(_comma)integration,unit$(_comma)integration)
MUTANTS_GLOBS ?=

.PHONY: mutants mutants-curated mutants-tool
mutants: mutants-curated mutants-tool

mutants-curated: collection
	$(BIN)/python tests/mutants/curated.py --tier $(MUTANTS_TIERS)

mutants-tool: venv
	PYTHON=$(PYTHON) tests/mutants/mutmut.sh $(MUTANTS_GLOBS)
