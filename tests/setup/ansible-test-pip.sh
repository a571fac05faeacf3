#!/usr/bin/env bash
# ansible-test bootstraps pip in its sanity venvs with a get-pip.py it downloads from a host
# this network cannot reach. Give it a stand-in that does the same job from the registries we
# have: ensurepip (standard library), then the pinned pip from the package index.
# Usage: ansible-test-pip.sh PYTHON HOME
#   PYTHON  the interpreter that has ansible-test installed
#   HOME    the HOME ansible-test runs with (the Makefile's project-local ANSIBLE_TEST_HOME);
#           the contributor's own ~/.ansible is never written
set -euo pipefail
py=${1:-python3}
home=${2:?usage: ansible-test-pip.sh PYTHON HOME}
version=$("$py" - <<'PY'
import re, ansible_test._internal.python_requirements as m
print(re.search(r"pip='([0-9.]+)'", open(m.__file__).read()).group(1))
PY
)
target="$home/.ansible/test/cache/get_pip_${version//./_}.py"
mkdir -p "$(dirname "$target")"
cat > "$target" <<'PY'
"""Stand-in for get-pip.py: ensurepip, then pip installs what ansible-test asked for."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check'] + args)
PY
echo "$target"
