#!/usr/bin/env bash
# make mutants-tool: mutmut (pinned, in its own venv in the project cache) over plugins/module_utils
# and plugins/modules, with the unit tier: the in-process unit tests (tests/unit without the
# needs_root tests and without tests/unit/**/test_*_processes.py, which start the ansible CLI).
#
#   mutmut.sh [GLOB...]      mutant names to run (default: all), e.g.
#                            'ansible_collections.omniroute.opencode.plugins.module_utils._files*'
#
# The tree mutmut works on is a copy of this checkout laid out as ansible_collections/omniroute/
# opencode, so that the module names mutmut derives from file paths are the ones the tests import.
# It lives in $OMNIROUTE_OPENCODE_CACHE/mutants/<clone id>/ and is kept between runs: mutmut
# resumes, and re-tests only the functions that changed (MUTANTS_FRESH=1 starts over). Prints every
# mutant with its status (killed, survived, no tests, timeout...), then the score per file and in
# total; the full list is kept in .build/mutants/mutmut-results.txt. Long (an hour or more on two
# cores): run it under the shared lock, in chunks of GLOBs if needed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${OMNIROUTE_OPENCODE_CACHE:?set by the Makefile}
version=3.8.1
venv=$cache/mutmut-$version-venv
work=$cache/mutants/$(printf '%s' "$root" | sha1sum | cut -c1-12)
tree=$work/tree
coll=ansible_collections/omniroute/opencode
python=${PYTHON:-python3}
log() { echo "mutmut.sh: $*" >&2; }

# mutmut's venv: mutmut itself and what the unit tests import, at the versions requirements-dev.txt pins.
want="mutmut==$version $(grep -E '^(ansible-core|pytest|hypothesis|json5)[=<>~]' "$root/requirements-dev.txt" | awk '{print $1}' | tr '\n' ' ')"
if [ "$(cat "$venv/.wanted" 2>/dev/null || true)" != "$want" ]; then
  log "virtualenv $venv: $want"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $want
  echo "$want" > "$venv/.wanted"
fi

# The tree: this checkout's files (git ls-files, the working tree's changes included).
[ "${MUTANTS_FRESH:-0}" = 1 ] && rm -rf "$work"
mkdir -p "$tree/$coll"
(cd "$root" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$tree/$coll" -xf -
cat > "$tree/pyproject.toml" <<EOF
[tool.mutmut]
source_paths = ["$coll/plugins/module_utils", "$coll/plugins/modules"]
also_copy = ["$coll/tests", "$coll/plugins/filter", "$coll/plugins/doc_fragments", "$coll/meta", "$coll/galaxy.yml", "$coll/README.md", "$coll/Makefile", "$coll/mk", "$coll/requirements.txt", "$coll/requirements-dev.txt"]
pytest_add_cli_args_test_selection = ["$coll/tests/unit"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-m", "not needs_root", "--ignore-glob=*_processes.py"]
timeout_multiplier = 10.0
EOF
# The unit tests' Hypothesis properties run 25 examples per mutant (200 in make test-unit).
echo 25 > "$tree/$coll/tests/unit/hypothesis-examples"

cd "$tree"
export ANSIBLE_COLLECTIONS_PATH=$tree/mutants/$coll/.build/collections
export PATH=$venv/bin:$PATH
t0=$SECONDS
set +e
"$venv/bin/mutmut" run "$@" >"$work/run.log" 2>&1
rc=$?
set -e
tail -n 5 "$work/run.log" | tr '\r' '\n' | tail -n 3 >&2
[ "$rc" = 0 ] || { log "mutmut run failed (exit $rc); see $work/run.log"; exit "$rc"; }
log "mutmut run took $((SECONDS - t0)) s"

mkdir -p "$root/.build/mutants"
"$venv/bin/mutmut" results --all true | sed 's/^ *//' > "$root/.build/mutants/mutmut-results.txt"
cat "$root/.build/mutants/mutmut-results.txt"
"$python" - "$root/.build/mutants/mutmut-results.txt" <<'PY'
import collections, sys
per = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1]):
    name, _, status = line.strip().rpartition(': ')
    if not name:
        continue
    module = name.split('.x')[0].split('.xǁ')[0]
    module = module[len('ansible_collections.omniroute.opencode.'):] if module.startswith('ansible_collections.') else module
    per[module.rsplit('.', 0)[0]][status] += 1
def score(c):
    tested = sum(c.values()) - c['no tests'] - c['skipped'] - c['not checked']
    return c['killed'] + c['timeout'], tested
total = collections.Counter()
print('\nmutation score (killed or timed out / mutants checked and reached by the tests; "no tests": reached by no unit test; "not checked": not run yet)')
for module in sorted(per):
    c = per[module]
    total.update(c)
    k, t = score(c)
    print('  %-48s %5d / %-5d %5.1f %%   %s' % (module, k, t, 100.0 * k / t if t else 0,
                                               ', '.join('%s %d' % kv for kv in sorted(c.items()))))
for label, prefix in (('plugins/module_utils', 'plugins.module_utils.'), ('plugins/modules', 'plugins.modules.')):
    c = collections.Counter()
    for module in per:
        if module.startswith(prefix):
            c.update(per[module])
    k, t = score(c)
    print('  %-48s %5d / %-5d %5.1f %%   (%d mutants in all)' % (label, k, t, 100.0 * k / t if t else 0, sum(c.values())))
PY
