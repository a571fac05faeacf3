"""tests/mutants/recheck.py puts a mutant where mutmut put it: in the function its name gives,
with the hunk `mutmut show` prints (the code dedented, a docstring's continuation lines not)."""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'mutants'))

import curated  # noqa: E402  pylint: disable=wrong-import-position
import recheck  # noqa: E402  pylint: disable=wrong-import-position

SOURCE = '''class Doc:
    def first(self):
        return 1

    def shadowed(self, key):
        """Whether ``key`` is shadowed:
        a later member of the same name wins."""
        if key:
            return True
        return False
'''


def test_the_function_and_depth_are_found():
    name = 'pkg.mod.x\u01c1Doc\u01c1shadowed__mutmut_3'
    assert recheck.function(name) == ('Doc', 'shadowed')
    assert recheck.function('pkg.mod.x_plain__mutmut_12') == (None, 'plain')
    mutated = recheck.apply(SOURCE, ('Doc', 'shadowed'), ['if key:', '    return True'], ['if not key:', '    return True'])
    assert mutated == SOURCE.replace('        if key:', '        if not key:')


def test_a_hunk_holding_docstring_lines_applies_and_keeps_them():
    removed = ['def shadowed(self, key):', '    """Whether ``key`` is shadowed:',
               '        a later member of the same name wins."""', '    if key:']
    added = removed[:3] + ['    if None:']
    mutated = recheck.apply(SOURCE, ('Doc', 'shadowed'), removed, added)
    assert mutated == SOURCE.replace('        if key:', '        if None:')


def test_a_hunk_that_is_not_there_is_not_applied():
    assert recheck.apply(SOURCE, ('Doc', 'shadowed'), ['if key is None:'], ['if key:']) is None
    assert recheck.apply(SOURCE, ('Doc', 'missing'), ['if key:'], ['if None:']) is None


def test_every_curated_mutant_still_applies_to_the_code_it_breaks():
    """tests/mutants/curated.py finds each mutant's snippet exactly once in its file (make
    mutants-curated reports one that does not as NOT APPLIED, proving nothing): code that moves
    must take its curated mutant along."""
    import curated  # noqa: E402  pylint: disable=import-outside-toplevel
    stale = []
    for mutant in curated.MUTANTS:
        with open(os.path.join(curated.ROOT, mutant['file'])) as handle:
            count = handle.read().count(mutant['old'])
        if count != 1:
            stale.append('%s: found %d times in %s' % (mutant['id'], count, mutant['file']))
    assert not stale, stale


def test_the_root_tier_runs_the_needs_root_tests_only_when_asked():
    tests = ['tests/unit/plugins/modules/test_users_shared_processes.py']
    assert recheck.pytest_command(tests)[-3:] == ['-m', 'not needs_root'] + tests
    assert recheck.pytest_command(tests, root=True)[-2:] == ['no:cacheprovider'] + tests


def test_the_command_line_and_its_timeout():
    tests = ['tests/unit/plugins/modules/test_api_key_lifecycle.py']
    assert recheck.options(['names.txt'] + tests) == (False, 600, 'names.txt', tests)
    assert recheck.options(['--root', '--timeout', '60', 'names.txt'] + tests) == (True, 60, 'names.txt', tests)
    for bad in (['--timeout', '0', 'names.txt'] + tests, ['--timeout', 'soon', 'names.txt'] + tests, ['names.txt']):
        with pytest.raises(SystemExit):
            recheck.options(bad)


def test_a_run_past_its_timeout_is_stopped_with_what_it_started(tmp_path, monkeypatch):
    # A hung test run (a mutant that never frees a lock) and a process it started: both are gone
    # when run() returns 'timeout', and well before the run would have ended by itself.
    monkeypatch.setattr(curated, 'COPY', str(tmp_path))
    pid_file = tmp_path / 'child.pid'
    script = 'sleep 300 & echo $! > %s; wait' % pid_file
    started = time.monotonic()
    assert curated.run(['bash', '-c', script], str(tmp_path / 'log'), 2) == 'timeout'
    assert time.monotonic() - started < 60
    child = int(pid_file.read_text())
    for dummy in range(50):
        if not alive(child):
            break
        time.sleep(0.1)
    else:
        raise AssertionError('the process the timed-out run started (pid %d) is still running' % child)
    assert curated.run(['true'], str(tmp_path / 'log'), 5) == 0


def alive(pid):
    """Whether ``pid`` runs (a killed process its parent has not reaped yet, a zombie, does not)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False
