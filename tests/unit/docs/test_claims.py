"""The claims the docs-examples suite checks on each recorded ansible-playbook run
(tests/docs/runner.py), on hand-made records: no real run needed."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'docs'))

import runner  # noqa: E402


def record(changed=0, failures=0, summary=None, results=(), failed=(), check=False, hosts=('laptop1',)):
    return {'recap': dict((h, {'ok': 3, 'changed': changed, 'failures': failures, 'unreachable': 0}) for h in hosts),
            'summaries': [{'host': hosts[0], 'summary': summary}] if summary else [],
            'results': list(results), 'failed': list(failed), 'check': check}


READY = {'ready': 2, 'not_ready': 0, 'unverified': 0, 'removed': 1, 'not_ready_users': []}
NOT_READY = {'ready': 1, 'not_ready': 1, 'unverified': 0, 'removed': 0,
             'not_ready_users': ['bob@laptop1: configured models not offered: auto']}


def test_a_clean_first_run_and_a_quiet_second_run_pass():
    assert runner.run_problems(record(changed=2, summary=READY), {}, second=False) == []
    assert runner.run_problems(record(changed=0, summary=READY), {}, second=True) == []


def test_a_play_that_ran_on_no_host_fails():
    problems = runner.run_problems(record(hosts=()), {}, second=False)
    assert problems and 'ran on no host' in problems[0]


def test_a_failed_host_fails_with_the_task_and_message():
    rec = record(failures=1, failed=[{'host': 'laptop1', 'task': 'Configure', 'msg': 'no API key for bob'}])
    [problem] = runner.run_problems(rec, {}, second=False)
    assert 'laptop1 failed' in problem and 'Configure: no API key for bob' in problem


def test_a_second_run_that_changes_fails_unless_the_example_says_it_changes_every_time():
    rec = record(changed=1)
    rec['changed'] = [{'host': 'laptop1', 'task': 'Report | opencode-report.json'}]
    [problem] = runner.run_problems(rec, {}, second=True)
    assert 'second run changed something' in problem and '"Report | opencode-report.json" on laptop1' in problem
    assert runner.run_problems(rec, {'changed': True}, second=True) == []
    assert runner.run_problems(rec, {}, second=False) == []


def test_not_ready_users_fail_unless_claimed():
    [problem] = runner.run_problems(record(summary=NOT_READY), {}, second=False)
    assert '1 user(s) not ready: bob@laptop1: configured models not offered: auto' in problem
    assert runner.run_problems(record(summary=NOT_READY), {'not-ready': 'models not offered'}, second=False) == []
    [other] = runner.run_problems(record(summary=NOT_READY), {'not-ready': 'key rejected'}, second=False)
    assert 'another reason than "key rejected"' in other


def test_ready_count_claim():
    assert runner.run_problems(record(summary=READY), {'ready': 2}, second=False) == []
    [problem] = runner.run_problems(record(summary=READY), {'ready': 3}, second=False)
    assert 'counts 2 ready, the example claims 3' in problem


def test_unverified_users_fail_when_others_were_verified_but_not_in_check_mode():
    partial = dict(READY, unverified=1)
    assert runner.run_problems(record(summary=partial), {}, second=False)
    assert runner.run_problems(record(summary=partial, check=True), {}, second=False) == []
    # Nobody verified outside --check: verify is on by default, so that fails unless the example
    # says it turned verify off (ready=0).
    nothing = {'ready': 0, 'not_ready': 0, 'unverified': 3, 'removed': 0, 'not_ready_users': []}
    [problem] = runner.run_problems(record(summary=nothing), {}, second=False)
    assert 'no present user was verified (3 unverified)' in problem
    assert runner.run_problems(record(summary=nothing), {'ready': 0}, second=False) == []
    assert runner.run_problems(record(summary=nothing, check=True), {}, second=False) == []


def test_a_not_ready_claim_needs_a_user_not_ready_for_that_reason():
    claim = {'not-ready': 'models not offered to the key: claude-opus-4-5-thinking'}
    why = 'alice: models not offered to the key: claude-opus-4-5-thinking, gemini-3-flash'
    not_ready = dict(READY, ready=0, not_ready=1, not_ready_users=[why])
    assert runner.run_problems(record(summary=not_ready), claim, second=False) == []
    [problem] = runner.run_problems(record(summary=READY), claim, second=False)
    assert 'claims users not ready' in problem and 'none is' in problem
    other = dict(not_ready, not_ready_users=['alice: key rejected (HTTP 401)'])
    [problem] = runner.run_problems(record(summary=other), claim, second=False)
    assert 'another reason' in problem


def test_a_not_ready_claim_against_a_module_verify():
    claim = {'not-ready': 'key rejected'}
    result = {'action': 'omniroute.opencode.provider', 'host': 'localhost', 'become': False, 'become_user': None,
              'verify': {'ready': False, 'cause': 'key rejected (HTTP 401)'}}
    assert runner.run_problems(record(results=[result]), claim, second=False) == []
    ready = dict(result, verify={'ready': True})
    [problem] = runner.run_problems(record(results=[ready]), claim, second=False)
    assert 'claims users not ready ("key rejected"), and none is' in problem
    other = dict(result, verify={'ready': False, 'cause': 'gateway unreachable'})
    [problem] = runner.run_problems(record(results=[other]), claim, second=False)
    assert 'another reason than "key rejected": gateway unreachable' in problem


def test_a_module_verify_without_the_role_summary_counts_too():
    result = {'action': 'omniroute.opencode.provider', 'host': 'localhost', 'become': False, 'become_user': None,
              'verify': {'ready': False, 'cause': 'key rejected (HTTP 401)'}}
    [problem] = runner.run_problems(record(results=[result]), {}, second=False)
    assert 'is not ready: key rejected (HTTP 401)' in problem
    assert runner.run_problems(record(results=[result]), {'not-ready': 'rejected'}, second=False) == []


def test_expected_failures_skip_the_failure_claim():
    rec = record(failures=1, failed=[{'host': 'laptop1', 'task': 't', 'msg': 'no API key'}])
    assert runner.run_problems(rec, {'fails': 'no API key'}, second=False) == []


def test_configured_users_from_users_and_provider_results():
    rec = record(results=[
        {'action': 'omniroute.opencode.users', 'host': 'laptop1', 'status': 'ok',
         'users': {'alice': {'state': 'present', 'models': ['openai/gpt-4o-mini']},
                   'carol': {'state': 'absent'}, 'zoe': {'state': 'absent', 'skipped': True}}},
        {'action': 'omniroute.opencode.provider', 'host': 'laptop2', 'status': 'ok', 'become': True,
         'become_user': 'bob', 'models': ['auto'], 'state': 'present'},
        {'action': 'omniroute.opencode.provider', 'host': 'laptop2', 'status': 'ok', 'become': False,
         'become_user': None, 'models': ['auto'], 'state': 'present'},
        {'action': 'omniroute.opencode.provider', 'host': 'laptop1', 'status': 'failed', 'become': False,
         'models': None, 'state': 'present'},
    ])
    assert runner.configured_users(rec) == [
        ('laptop1', 'alice', 'present', ['openai/gpt-4o-mini'], False), ('laptop1', 'carol', 'absent', None, False),
        ('laptop2', 'bob', 'present', ['auto'], False), ('laptop2', 'root', 'present', ['auto'], False)]
    rec['results'].append({'action': 'omniroute.opencode.managed', 'host': 'laptop1', 'status': 'ok', 'state': 'present'})
    assert [u[4] for u in runner.configured_users(rec)] == [True, True, False, False]


def test_configured_users_in_managed_scope_want_the_managed_models():
    # The users module writes no entry in managed scope, so its rows name no models; OpenCode
    # offers every user of the host the managed entry's. Without them the check wanted nothing
    # and passed whatever OpenCode offered.
    managed = {'action': 'omniroute.opencode.managed', 'host': 'laptop1', 'status': 'ok', 'state': 'present',
               'models': ['openai/gpt-5.4-mini', 'openai/gpt-4.1']}
    users = {'action': 'omniroute.opencode.users', 'host': 'laptop1', 'status': 'ok',
             'users': {'alice': {'state': 'present'}, 'bob': {'state': 'absent'}}}
    other = {'action': 'omniroute.opencode.users', 'host': 'laptop2', 'status': 'ok',
             'users': {'carol': {'state': 'present'}}}
    check_run = dict(managed, models=None)
    assert runner.configured_users(record(results=[check_run, managed, users, other])) == [
        ('laptop1', 'alice', 'present', ['openai/gpt-5.4-mini', 'openai/gpt-4.1'], True),
        ('laptop1', 'bob', 'absent', ['openai/gpt-5.4-mini', 'openai/gpt-4.1'], True),
        ('laptop2', 'carol', 'present', None, False)]
    # A managed run that removed the entry offers nothing.
    gone = dict(managed, state='absent')
    assert runner.configured_users(record(results=[gone, users]))[0] == ('laptop1', 'alice', 'present', None, False)


def test_a_run_that_set_out_to_configure_users_and_configured_none_is_a_problem():
    alice = {'action': 'omniroute.opencode.users', 'host': 'laptop1', 'status': 'ok',
             'users': {'alice': {'state': 'present', 'models': ['auto']}}}
    assert runner.configured_nobody(record(summary=READY, results=[alice])) is None
    # Every row skipped, a failed provider run, or the role's summary alone: nobody to ask OpenCode as.
    skipped = dict(alice, users={'alice': {'state': 'present', 'skipped': True}})
    failed = {'action': 'omniroute.opencode.provider', 'host': 'laptop1', 'status': 'failed'}
    assert runner.configured_nobody(record(results=[skipped])) == (
        'the run configured no user (omniroute.opencode.users ran, yet no user is present or removed), so '
        'OpenCode has nobody to be checked as')
    assert 'omniroute.opencode.provider ran' in runner.configured_nobody(record(results=[failed]))
    assert "the role's summary ran" in runner.configured_nobody(record(summary=READY))
    # Other modules only (a key sweep, the managed entry alone): nobody, by design.
    managed = {'action': 'omniroute.opencode.managed', 'host': 'laptop1', 'status': 'ok', 'state': 'present'}
    assert runner.configured_nobody(record(results=[managed])) is None
    assert runner.configured_nobody(record()) is None


def test_check_records_fails_a_run_that_configured_nobody():
    page = runner.Page.__new__(runner.Page)
    page.project, page.saved = '/project', {}
    page.harvest_keys = lambda record: None
    skipped = {'action': 'omniroute.opencode.users', 'host': 'laptop1', 'status': 'ok',
               'users': {'alice': {'state': 'present', 'skipped': True}}}
    first = dict(record(changed=1, results=[skipped]), playbook='/project/site.yml', argv=['site.yml'], ended=1)
    second = dict(record(results=[skipped]), playbook='/project/site.yml', argv=['site.yml'], started=2, round='2')
    outcome = runner.Outcome(None)
    page.check_records(outcome, [first, second], {}, paired=True)
    assert [p for p in outcome.problems if 'configured no user' in p] == [
        'site.yml: the run configured no user (omniroute.opencode.users ran, yet no user is present or removed), '
        'so OpenCode has nobody to be checked as']


def test_recap_text():
    text = runner.recap_text(record(changed=1, summary=READY, hosts=('a', 'b')))
    assert text == ('a ok=3 changed=1 failed=0; b ok=3 changed=1 failed=0; '
                    'summary ready=2 not_ready=0 unverified=0 removed=1')


def test_flat_ignores_wrapping_and_case():
    assert runner.flat('No API key\n   for  bob') == runner.flat('no api key for bob')


def test_broken_runs_stop_the_further_checks_a_failed_claim_does_not():
    assert runner.broken(record(hosts=()))
    assert runner.broken(record(failures=1))
    unreachable = record()
    unreachable['recap']['laptop1']['unreachable'] = 1
    assert runner.broken(unreachable)
    assert not runner.broken(record(summary=NOT_READY))


def test_gist_keeps_the_error_lines_and_drops_the_usual_warnings():
    out = ('TASK [x]\nfatal: [laptop1]: FAILED! => {"msg": "no API key"}\n'
           '/venv/ansible/_ssh_agent.py:18: CryptographyDeprecationWarning: DSA is deprecated\n'
           '  from cryptography.hazmat.primitives.asymmetric.dsa import (\n'
           "[WARNING]: Host 'l' is using the discovered Python interpreter at '/usr/bin/python3.11'\n"
           'PLAY RECAP ****\nlaptop1 : ok=1 changed=0 failed=1\n')
    assert runner.gist(out) == 'fatal: [laptop1]: FAILED! => {"msg": "no API key"}'
    assert runner.gist('line one\nline two\n') == 'line one | line two'


def test_the_shim_runs_a_successful_non_check_run_twice(tmp_path):
    calls = tmp_path / 'calls'
    real = tmp_path / 'real'
    real.write_text('#!/bin/bash\necho "round=${DOCTEST_ROUND:-1} $*" >> %s\nexit ${FAKE_RC:-0}\n' % calls)
    real.chmod(0o755)
    shim = tmp_path / 'ansible-playbook'
    shim.write_text(runner.SHIM % {'real': real})
    shim.chmod(0o755)
    records = tmp_path / 'records'
    records.mkdir()
    env = dict(os.environ, DOCTEST_RECORD_DIR=str(records))

    def play(*args, **extra):
        calls.write_text('')
        rc = subprocess.run([str(shim)] + list(args), env=dict(env, **extra), check=False).returncode
        return rc, calls.read_text().splitlines()

    assert play('-i', 'inventory', 'site.yml') == (0, ['round=1 -i inventory site.yml', 'round=2 -i inventory site.yml'])
    assert play('site.yml', '--check', '--diff') == (0, ['round=1 site.yml --check --diff'])
    assert play('-vC', 'site.yml') == (0, ['round=1 -vC site.yml'])
    assert play('site.yml', FAKE_RC='2') == (2, ['round=1 site.yml'])
    assert play('-e', 'x=C', 'site.yml') == (0, ['round=1 -e x=C site.yml', 'round=2 -e x=C site.yml'])
    assert 'second run: ansible-playbook -e x=C site.yml' in (records / 'second-runs.log').read_text()
    # One line per first run, with its exit code: the suite counts them against the records.
    assert (records / 'invocations.log').read_text().split() == ['0', '0', '0', '2', '0']


def test_a_shell_example_whose_runs_were_not_all_recorded_fails(tmp_path):
    page = runner.Page.__new__(runner.Page)
    page.records = str(tmp_path)

    def outcome(codes, records):
        (tmp_path / 'invocations.log').write_text(''.join('%s\n' % c for c in codes))
        result = runner.Outcome(None)
        page.check_recorded(result, records)
        assert not (tmp_path / 'invocations.log').exists()
        return result.problems

    first, second = record(), dict(record(), round=2)
    assert outcome(['0', '0'], [first, second, first, second]) == []
    assert outcome(['0', '2'], [first, second]) == []
    [problem] = outcome(['0', '0'], [first, second, second])
    assert 'exited 0 but the recorder callback recorded 1' in problem
    [problem] = outcome(['0'], [])
    assert 'recorded 0' in problem


def test_the_sandbox_keeps_the_system_read_only_and_the_clone_writable(tmp_path):
    """As root, a command of an example cannot write /etc or the real home, and can write the
    clone and the project cache (not root: no sandbox, the system is not writable anyway)."""
    probe = 'touch /etc/.docs-sandbox-probe 2>/dev/null && echo etc-writable; touch %s/probe && echo clone-ok' % tmp_path
    argv, env = runner.sandboxed(['bash', '-c', probe], dict(os.environ))
    if os.geteuid() != 0:
        assert argv == ['bash', '-c', probe]
        return
    env['DOCTEST_WRITABLE'] += ' %s' % tmp_path
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert out.stdout.split() == ['clone-ok'], out.stderr
    assert not os.path.exists('/etc/.docs-sandbox-probe')


class StubLaptops(object):
    """The laptops as opencode_check uses them: OpenCode's answer and each user's auth.json."""
    MODELS_DATABASE = '/models-dev-empty.json'

    def __init__(self, answer, auth):
        self.running = {'laptop1'}
        self.answer = answer        # (rc, stdout, stderr) of `opencode models omniroute`
        self.auth = auth            # user -> provider names in their auth.json (None: unreadable)
        self.asked = []

    def opencode(self, host, user, args, env):
        self.asked.append((host, user, tuple(args)))
        rc, out, err = self.answer
        return subprocess.CompletedProcess(args, rc, out, err)

    def auth_providers(self, host, user):
        return self.auth.get(user, [])


def opencode_check(users, answer=(0, '', ''), auth=None, claims=None):
    page = runner.Page.__new__(runner.Page)
    page.laptops = StubLaptops(answer, auth or {})
    page.outputs = []
    page.opencode_env = dict
    outcome = runner.Outcome(None)
    page.opencode_check(outcome, users, claims or {}, 'site.yml')
    return outcome, page.laptops.asked


LISTING = (0, 'omniroute/openai/gpt-4.1\nomniroute/openai/gpt-5.4-mini\n', '')
NOT_FOUND = (1, '', 'Error: Provider not found: omniroute\n')


def test_the_opencode_check_in_user_scope():
    present = ('laptop1', 'alice', 'present', ['openai/gpt-4.1'], False)
    outcome, asked = opencode_check([present], LISTING)
    assert outcome.problems == [] and asked == [('laptop1', 'alice', ('models', 'omniroute'))]
    outcome, dummy = opencode_check([present[:3] + (['openai/o3'], False)], LISTING)
    assert 'does not offer openai/o3' in outcome.problems[0]
    # Nothing to compare with is a failure, not a pass.
    outcome, dummy = opencode_check([present[:3] + (None, False)], LISTING)
    assert 'names no model for alice on laptop1' in outcome.problems[0]
    removed = ('laptop1', 'carol', 'absent', None, False)
    assert opencode_check([removed], NOT_FOUND)[0].problems == []
    [problem] = opencode_check([removed], LISTING)[0].problems
    assert 'still offers openai/gpt-4.1' in problem
    [problem] = opencode_check([removed], (1, '', 'Error: Configuration is invalid at ~/.config/opencode/opencode.json'))[0].problems
    assert 'neither the models nor "Provider not found"' in problem
    [problem] = opencode_check([removed], NOT_FOUND, auth={'carol': ['omniroute']})[0].problems
    assert 'auth.json still holds a key for omniroute' in problem


def test_the_opencode_check_in_managed_scope():
    present = ('laptop1', 'alice', 'present', ['openai/gpt-4.1', 'openai/gpt-5.4-mini'], True)
    outcome, dummy = opencode_check([present], LISTING, auth={'alice': ['omniroute']})
    assert outcome.problems == [] and 'with their key in auth.json' in outcome.notes[0]
    [problem] = opencode_check([present], LISTING, auth={'alice': ['other']})[0].problems
    assert 'auth.json holds no key for omniroute' in problem
    removed = ('laptop1', 'bob', 'absent', ['openai/gpt-4.1'], True)
    # The host's entry stays, so OpenCode is not asked: bob's auth.json is the evidence.
    outcome, asked = opencode_check([removed], LISTING, auth={'bob': []})
    assert outcome.problems == [] and asked == []
    [problem] = opencode_check([removed], LISTING, auth={'bob': ['omniroute']})[0].problems
    assert 'still holds a key for omniroute' in problem
    [problem] = opencode_check([removed], LISTING, auth={'bob': None})[0].problems
    assert 'cannot be read' in problem
