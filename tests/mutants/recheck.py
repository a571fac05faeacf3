"""Re-check mutmut's survivors against the tests as they are now (issue 26).

  recheck.py [--root] [--timeout SECONDS] NAMES_FILE TEST_FILE...

mutmut re-tests a mutant only when its function changed, not when tests were added; a full
re-run of the functions every test calls takes hours.  This applies each named mutant (one name
a line, as ``mutmut results`` prints them) to a copy of the checkout (.build/mutants/recheck),
the diff taken from ``mutmut show`` in make mutants-tool's tree, runs the given test files
(without the needs_root tests; with ``--root``, as root, those too: the root tier, which make
test runs) and prints killed or SURVIVED.  A mutant killed by these files is killed by the unit
tier (the root tier with ``--root``), which holds them.  A test run that takes longer than
``--timeout`` seconds (default 600) is stopped and counts as killed, as mutmut counts its
timeouts: a mutant that makes a loop endless or a lock never free (``KeyLock``) hangs the tests
without an error, and would otherwise hold the re-check for the whole default.  Run it with the
project's venv (make venv): ``.venv/bin/python tests/mutants/recheck.py .build/mutants/survivors.txt tests/unit/...``.
"""
import argparse
import fcntl
import hashlib
import os
import subprocess
import sys
import time

import curated

ROOT = curated.ROOT
curated.COPY = os.path.join(ROOT, '.build', 'mutants', 'recheck')
CACHE = os.environ.get('OMNIROUTE_OPENCODE_CACHE') or os.path.expanduser('~/.cache/omniroute-opencode')
TREE = os.path.join(CACHE, 'mutants', hashlib.sha1(ROOT.encode()).hexdigest()[:12], 'tree')
MUTMUT = os.path.join(CACHE, 'mutmut-3.8.1-venv', 'bin', 'mutmut')
COLL = 'ansible_collections/omniroute/opencode/'


def mutant(name):
    """``(file, first line of the hunk, the hunk's lines before, and after)`` of mutant ``name``."""
    env = dict(os.environ, PATH=os.path.dirname(MUTMUT) + os.pathsep + os.environ.get('PATH', ''))
    # (A mutmut run in the same tree rewrites its files now and then: `show` is tried again.)
    for attempt in range(3):
        done = subprocess.run([MUTMUT, 'show', name], cwd=TREE, env=env, capture_output=True, text=True,
                              check=attempt == 2)
        if done.returncode == 0:
            break
        time.sleep(5)
    show = done.stdout.splitlines()
    path = [line[4:] for line in show if line.startswith('--- ')][0].split(COLL, 1)[1]
    body = [line for line in show if line[:1] in ('-', '+', ' ') and not line.startswith(('---', '+++'))]
    head = [line[1:] for line in body if line[:1] in (' ', '-')][0]
    # The hunk with its context lines, before and after: a removed line alone (``continue``) may
    # stand more than once in the function.
    return (path, head, [line[1:] for line in body if line[:1] in (' ', '-')],
            [line[1:] for line in body if line[:1] in (' ', '+')])


def function(name):
    """The function a mutant name stands for: ``pkg.mod.x_fn__mutmut_3`` is ``fn``,
    ``pkg.mod.xǁClassǁmethod__mutmut_3`` is ``Class``'s ``method``: ``('Class', 'method')``."""
    last = name.rsplit('.', 1)[-1].rsplit('__mutmut_', 1)[0]
    if last.startswith('x\u01c1'):
        cls, method = last[2:].split('\u01c1', 1)
        return cls, method
    return None, last[2:]


def apply(text, function_name, removed, added):
    """``text`` with the mutant applied: the hunk's lines ``removed`` (its context and the lines
    the mutant removes) replaced by ``added`` (its context and the lines it adds). The diff is
    shown dedented: each indentation is tried, searching from the function's ``def``
    (``function_name``: ``(class or None, name)``, from the mutant's name: the diff's first
    line is the def only for short functions). None when it does not apply."""
    lines = text.split('\n')
    cls, name = function_name
    start = 0
    if cls:
        classes = [i for i, line in enumerate(lines) if line.startswith('class %s(' % cls) or line.startswith('class %s:' % cls)]
        start = classes[0] if classes else 0
    starts = [i for i, line in enumerate(lines) if i >= start and line.strip().startswith('def %s(' % name)]
    if not starts:
        return None
    # (The hunk may begin with the comment lines above the def.)
    before_def = [i for i, line in enumerate(removed) if line.strip().startswith('def %s(' % name)]
    start = max(0, starts[0] - (before_def[0] if before_def else 0))
    # The first place after the def where the lines stand, at whatever depth (a line in a loop
    # is deeper than one at the function's top: trying one depth through the whole file first
    # would mutate a later function's line of the same text).
    # `mutmut show` dedents the code but not a docstring's continuation lines: a hunk line stands in
    # the file either at the code's depth or as it is (then an added line equal to it stays as it is).
    for i in range(start, len(lines)):
        for depth in range(0, 7):
            indent = '    ' * depth
            found = lines[i:i + len(removed)]
            if len(found) < len(removed):
                break
            as_is = set()
            for have, line in zip(found, removed):
                if have == (indent + line if line else line):
                    continue
                if have != line:
                    break
                as_is.add(line)
            else:
                lines[i:i + len(removed)] = [line if (line in as_is or not line) else indent + line for line in added]
                return '\n'.join(lines)
    return None


def pytest_command(tests, root=False):
    """The test run for one mutant: stop at the first failure; the needs_root tests only with ``root``."""
    return ([curated.PYTHON, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider']
            + ([] if root else ['-m', 'not needs_root']) + list(tests))


def options(args):
    """``(root, timeout, names_file, test_files)`` from the command line (the usage above)."""
    parser = argparse.ArgumentParser(prog='recheck.py', description=__doc__.splitlines()[0])
    parser.add_argument('--root', action='store_true', help='run the needs_root tests too (as root)')
    parser.add_argument('--timeout', type=int, default=600, metavar='SECONDS',
                        help='stop a test run after this long and count the mutant as killed (default 600)')
    parser.add_argument('names', metavar='NAMES_FILE')
    parser.add_argument('tests', metavar='TEST_FILE', nargs='+')
    parsed = parser.parse_args(args)
    if parsed.timeout <= 0:
        parser.error('--timeout must be a positive number of seconds')
    return parsed.root, parsed.timeout, parsed.names, parsed.tests


def main(argv=None):
    root, timeout, names, tests = options(list(sys.argv[1:] if argv is None else argv))
    if root and os.geteuid() != 0:
        sys.exit('recheck: --root runs the needs_root tests too, which switch uids: run it as root')
    # One re-check at a time: two would apply their mutants to the same copy.
    os.makedirs(os.path.dirname(curated.COPY), exist_ok=True)
    lock = open(curated.COPY + '.lock', 'w')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit('recheck: another re-check is running (%s.lock); run one at a time' % curated.COPY)
    curated.copy_tree()
    log = os.path.join(ROOT, '.build', 'mutants', 'recheck.log')
    survived = 0
    with open(names) as handle:
        chosen = [line.split(':')[0].split()[0] for line in handle if line.strip()]
    for name in chosen:
        path, _head, removed, added = mutant(name)
        path = os.path.join(curated.COPY, path)
        with open(path) as handle:
            original = handle.read()
        mutated = apply(original, function(name), removed, added)
        if mutated is None:
            print('%-100s NOT APPLIED' % name, flush=True)
            survived += 1
            continue
        with open(path, 'w') as handle:
            handle.write(mutated)
        try:
            rc = curated.run(pytest_command(tests, root), log, timeout)
        finally:
            with open(path, 'w') as handle:
                handle.write(original)
        survived += rc == 0
        if rc == 0:
            verdict = 'SURVIVED'
        elif rc == 'timeout':
            verdict = 'killed (timeout after %d s)' % timeout
        else:
            verdict = 'killed'
        print('%-100s %s' % (name, verdict), flush=True)
    print('recheck: %d of %d killed' % (len(chosen) - survived, len(chosen)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
