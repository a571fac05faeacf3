"""The curated safety-net mutants (issue 26): each is a bug that once survived every test, put back
into a copy of the tree and run with the tier that must kill it.

  curated.py [--tier unit,root,integration] [--list] [ID...]

Each mutant replaces one exact snippet of one file (it must occur exactly once; when the code has
moved on and it does not, the mutant is reported NOT APPLIED and the run fails: update the list).
The copy lives in .build/mutants/curated (git ls-files of this checkout, the working tree's
changes included), so the checkout itself is never modified. Prints one line per mutant
(killed / SURVIVED) and exits 1 unless every selected mutant was killed.

Tiers: ``unit`` runs the named pytest files of tests/unit without the needs_root ones (make
check's unit tests); ``root`` the needs_root ones (make test-unit-root, root only);
``integration`` a make target of the live suites (make test-omniroute's concurrency step).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COPY = os.path.join(ROOT, '.build', 'mutants', 'curated')
PYTHON = os.environ.get('PYTHON') or sys.executable
SAFETY = 'tests/unit/plugins/modules/test_safety_nets.py'
KEYS = 'tests/unit/plugins/modules/test_api_key_offline.py'
ROLE = 'tests/unit/roles/test_role_options_processes.py'

MUTANTS = [
    dict(id='write-in-place',
         what='the atomic write rewrites the target in place (truncate, write) instead of renaming',
         file='plugins/module_utils/_files.py', tier='unit', tests=[SAFETY],
         old="            os.rename(tmp, real_path)\n",
         new="            with open(real_path, 'wb') as handle:\n"
             "                handle.write(data)\n"
             "            os.unlink(tmp)\n"),
    dict(id='users-backup-ignored', what='the users module ignores backup',
         file='plugins/modules/users.py', tier='unit', tests=[SAFETY],
         old="               backup=params['backup'], path=user.entry.get('config_path'),",
         new="               backup=False, path=user.entry.get('config_path'),"),
    dict(id='role-backup-ignored', what='the role ignores opencode_backup',
         file='roles/opencode/tasks/main.yml', tier='unit', tests=[ROLE],
         old='        key_env_var: "{{ opencode_key_env_var }}"\n        backup: "{{ opencode_backup }}"\n',
         new='        key_env_var: "{{ opencode_key_env_var }}"\n        backup: false\n'),
    dict(id='no-post-edit-check', what='the post-edit re-parse and verification are switched off',
         file='plugins/module_utils/_opencode.py', tier='unit', tests=[SAFETY],
         old='    """Check the edited text once: it is valid JSONC and every edited path holds what was asked."""\n',
         new='    """Check the edited text once: it is valid JSONC and every edited path holds what was asked."""\n'
             '    return\n'),
    dict(id='no-late-recheck', what='the last-moment conflict re-check in the atomic write is removed',
         file='plugins/module_utils/_files.py', tier='unit', tests=[SAFETY],
         old="        if expect is not False:\n            check_unchanged(real_path, expect)\n",
         new="        pass\n"),
    dict(id='backup-left-behind', what='a backup stays behind after a failed rename',
         file='plugins/module_utils/_files.py', tier='unit', tests=[SAFETY],
         old="        if backup_file:\n            _unlink_quietly(backup_file)\n", new=""),
    dict(id='indent-fixed-to-2', what='indent-width detection fixed to 2 spaces',
         file='plugins/module_utils/_jsonc.py', tier='unit', tests=[SAFETY],
         old="            unit = ' ' * min(spaces)\n", new="            unit = '  '\n"),
    dict(id='auth-diff-after-unmasked', what="the auth.json diff's after side is not masked",
         file='plugins/module_utils/_opencode.py', tier='unit', tests=[SAFETY],
         old="            _redact.mask(raw[1], _redact.auth_secret, raw[0]))",
         new="            raw[1])"),
    dict(id='mask-by-name-off', what='the masking rule by name is switched off',
         file='plugins/module_utils/_redact.py', tier='unit', tests=[SAFETY],
         old="    named = isinstance(value, str) and looks_secret_name(last)\n",
         new="    named = False\n"),
    dict(id='mask-by-position-off', what='the masking rule by position (options.apiKey) is switched off',
         file='plugins/module_utils/_redact.py', tier='unit', tests=[SAFETY],
         old="    if path == ('options', 'apiKey'):\n        return True\n", new=""),
    dict(id='check-mode-creates', what='api_key creates the key in check mode',
         file='plugins/modules/api_key.py', tier='unit', tests=[KEYS],
         old="    if run.check:\n        after = settle_new(run, req, {\"id\": None, \"name\": req.name}, base, policy)\n",
         new="    if False:\n        after = settle_new(run, req, {\"id\": None, \"name\": req.name}, base, policy)\n"),
    dict(id='check-mode-revokes', what='api_key revokes the key in check mode',
         file='plugins/modules/api_key.py', tier='unit', tests=[KEYS],
         old="        if not run.check:\n            run.client.delete_key(rec[\"id\"])\n        result[\"revoked\"]",
         new="        run.client.delete_key(rec[\"id\"])\n        result[\"revoked\"]"),
    dict(id='no-key-lock', what='the per-key lock of api_key takes no lock',
         file='plugins/modules/api_key.py', tier='unit', tests=[KEYS],
         old="                fcntl.flock(fd, fcntl.LOCK_EX)\n", new=""),
    dict(id='no-key-lock-live', what='the per-key lock of api_key takes no lock (live OmniRoute)',
         file='plugins/modules/api_key.py', tier='integration', make=['test-omniroute', 'OMNIROUTE_TEST_STEPS=concurrency'],
         old="                fcntl.flock(fd, fcntl.LOCK_EX)\n", new=""),
    dict(id='temp-left-on-enospc', what='a temporary file stays behind when the disk is full',
         file='plugins/module_utils/_files.py', tier='root',
         tests=['tests/unit/plugins/modules/test_provider_hardening.py'],
         old="    except BaseException:\n        _unlink_quietly(tmp)\n        raise\n    return tmp\n",
         new="    except BaseException:\n        raise\n    return tmp\n"),
    dict(id='fresh-auth-0644', what='a fresh auth.json is written with the umask (0644), not 0600',
         file='plugins/module_utils/_files.py', tier='unit', tests=[SAFETY],
         old="    except OSError:\n        if holds_secret:\n            return 0o600\n",
         new="    except OSError:\n"),
]


def copy_tree():
    """A fresh copy of the checkout (tracked and untracked-but-not-ignored files)."""
    if os.path.isdir(COPY):
        shutil.rmtree(COPY)
    os.makedirs(COPY)
    files = subprocess.run(['git', 'ls-files', '-z', '-co', '--exclude-standard'], cwd=ROOT, check=True,
                           capture_output=True).stdout
    subprocess.run('tar --null -T - -cf - | tar -C %s -xf -' % COPY, shell=True, cwd=ROOT, input=files,
                   check=True)


def command(mutant):
    if mutant['tier'] == 'integration':
        return ['make', '--no-print-directory', '-C', COPY, 'VENV=%s' % os.path.join(ROOT, '.venv')] + mutant['make']
    marker = 'needs_root' if mutant['tier'] == 'root' else 'not needs_root'
    return [PYTHON, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', '-m', marker] + mutant['tests']


def run(cmd, log, timeout):
    """``cmd``'s exit status in the copy, its output in ``log``; ``'timeout'`` when it ran longer
    than ``timeout`` seconds: then it and every process it started (its own session) are killed,
    so nothing of a hung run holds a lock or a port for the next mutant."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(COPY, '.build', 'collections'))
    with open(log, 'w') as handle:
        proc = subprocess.Popen(cmd, cwd=COPY, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return 'timeout'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tier', default='unit,root,integration')
    parser.add_argument('--list', action='store_true')
    parser.add_argument('--timeout', type=int, default=900)
    parser.add_argument('ids', nargs='*')
    args = parser.parse_args()
    tiers = args.tier.split(',')
    chosen = [m for m in MUTANTS if m['tier'] in tiers and (not args.ids or m['id'] in args.ids)]
    if args.list:
        for m in MUTANTS:
            print('%-26s %-12s %s' % (m['id'], m['tier'], m['what']))
        return 0
    if 'root' in tiers and os.geteuid() != 0 and any(m['tier'] == 'root' for m in chosen):
        print('curated mutants: the root tier needs root')
        return 1
    copy_tree()
    logs = os.path.join(ROOT, '.build', 'mutants', 'logs')
    os.makedirs(logs, exist_ok=True)
    # The tests must pass on the unmutated copy, or a "killed" means nothing.
    for tier, marker in (('unit', 'not needs_root'), ('root', 'needs_root')):
        baseline = sorted(set(t for m in chosen if m['tier'] == tier for t in m['tests']))
        if not baseline:
            continue
        log = os.path.join(logs, 'baseline-%s.log' % tier)
        rc = run([PYTHON, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-m', marker] + baseline, log, args.timeout)
        if rc != 0:
            print('curated mutants: the %s tests fail on the unmutated tree (see %s)' % (tier, log))
            return 1
    failed = 0
    for m in chosen:
        path = os.path.join(COPY, m['file'])
        with open(path) as handle:
            original = handle.read()
        if original.count(m['old']) != 1:
            print('%-26s NOT APPLIED  the snippet is not in %s exactly once; update tests/mutants/curated.py'
                  % (m['id'], m['file']))
            failed += 1
            continue
        with open(path, 'w') as handle:
            handle.write(original.replace(m['old'], m['new']))
        started = time.time()
        try:
            rc = run(command(m), os.path.join(logs, m['id'] + '.log'), args.timeout)
        finally:
            with open(path, 'w') as handle:
                handle.write(original)
        took = time.time() - started
        if rc == 0:
            failed += 1
            verdict = 'SURVIVED'
        else:
            verdict = 'killed' if rc != 'timeout' else 'killed (timeout)'
        print('%-26s %-8s %-12s %5.1f s  %s' % (m['id'], verdict, m['tier'], took, m['what']), flush=True)
    print('curated mutants: %d of %d killed' % (len(chosen) - failed, len(chosen)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
