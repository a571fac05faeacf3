#!/usr/bin/env bash
# The one home of which unit test files each run takes (issue 22's split of tests/unit):
#   unit-files.sh TREE KIND      prints the files, relative to TREE, sorted, one a line
# KIND:
#   processes  tests/unit/**/test_*_processes.py: they start the checkout venv's ansible CLI
#              and run code as other uids (make test-unit, test-unit-rest)
#   portable   every other test file (make test-target-python, on a Python that can be a
#              controller)
#   target     the portable files of plugins/modules and plugins/module_utils: the code that
#              runs on a target (test-target-python, on a Python that cannot be a controller)
#   core       the portable files but plugins/module_utils' (test-core-oldest): those test plain
#              functions that use nothing of ansible-core but _files.py's to_bytes/to_native,
#              which the module tests run on the oldest ansible-core too
set -euo pipefail
[ "$#" = 2 ] || { echo "usage: unit-files.sh TREE processes|portable|target|core" >&2; exit 2; }
cd "$1"
case $2 in
  processes) find tests/unit -name 'test_*_processes.py' ;;
  portable) find tests/unit -name 'test_*.py' ! -name 'test_*_processes.py' ;;
  target) find tests/unit/plugins/modules tests/unit/plugins/module_utils -name 'test_*.py' \
            ! -name 'test_*_processes.py' ;;
  core) find tests/unit -name 'test_*.py' ! -name 'test_*_processes.py' \
          ! -path 'tests/unit/plugins/module_utils/*' ;;
  *) echo "unit-files.sh: unknown kind $2" >&2; exit 2 ;;
esac | LC_ALL=C sort
