#!/usr/bin/env bash
# Fail when a Molecule log shows any test key (every key in the scenario starts with sk-moltest-),
# including in the check-mode and diff output of the fleet run.
set -euo pipefail
log=${1:?usage: molecule_no_keys.sh LOG}
[ -s "$log" ] || { echo "molecule_no_keys.sh: $log is empty" >&2; exit 1; }
if grep -q 'sk-moltest-' "$log"; then
  echo "molecule_no_keys.sh: API keys appear in $log on lines $(grep -n 'sk-moltest-' "$log" | cut -d: -f1 | head -n 20 | tr '\n' ' ')" >&2
  exit 1
fi
echo "molecule_no_keys.sh: no key in $(wc -l < "$log") lines of $log"
