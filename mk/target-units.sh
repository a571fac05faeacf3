#!/usr/bin/env bash
# The portable unit tests on one target Python, for make test-target-python:
#   target-units.sh VERSION INTERPRETER TREE VENV MAIN_PYTHON
# TREE is the ansible-test tree copy (.../ansible_collections/omniroute/opencode, with its
# hypothesis-examples), VENV the virtualenv to make for INTERPRETER, MAIN_PYTHON the main venv's
# python, whose ansible-core and ansible-test are used.
#
# What `ansible-test units --python VERSION` does, without its fork of every test (its
# ansible_forked plugin): measured on Python 3.8, the same 1747 tests took 95 machine CPU seconds
# through ansible-test and 61 here (issue 22, docs/testing.md). As ansible-test does:
# - the virtualenv holds ansible-test's own unit requirements (units.txt) and
#   tests/unit/requirements.txt, plus ansible-core's requirements (ansible.txt) where the
#   Python can run the controller;
# - the main venv's ansible package is the only thing added to the path (a directory holding a
#   symlink to it), so the tests run the same ansible-core on every Python;
# - the tests of plugins/modules and plugins/module_utils run on every target Python, the other
#   (controller) tests only on a Python that ansible-core supports as a controller;
# - pytest reads ansible-test's pytest configuration, with --strict-markers.
# The test files run in one pytest session on UNIT_WORKERS workers, a file per worker at a time.
# An xdist worker has a thread of its own (execnet's), so from Python 3.12 every os.fork() in a
# test (the users module's children, the tests' own forks) warns that the process is
# multi-threaded: with -n 0 the same tests give no warning. ansible-test's fork of each test
# hides it the same way. Only that warning is ignored.
set -euo pipefail
[ "$#" = 5 ] || { echo "usage: target-units.sh VERSION INTERPRETER TREE VENV MAIN_PYTHON" >&2; exit 2; }
version=$1 py=$2 tree=$3 venv=$4 main=$5
here=$(cd "$(dirname "$0")/.." && pwd)

read -r data ansible_lib controller < <("$main" - "$py" <<'PY'
import os
import subprocess
import sys
from importlib.metadata import metadata

import ansible
import ansible_test
from packaging.specifiers import SpecifierSet

target = subprocess.run([sys.argv[1], '-c', 'import platform; print(platform.python_version())'],
                        check=True, capture_output=True, text=True).stdout.strip()
controller = target in SpecifierSet(metadata('ansible-core')['Requires-Python'])
print(os.path.join(os.path.dirname(ansible_test.__file__), '_data'), os.path.dirname(ansible.__file__),
      int(controller))
PY
) || true
# (A failure inside <(...) does not stop the script: what it printed is checked instead.)
if [ ! -d "${data:-}" ] || [ ! -d "${ansible_lib:-}" ] || [ -z "${controller:-}" ]; then
  echo "target-units.sh: $main did not find ansible-test and ansible-core" >&2
  exit 1
fi

reqs=("$data/requirements/units.txt" "$tree/tests/unit/requirements.txt")
[ "$controller" = 1 ] && reqs+=("$data/requirements/ansible.txt")
PYTHON=$py "$here/tests/setup/venv.sh" "$venv" "${reqs[@]}"
"$venv/bin/python" -c 'import sys; assert "%d.%d" % sys.version_info[:2] == sys.argv[1], sys.version' "$version"

only=$venv/ansible-only
mkdir -p "$only"
ln -sfn "$ansible_lib" "$only/ansible"

kind=target
[ "$controller" = 1 ] && kind=portable
mapfile -t files < <("$here/mk/unit-files.sh" "$tree" "$kind")
[ "${#files[@]}" -gt 0 ] || { echo "target-units.sh: no unit test files in $tree" >&2; exit 1; }
cd "$tree"
# (The tree's parent of ansible_collections on the path: the collection as ansible-test shows it.)
PYTHONPATH="$only:$(cd ../../.. && pwd)" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
  -n "${UNIT_WORKERS:-2}" --dist loadfile -c "$data/pytest/config/default.ini" \
  --rootdir "$tree" --confcutdir "$tree" --strict-markers \
  -W 'ignore:This process (pid=:DeprecationWarning' "${files[@]}"
