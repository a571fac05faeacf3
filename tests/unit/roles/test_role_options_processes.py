# -*- coding: utf-8 -*-
"""The role's variables no test set before (issue 26), each set in a real role run on this
machine and its effect checked on the files, the report, the local stand-in servers and the
output.

Every run is ``ansible-playbook`` with the role on localhost, as the current user (no root, no
other account), with a scratch HOME; the gateway and OmniRoute are local stand-ins (the
management API one answers as OmniRoute 3.7.9, tests/unit/plugins/modules/omniroute_fake.py).
The runs of the module are started together (two at a time) when the first test asks, and each
test then checks one of them. Every output is searched for every key.

(These start the ansible CLI of the checkout's venv: make test-unit runs them, the ansible-test
runs of the matrix leave ``test_*_processes.py`` out.)
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import pwd
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _jsonc
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
from ansible_collections.omniroute.opencode.tests.support.http_server import CLOSED, Raw, Server, json_answer, models_payload
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.omniroute_fake import PASSWORD, FakeOmniRoute
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.tls import https_models_gateway, self_signed

ME = pwd.getpwuid(os.geteuid()).pw_name
KEY = 'sk-role-options-5a6b7c8d'
MODELS = [{'id': 'team-fast', 'owned_by': 'combo'}, {'id': 'openai/gpt-4o'}, {'id': 'openai/gpt-4o-mini'},
          {'id': 'openai/o3'}]
KEY_NAME = 'opencode-%s@localhost' % ME
PLAY = '''- name: The role on this machine
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: omniroute.opencode.opencode
'''


class Run(object):
    """One ansible-playbook run of the role: ``rc``, ``out`` (stdout and stderr)."""

    def __init__(self, rc, out):
        self.rc, self.out = rc, out


class Scenario(object):
    """A scratch HOME and what the role runs in it leave behind."""

    def __init__(self, root, name):
        self.root = os.path.join(str(root), name)
        self.home = os.path.join(self.root, 'home')
        self.report = os.path.join(self.root, 'report')
        os.makedirs(self.home)
        self.runs = []
        self.servers = {}

    def config_path(self):
        return os.path.join(self.home, '.config', 'opencode', 'opencode.json')

    def config(self):
        with open(self.config_path()) as handle:
            return parse(handle.read())

    def write_config(self, text):
        os.makedirs(os.path.dirname(self.config_path()), mode=0o700, exist_ok=True)
        with open(self.config_path(), 'w') as handle:
            handle.write(text)

    def rows(self):
        with open(os.path.join(self.report, 'opencode-report.json')) as handle:
            return json.load(handle)

    def play(self, variables):
        variables = dict({'opencode_become': False, 'opencode_verify': False, 'opencode_base_url': CLOSED},
                         **variables)
        path = os.path.join(self.root, 'vars-%d.json' % len(self.runs))
        with open(path, 'w') as handle:
            json.dump(variables, handle)
        play = os.path.join(self.root, 'play.yml')
        with open(play, 'w') as handle:
            handle.write(PLAY)
        here = os.path.abspath(_jsonc.__file__)  # the collection these tests import is the one the role runs
        env = dict(os.environ, HOME=self.home, USER=ME, ANSIBLE_HOME=os.path.join(self.root, 'ansible'),
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.root, 'tmp'), ANSIBLE_REMOTE_TMP=os.path.join(self.root, 'tmp'),
                   ANSIBLE_COLLECTIONS_PATH=here[:here.rindex(os.sep + 'ansible_collections' + os.sep)],
                   ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_LOCALHOST_WARNING='false',
                   ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_RETRY_FILES_ENABLED='false')
        for var in ('XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'OPENCODE_CONFIG', 'OPENCODE_CONFIG_DIR'):
            env.pop(var, None)
        playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
        proc = subprocess.run([playbook, '-i', 'localhost,', play, '-e', '@' + path,
                               '-e', 'ansible_python_interpreter=' + sys.executable],
                              env=env, cwd=self.root, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=600, check=False)
        run = Run(proc.returncode, proc.stdout + proc.stderr)
        self.runs.append(run)
        return run


# --------------------------------------------------------------------------- the scenarios
def globals_(sc):
    """Host-wide variables: provider name and display name, catalog, default and small model,
    the env key store with its variable, backup, no verify, the report."""
    sc.write_config('{\n  // mine\n  "theme": "dusk"\n}\n')
    sc.play({'opencode_provider_name': 'team-gw', 'opencode_display_name': 'Team Gateway',
             'opencode_models': ['auto', 'fast'], 'opencode_model_labels': {'auto': 'Auto-Combo'},
             'opencode_model': 'auto', 'opencode_small_model': 'fast',
             'opencode_key_store': 'env', 'opencode_key_env_var': 'TEAM_GW_KEY', 'opencode_backup': True,
             'opencode_verify': False, 'opencode_report_dir': sc.report, 'opencode_users': [{'name': ME}]})


def overrides(sc):
    """Per-user values win over the host's; verify on (the gateway is unreachable)."""
    sc.play({'opencode_models': ['auto', 'fast'], 'opencode_key_store': 'env', 'opencode_key_env_var': 'HOST_VAR',
             'opencode_small_model': 'auto', 'opencode_verify': True, 'opencode_report_dir': sc.report,
             'opencode_users': [{'name': ME, 'key_env_var': 'OWN_VAR', 'small_model': 'fast', 'model': 'auto',
                                 'model_labels': {'fast': 'Fast lane'}}]})


def gateway(sc):
    """The catalog from an https gateway with a self-signed certificate."""
    with https_models_gateway(sc.root, KEY, MODELS) as (url, seen):
        sc.servers['seen'] = seen
        sc.play({'opencode_base_url': url, 'opencode_catalog': 'gateway', 'opencode_gateway_validate_certs': False,
                 'opencode_catalog_exclude': ['*-mini'], 'opencode_catalog_offline': 'fail',
                 'opencode_users': [{'name': ME, 'api_key': KEY}]})


def slow_gateway(sc):
    """A gateway that answers in 6 s: within the default 10 s, not within opencode_gateway_timeout 2."""
    answer = Raw(json_answer(models_payload(MODELS)).raw(), delay=6)
    with Server({'/v1/models': lambda req: answer}) as server:
        sc.play({'opencode_base_url': server.url, 'opencode_catalog': 'gateway',
                 'opencode_gateway_timeout': 2, 'opencode_catalog_offline': 'fail',
                 'opencode_users': [{'name': ME, 'api_key': KEY}]})


def omniroute_keys(sc):
    """Keys from OmniRoute 3.7.9 (over TLS, self-signed): created with the allowed models, then
    rotated on request."""
    fake = FakeOmniRoute(tls=self_signed(sc.root))
    sc.servers['fake'] = fake
    try:
        # The gateway is the same server: the laptop asks it about a new key before writing it
        # (two-phase rotation, issue 20).
        variables = {'opencode_api_key_source': 'omniroute', 'opencode_omniroute_url': fake.url,
                     'opencode_base_url': fake.url + '/v1', 'opencode_gateway_validate_certs': False,
                     'opencode_omniroute_password': PASSWORD, 'opencode_omniroute_validate_certs': False,
                     'opencode_omniroute_allowed_models': ['auto'], 'opencode_models': ['auto'],
                     'opencode_users': [{'name': ME}]}
        sc.play(variables)
        sc.servers['first'] = [dict(k) for k in fake.keys]
        sc.servers['first_config'] = sc.config()
        sc.play(dict(variables, opencode_omniroute_rotate=True))
    finally:
        fake.close()


def omniroute_newer(sc):
    """A newer server (management keys, expiry): a management key instead of the password; the
    host's expiry and allowed models, then the user's own rotation, allowed models and expiry
    winning over the host's."""
    fake = FakeOmniRoute(newer=('management_keys', 'expiry'))
    sc.servers['fake'] = fake
    try:
        mgmt = fake.add('fleet-automation', scopes=['manage'])['key']
        old = fake.add(KEY_NAME, allowedModels=['auto'])
        sc.servers['old'] = old['key']
        sc.servers['mgmt'] = mgmt
        sc.write_config(json.dumps({'provider': {'omniroute': {'options': {'apiKey': old['key']}}}}))
        variables = {'opencode_api_key_source': 'omniroute', 'opencode_omniroute_url': fake.url,
                     'opencode_base_url': fake.url + '/v1', 'opencode_omniroute_management_key': mgmt, 'opencode_omniroute_allowed_models': ['auto', 'fast'],
                     'opencode_omniroute_expires_at': '2030-06-30T00:00:00Z', 'opencode_models': ['auto', 'fast'],
                     'opencode_users': [{'name': ME}]}
        sc.play(variables)
        sc.servers['first'] = [dict(k) for k in fake.keys]
        sc.play(dict(variables, opencode_users=[{
            'name': ME, 'rotate_key': True, 'omniroute_allowed_models': ['fast'],
            'omniroute_expires_at': '2031-01-31T00:00:00Z'}]))
    finally:
        fake.close()


def key_policy_sweep(sc):
    """OmniRoute 3.7.9: the host's key policy with one user's own key_policy over it, field by
    field; the sweep (report) names a scheme key nobody used for longer than
    opencode_key_unused_days."""
    fake = FakeOmniRoute()
    sc.servers['fake'] = fake
    try:
        fake.add('opencode-ghost@localhost', createdAt='2020-01-01T00:00:00.000Z',
                 lastUsedAt='2020-02-01T00:00:00.000Z')
        sc.play({'opencode_api_key_source': 'omniroute', 'opencode_omniroute_url': fake.url,
                 'opencode_omniroute_password': PASSWORD, 'opencode_base_url': fake.url + '/v1',
                 'opencode_models': ['auto'], 'opencode_key_sweep': 'report', 'opencode_key_unused_days': 30,
                 'opencode_key_policy': {'noLog': True, 'allowedModels': ['auto']},
                 'opencode_users': [{'name': ME, 'key_policy': {'allowedModels': ['fast']}}]})
    finally:
        fake.close()


SCENARIOS = [globals_, overrides, gateway, slow_gateway, omniroute_keys, omniroute_newer, key_policy_sweep]


@pytest.fixture(scope='module')
def done(tmp_path_factory):
    """Every scenario, two at a time (each run is mostly one CPU-bound process)."""
    root = tmp_path_factory.mktemp('role-options')
    scenarios = dict((fn.__name__, Scenario(root, fn.__name__)) for fn in SCENARIOS)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(fn, scenarios[fn.__name__]) for fn in SCENARIOS]
        for future in futures:
            future.result()
    return scenarios


def secrets_of(sc):
    fake = sc.servers.get('fake')
    found = [KEY, PASSWORD] + [sc.servers[k] for k in ('old', 'mgmt') if k in sc.servers]
    if fake is not None:
        # Every key the fake gave out, those revoked since included.
        found += fake.issued + [k['key'] for k in sc.servers.get('first', [])]
    return found


@pytest.fixture
def scenario(done, request):
    sc = done[request.param]
    yield sc
    # No key in any output of any run of the scenario.
    for run in sc.runs:
        for n, secret in enumerate(secrets_of(sc)):
            assert secret not in run.out, 'secret #%d is in the output of a role run' % n


def ok(run):
    assert run.rc == 0, run.out[-4000:]


# --------------------------------------------------------------------------- the checks
@pytest.mark.parametrize('scenario', ['globals_'], indirect=True)
def test_host_wide_variables(scenario):
    sc = scenario
    (run,) = sc.runs
    ok(run)
    data = sc.config()
    assert data['theme'] == 'dusk' and 'omniroute' not in data['provider']
    assert data['provider']['team-gw'] == {
        'npm': '@ai-sdk/openai-compatible', 'name': 'Team Gateway',
        'options': {'baseURL': CLOSED + '/v1', 'apiKey': '{env:TEAM_GW_KEY}'},
        'models': {'auto': {'name': 'Auto-Combo'}, 'fast': {'name': 'fast'}}}
    assert (data['model'], data['small_model']) == ('team-gw/auto', 'team-gw/fast')
    # opencode_backup: the file as it was, private, next to it.
    (backup,) = glob.glob(sc.config_path() + '.*~')
    with open(backup) as handle:
        assert handle.read() == '{\n  // mine\n  "theme": "dusk"\n}\n'
    assert oct(os.stat(backup).st_mode & 0o777) == '0o600'
    # opencode_verify false: nothing was probed.
    (row,) = sc.rows()
    assert row['user'] == ME and row['ready'] is None and row['cause'] == 'not verified'


@pytest.mark.parametrize('scenario', ['overrides'], indirect=True)
def test_per_user_values_win(scenario):
    sc = scenario
    (run,) = sc.runs
    ok(run)
    data = sc.config()
    entry = data['provider']['omniroute']
    assert entry['options']['apiKey'] == '{env:OWN_VAR}'
    assert entry['models'] == {'auto': {'name': 'auto'}, 'fast': {'name': 'Fast lane'}}
    assert data['small_model'] == 'omniroute/fast' and data['model'] == 'omniroute/auto'
    # opencode_verify true: the gateway was probed (and is not there).
    (row,) = sc.rows()
    assert row['reachable'] is False and row['ready'] is False and row['cause']


@pytest.mark.parametrize('scenario', ['gateway'], indirect=True)
def test_gateway_catalog_with_a_self_signed_certificate(scenario):
    sc = scenario
    (run,) = sc.runs
    ok(run)
    assert sorted(sc.config()['provider']['omniroute']['models']) == ['openai/gpt-4o', 'openai/o3', 'team-fast']
    assert sc.servers['seen'] == [('/v1/models', 'Bearer ' + KEY)]


@pytest.mark.parametrize('scenario', ['slow_gateway'], indirect=True)
def test_gateway_timeout_and_catalog_offline_fail(scenario):
    sc = scenario
    (run,) = sc.runs
    assert run.rc != 0 and 'catalog_offline=fail' in run.out and 'timeout' in run.out, run.out[-4000:]
    assert not os.path.exists(sc.config_path())


@pytest.mark.parametrize('scenario', ['omniroute_keys'], indirect=True)
def test_keys_from_omniroute_created_then_rotated(scenario):
    sc = scenario
    first, second = sc.runs
    ok(first)
    ok(second)
    (created,) = sc.servers['first']
    assert created['name'] == KEY_NAME and created['allowedModels'] == ['auto']
    assert sc.servers['first_config']['provider']['omniroute']['options']['apiKey'] == created['key']
    # opencode_omniroute_rotate: a new key in the config, the old one gone from the server.
    (now,) = sc.servers['fake'].keys
    assert now['name'] == KEY_NAME and now['key'] != created['key'] and now['id'] != created['id']
    assert sc.config()['provider']['omniroute']['options']['apiKey'] == now['key']


@pytest.mark.parametrize('scenario', ['omniroute_newer'], indirect=True)
def test_management_key_and_key_policy(scenario):
    sc = scenario
    first, second = sc.runs
    ok(first)
    ok(second)
    fake = sc.servers['fake']
    assert ('POST', '/api/auth/login') not in fake.calls
    # The host's policy on the kept key (the installed key is still valid: kept, not rotated).
    (kept,) = [k for k in sc.servers['first'] if k['name'] == KEY_NAME]
    assert kept['key'] == sc.servers['old']
    assert kept['allowedModels'] == ['auto', 'fast'] and kept['expiresAt'] == '2030-06-30T00:00:00Z'
    # The user's own: rotated, with their models and expiry.
    (mine,) = [k for k in fake.keys if k['name'] == KEY_NAME]
    assert mine['key'] != sc.servers['old']
    assert mine['allowedModels'] == ['fast'] and mine['expiresAt'] == '2031-01-31T00:00:00Z'
    assert sc.config()['provider']['omniroute']['options']['apiKey'] == mine['key']


@pytest.mark.parametrize('scenario', ['key_policy_sweep'], indirect=True)
def test_a_users_key_policy_and_the_unused_keys_of_the_sweep(scenario):
    sc = scenario
    (run,) = sc.runs
    ok(run)
    fake = sc.servers['fake']
    (mine,) = [k for k in fake.keys if k['name'] == KEY_NAME]
    # The user's allowedModels wins over the host's; the host's noLog stays (merged field by field).
    assert mine['allowedModels'] == ['fast'] and mine['noLog'] is True
    assert sc.config()['provider']['omniroute']['options']['apiKey'] == mine['key']
    # The ghost's key is unused for more than 30 days: named in the sweep's warning, not revoked.
    text = ' '.join(run.out.split())
    assert 'unused for 30 days or more: opencode-ghost@localhost' in text, run.out[-3000:]
    assert [k for k in fake.keys if k['name'] == 'opencode-ghost@localhost' and k['isActive']]


# The role reports a failed key call with its own message, naming the host, and changes no file
# (once a known bug: failed_when: false on the key tasks hid the failure).
def test_an_expiry_refused_by_omniroute_379_is_reported(tmp_path):
    sc = Scenario(tmp_path, 'expiry')
    fake = FakeOmniRoute()  # 3.7.9: PATCH expiresAt -> 400
    try:
        held = fake.add(KEY_NAME)
        run = sc.play({'opencode_api_key_source': 'omniroute', 'opencode_omniroute_url': fake.url,
                       'opencode_omniroute_password': PASSWORD,
                       'opencode_omniroute_expires_at': '2031-01-31T00:00:00Z', 'opencode_models': ['auto'],
                       'opencode_users': [{'name': ME}]})
    finally:
        fake.close()
    assert run.rc != 0
    assert 'host localhost: ' in run.out and 'does not accept a key expiry' in run.out, run.out[-3000:]
    assert 'no OpenCode file was changed on localhost' in run.out
    assert not os.path.exists(sc.config_path()) and held['key'] not in run.out and PASSWORD not in run.out


def test_a_failed_installed_key_read_is_reported(tmp_path):
    sc = Scenario(tmp_path, 'twice')
    fake = FakeOmniRoute()
    try:
        run = sc.play({'opencode_api_key_source': 'omniroute', 'opencode_omniroute_url': fake.url,
                       'opencode_omniroute_password': PASSWORD, 'opencode_models': ['auto'],
                       'opencode_users': [{'name': ME}, {'name': ME}]})
    finally:
        fake.close()
    assert run.rc != 0
    assert "user '%s': listed more than once" % ME in run.out, run.out[-3000:]
    assert fake.calls == [] and not os.path.exists(sc.config_path())


@pytest.mark.needs_root
def test_scope_state_absent_removes_the_managed_entry_on_purpose(tmp_path):
    """opencode_scope managed with opencode_scope_state absent: the managed entry and the allow-list
    go, the other managed settings stay, and the users keep their keys in auth.json."""
    sc = Scenario(tmp_path, 'scope-state')
    managed = os.path.join(sc.root, 'managed')
    os.makedirs(managed)
    os.chmod(managed, 0o755)
    common = {'opencode_scope': 'managed', 'opencode_managed_dir': managed, 'opencode_models': ['auto'],
              'opencode_managed_settings': {'autoupdate': False}, 'opencode_api_keys': {ME: KEY},
              'opencode_users': [{'name': ME}]}
    ok(sc.play(common))
    with open(os.path.join(managed, 'opencode.json')) as handle:
        before = parse(handle.read())
    assert 'omniroute' in before['provider'] and before['autoupdate'] is False
    ok(sc.play(dict(common, opencode_scope_state='absent')))
    with open(os.path.join(managed, 'opencode.json')) as handle:
        after = parse(handle.read())
    assert 'omniroute' not in after.get('provider', {}) and 'enabled_providers' not in after
    assert after['autoupdate'] is False
    with open(os.path.join(sc.home, '.local', 'share', 'opencode', 'auth.json')) as handle:
        assert json.load(handle)['omniroute']['key'] == KEY
    assert all(KEY not in run.out for run in sc.runs)


@pytest.mark.needs_root
def test_managed_config_written_before_a_failed_users_run_is_named(tmp_path):
    """Managed scope on a nearly full disk: the users check passes (there is room for the user's
    auth.json), the managed config is written and takes that room, then the users run fails.
    The host fails, and a note names the managed file this run changed and what changed in it;
    the report still runs. (HOME and the managed directory on one 64 KiB tmpfs with two pages
    left: the managed config and its state file take one each.)"""
    sc = Scenario(tmp_path, 'managed-then-fail')
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', sc.home], check=True)
    try:
        managed = os.path.join(sc.home, 'managed')
        os.makedirs(managed)
        with open(os.path.join(sc.home, 'filler'), 'ab') as handle:
            while os.statvfs(sc.home).f_bavail > 2:
                handle.write(b'\0' * os.statvfs(sc.home).f_bsize)
                handle.flush()
        run = sc.play({'opencode_scope': 'managed', 'opencode_managed_dir': managed, 'opencode_models': ['auto'],
                       'opencode_api_keys': {ME: KEY}, 'opencode_users': [{'name': ME}],
                       'opencode_report_dir': sc.report})
        path = os.path.join(managed, 'opencode.json')
        with open(path) as handle:
            written = parse(handle.read())
        auth = os.path.join(sc.home, '.local', 'share', 'opencode', 'auth.json')
        assert not os.path.exists(auth)
    finally:
        subprocess.run(['umount', '-l', sc.home], check=False)
    assert run.rc != 0
    assert 'omniroute' in written['provider']
    assert ("cannot write %s (user %s on localhost): not enough free space" % (auth, ME)) in run.out, run.out[-3000:]
    note = [line for line in run.out.splitlines() if 'before the users run failed (above)' in line]
    assert note == [
        '    "msg": "host localhost: before the users run failed (above), this run had changed the managed '
        'config %s, %s (added $schema; added provider.omniroute; recorded what this module wrote '
        '(provider.omniroute)). Fix the cause above and run again"'
        % (path, os.path.join(managed, 'omniroute-opencode.state.json'))], run.out[-3000:]
    # The report still has the host, not ready, with the users run's error.
    rows = sc.rows()
    assert [(row['host'], row['ready']) for row in rows] == [('localhost', False)]
    assert rows[0]['error'].startswith("host localhost: user '%s': cannot write %s (user %s on localhost): "
                                       "not enough free space" % (ME, auth, ME)), rows
    assert KEY not in run.out
