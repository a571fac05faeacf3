# -*- coding: utf-8 -*-
"""Every client of the gateway against every hostile mode of the routed test server.

The clients: the provider, users (with the role's report filter on its result), managed and
api_key modules, each run through its main() with arguments as Ansible hands them in. For each
mode and client: the run ends in bounded wall time; it has the documented outcome (a gateway
that breaks its framing is offline and the catalog is kept, an answer that is not a model list
fails the task, bad values are dropped with a warning); not one run of 8 characters of any key
is in the result, its warnings, its diff, the report or the files on disk (but the 0600 file the
key belongs in); nothing a reader sees holds a control, ANSI or bidi character; and a redirect
sends nothing anywhere else.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import re
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.filter import report as rp
from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
from ansible_collections.omniroute.opencode.plugins.modules import api_key, managed, provider, users
from ansible_collections.omniroute.opencode.tests.support.http_server import (
    ANSWERED, HOSTILE, SLOW, Answer, Server, kept_ids, mode)
from ansible_collections.omniroute.opencode.tests.support.http_server import (  # noqa: F401 pylint: disable=unused-import
    gateway_server, redirect_target)
from ansible_collections.omniroute.opencode.tests.support.http_server import leaked as support_leaked
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import run_module
from ansible_collections.omniroute.opencode.tests.support.results import warnings_of

KEY = 'sk-Zq9ToXw4Vb7Lm2Nc8Rd5Ef1Gh3Jk6Pa0'
PASSWORD = 'Pw7Hq2Xk9Lm4Zt6Vc1Rb8Nd3'
MGMT_KEY = 'sk-Mg5Tq8Wz2Yx7Kp4Ls9Jd6Fh1'
ME = pwd.getpwuid(os.geteuid()).pw_name
# The deadline of every request here; the bound on a whole module run is generous (CI is busy).
TIMEOUT = 1
BOUND = 30
MODELS = [{'id': 'team-fast', 'context_length': 128000, 'max_output_tokens': 8192},
          {'id': 'openai/gpt-4o', 'context_length': 128000, 'max_output_tokens': 16384}]
MODES = sorted(HOSTILE)
# The modes that hold a client until its deadline run in one test, every client side by side
# (test_slow_modes_every_client_at_once); the others run in-process, one by one.
FAST = sorted(set(MODES) - set(SLOW))
# What a reader may never see (line breaks are allowed in diffs only).
UNSEEN = re.compile(u'[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]')


def leaked(text, *secrets):
    return support_leaked(text, secrets)


def strings(value, found=None):
    """Every string of a decoded JSON value, keys included."""
    found = [] if found is None else found
    if isinstance(value, dict):
        for k, v in value.items():
            strings(k, found)
            strings(v, found)
    elif isinstance(value, list):
        for v in value:
            strings(v, found)
    elif isinstance(value, str):
        found.append(value)
    return found


def assert_inert(result):
    """No string of the result holds a control, ANSI or bidi character (diff texts may hold LF)."""
    bad = [s for s in strings(result) if UNSEEN.search(s)]
    assert not bad, [repr(s[:80]) for s in bad]


def assert_files(root, allowed=()):
    """Files under ``root``: a run of the key only in ``allowed`` files, and those are 0600."""
    for folder, _dirs, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as handle:
                text = handle.read().decode('utf-8', 'replace')
            if leaked(text, KEY, PASSWORD, MGMT_KEY):
                assert path in allowed, path
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('PATH', '/usr/bin:/bin')  # no user OpenCode: the probe stays a gateway probe
    monkeypatch.delenv('XDG_CONFIG_HOME', raising=False)
    monkeypatch.delenv('XDG_DATA_HOME', raising=False)
    return tmp_path


def run(main, capsys, args, diff=True):
    started = time.monotonic()
    rc, res, out = run_module(main, capsys, args, diff=diff)
    took = time.monotonic() - started
    assert took < BOUND, took
    return rc, res, out


def serve(gateway_server, redirect_target, name, key=KEY, path='/v1/models'):
    gateway_server.routes.clear()
    gateway_server.route(path, mode(name, key, MODELS, target=redirect_target.url))


def check_catalog(name, written_models, warnings):
    assert sorted(m for m in written_models if m != 'auto') == kept_ids(name, MODELS)
    for model_id, settings in written_models.items():
        assert not UNSEEN.search(model_id)
        limit = settings.get('limit')
        if limit is not None:
            assert set(limit) == {'context', 'output'}
            assert all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= gw.MAX_TOKENS
                       for v in limit.values()), (model_id, limit)
    if name in ('huge-numbers', 'non-finite'):
        assert any('OpenCode cannot use' in w for w in warnings)
        assert 'limit' not in written_models['team-fast']
    if name == 'hostile-ids':
        assert any('left out' in w for w in warnings)


# --------------------------------------------------------------------------- provider
@pytest.mark.parametrize('name', FAST)
def test_provider(home, capsys, gateway_server, redirect_target, name):
    serve(gateway_server, redirect_target, name)
    args = {'api_key': KEY, 'base_url': gateway_server.url, 'catalog': 'gateway', 'models': ['auto'], 'verify': True,
            'timeout': TIMEOUT}
    rc, res, out = run(provider.main, capsys, args)
    outcome = HOSTILE[name]
    config = home / '.config' / 'opencode' / 'opencode.json'
    assert not leaked(out, KEY), name
    assert_inert(res)
    assert_files(home, [str(config)])
    assert redirect_target.requests == []
    warnings = warnings_of(res)
    if outcome in ('bad', 'rejected'):
        assert rc == 1 and not config.exists()
        assert ('gave no model list' if outcome == 'bad' else 'rejected the key') in res['msg']
        return
    assert rc == 0, res.get('msg')
    models = parse(config.read_text())['provider']['omniroute']['models']
    if outcome == 'offline':
        # Nothing to keep yet: the ids given in models are written, with a warning saying why.
        assert res['catalog']['source'] == 'models' and sorted(models) == ['auto']
        assert any('cannot be fetched (gateway offline)' in w for w in warnings)
        assert res['verify']['key_accepted'] is None and res['verify']['ready'] is False
    else:
        assert res['catalog']['source'] == 'gateway'
        check_catalog(name, models, warnings)
        assert res['verify']['key_accepted'] is True


def test_provider_keeps_its_catalog_byte_for_byte_when_the_gateway_turns_hostile(home, capsys, gateway_server, redirect_target):
    gateway_server.routes.clear()
    gateway_server.route('/v1/models', lambda req: Answer(200, json.dumps({'data': MODELS}).encode()))
    args = {'api_key': KEY, 'base_url': gateway_server.url, 'catalog': 'gateway', 'timeout': TIMEOUT}
    assert run(provider.main, capsys, args)[0] == 0
    config = home / '.config' / 'opencode' / 'opencode.json'
    before = config.read_bytes()
    for name in FAST:
        if HOSTILE[name] != 'offline':
            continue
        serve(gateway_server, redirect_target, name)
        rc, res, out = run(provider.main, capsys, args)
        assert rc == 0 and not res['changed'] and res['catalog']['source'] == 'kept', name
        assert config.read_bytes() == before and not leaked(out, KEY)


# --------------------------------------------------------------------------- users (+ the report)
@pytest.mark.parametrize('name', FAST)
def test_users_and_the_report(home, capsys, gateway_server, redirect_target, name):
    serve(gateway_server, redirect_target, name)
    args = {'users': [{'name': ME, 'api_key': KEY}], 'host': 'laptop-hostile', 'base_url': gateway_server.url,
            'catalog': 'gateway', 'models': ['auto'], 'verify': True, 'timeout': TIMEOUT, 'key_store': 'auth'}
    rc, res, out = run(users.main, capsys, args)
    outcome = HOSTILE[name]
    auth = home / '.local' / 'share' / 'opencode' / 'auth.json'
    config = home / '.config' / 'opencode' / 'opencode.json'
    assert not leaked(out, KEY), name
    assert_inert(res)
    assert_files(home, [str(auth)])
    assert redirect_target.requests == []
    # The role's report, from this host's result: JSON exact, Markdown and summary inert.
    rows = rp.report_rows({'laptop-hostile': {'_opencode_users_result': res}}, ['laptop-hostile'])
    markdown = rp.report_markdown(rows)
    summary = rp.report_summary(rows)
    report = json.dumps(rows) + markdown + json.dumps(summary)
    assert not leaked(report, KEY)
    # Nothing renders as markup: no tag, no link (an escaped bracket is text).
    assert not UNSEEN.search(markdown.replace('\n', '')) and '<script>' not in markdown
    assert not re.search(r'(?<!\\)\]\(', markdown)
    assert_inert(summary)
    for line in markdown.splitlines():
        if line.startswith('| laptop-hostile'):
            assert line.count(' | ') == len(rp.COLUMNS) - 1
    if outcome in ('bad', 'rejected'):
        assert rc == 1 and not config.exists() and "no user's file was changed on laptop-hostile" in res['msg']
        return
    assert rc == 0, res.get('msg')
    mine = res['users'][ME]
    models = parse(config.read_text())['provider']['omniroute']['models']
    if outcome == 'offline':
        assert mine['catalog']['source'] == 'models' and sorted(models) == ['auto']
    else:
        check_catalog(name, models, mine['warnings'])
        assert rows[0]['key_accepted'] is True


# --------------------------------------------------------------------------- users, probe_keys
@pytest.mark.parametrize('name', FAST)
def test_users_probe_of_a_new_key(home, capsys, gateway_server, redirect_target, name):
    """The role's check of a new key from the laptop (second phase of a rotation): taken only
    from a gateway that answers a model list; nothing written, no key shown."""
    serve(gateway_server, redirect_target, name)
    args = {'users': [], 'host': 'laptop-hostile', 'base_url': 'http://127.0.0.1:9/never-asked', 'timeout': TIMEOUT,
            'probe_keys': [{'label': ME, 'key': KEY, 'base_url': gateway_server.url}]}
    rc, res, out = run(users.main, capsys, args)
    assert rc == 0, res.get('msg')
    assert not leaked(out, KEY), name
    assert_inert(res)
    assert_files(home, [])
    assert not any(os.scandir(str(home)))
    assert redirect_target.requests == []
    assert not res['changed'] and set(res['probes']) == {ME}
    probe = res['probes'][ME]
    assert probe['url'] == gateway_server.url + '/v1/models'
    outcome = HOSTILE[name]
    if outcome in ('bad', 'rejected', 'offline'):
        assert probe['ok'] is False and probe['why'], (name, probe)
        word = {'bad': 'answered', 'rejected': 'refused the new key', 'offline': 'could not be reached'}[outcome]
        assert word in probe['why'] or (outcome == 'offline' and 'answered HTTP 5' in probe['why']), (name, probe)
    else:
        assert probe['ok'] is True and probe['why'] is None and probe['status'] == 200, (name, probe)


# --------------------------------------------------------------------------- managed
@pytest.mark.parametrize('name', FAST)
def test_managed(tmp_path, capsys, gateway_server, redirect_target, name):
    serve(gateway_server, redirect_target, name)
    etc = tmp_path / 'etc' / 'opencode'
    args = {'directory': str(etc), 'base_url': gateway_server.url, 'catalog': 'gateway', 'catalog_key': KEY,
            'models': ['auto'], 'timeout': TIMEOUT}
    rc, res, out = run(managed.main, capsys, args)
    outcome = HOSTILE[name]
    assert not leaked(out, KEY), name
    assert_inert(res)
    assert_files(tmp_path)  # the managed file never holds a key
    assert redirect_target.requests == []
    if outcome in ('bad', 'rejected'):
        assert rc == 1 and not etc.exists()
        return
    assert rc == 0, res.get('msg')
    models = parse((etc / 'opencode.json').read_text())['provider']['omniroute']['models']
    if outcome == 'offline':
        assert res['catalog']['source'] == 'models' and sorted(models) == ['auto']
    else:
        check_catalog(name, models, warnings_of(res))


# --------------------------------------------------------------------------- api_key
# What the management client makes of each mode at the login: transport faults are
# "unreachable", a redirect or an over-long answer an API error, the rest a failed login.
API_KINDS = {'offline': 'unreachable', 'bad': 'api'}


@pytest.mark.parametrize('name', FAST)
def test_api_key_login(tmp_path, capsys, gateway_server, redirect_target, name):
    serve(gateway_server, redirect_target, name, key=PASSWORD, path='/api/auth/login')
    args = {'url': gateway_server.url, 'password': PASSWORD, 'name': 'opencode:alice@laptop1', 'lock_dir': str(tmp_path),
            'timeout': TIMEOUT}
    rc, res, out = run(api_key.main, capsys, args)
    assert rc == 1 and not leaked(out, PASSWORD), name
    if name in ANSWERED:
        # The login answered: HTTP 500 is an API error; a 401, or a 200 without a session, a failed login.
        kind = 'api' if name == 'error-markup' else 'auth'
    else:
        kind = API_KINDS[HOSTILE[name]]
    assert res['error_kind'] == kind, res['msg']
    assert_inert(res)
    assert_files(tmp_path)
    assert redirect_target.requests == []


@pytest.mark.parametrize('name', ['redirect-port', 'redirect-http', 'status-echo', 'error-echo', 'drip-body',
                                  'huge-body', 'deep-nesting', 'hostile-ids'])
def test_api_key_after_login_with_a_session_or_a_management_key(tmp_path, capsys, gateway_server, redirect_target, name):
    """The session cookie (or the management key) never goes elsewhere, never shows."""
    cookie = 'Ck3Vn8Bq1Zw6Xe9Rt4Yu7Io2Pa5'
    for secret_args in ({'password': PASSWORD}, {'management_key': MGMT_KEY}):
        serve(gateway_server, redirect_target, name, key=MGMT_KEY, path='/api/keys')
        session = [('Set-Cookie', 'auth_token=%s; Path=/' % cookie)]
        gateway_server.route('/api/auth/login', lambda req: Answer(200, b'{"success": true}', session))
        args = dict(secret_args, url=gateway_server.url, name='opencode:alice@laptop1', lock_dir=str(tmp_path),
                    timeout=TIMEOUT)
        rc, res, out = run(api_key.main, capsys, args)
        assert rc == 1 and not leaked(out, PASSWORD, MGMT_KEY, cookie), (name, res.get('msg'))
        assert_inert(res)
        assert redirect_target.requests == []
        sent = gateway_server.requests[-1].headers
        if 'password' in secret_args:
            assert sent.get('cookie') == 'auth_token=' + cookie and 'authorization' not in sent
        else:
            assert sent.get('authorization') == 'Bearer ' + MGMT_KEY and 'cookie' not in sent


@pytest.mark.parametrize('option', ['password', 'management_key'])
def test_api_key_refuses_a_login_secret_with_a_line_break_before_sending_it(tmp_path, capsys, gateway_server, option):
    before = len(gateway_server.requests)
    secret = PASSWORD if option == 'password' else MGMT_KEY
    rc, res, out = run(api_key.main, capsys, {'url': gateway_server.url, option: secret + '\n', 'name': 'x',
                                              'lock_dir': str(tmp_path)})
    assert rc == 1 and 'line break' in res['msg'] and 'nothing was sent' in res['msg']
    assert not leaked(out, secret) and len(gateway_server.requests) == before


# --------------------------------------------------------------------------- keys with control characters
def test_a_vault_key_with_a_trailing_newline_is_refused_up_front_naming_user_and_store(home, capsys, gateway_server):
    before = len(gateway_server.requests)
    gateway_server.routes.clear()
    gateway_server.route('/v1/models', lambda req: Answer(200, json.dumps({'data': MODELS}).encode()))
    rc, res, out = run(provider.main, capsys, {'api_key': KEY + '\n', 'base_url': gateway_server.url, 'catalog': 'gateway'})
    assert rc == 1 and 'line break' in res['msg'] and ME in res['msg'] and 'key_store=config' in res['msg']
    assert not leaked(out, KEY) and not (home / '.config').exists()
    rc, res, out = run(users.main, capsys, {'users': [{'name': ME}], 'host': 'laptop-v', 'base_url': gateway_server.url,
                                            'key_maps': [{}, {ME: KEY + '\r\n'}], 'catalog': 'gateway'})
    assert rc == 1 and "user '%s': the key from key_maps[1]" % ME in res['msg'] and 'line break' in res['msg']
    assert not leaked(out, KEY) and not (home / '.config').exists()
    rc, res, out = run(managed.main, capsys, {'directory': str(home / 'etc'), 'base_url': gateway_server.url,
                                              'catalog': 'gateway', 'catalog_key': KEY + '\n', 'models': ['auto']})
    assert rc == 1 and 'catalog_key' in res['msg'] and 'line break' in res['msg'] and not leaked(out, KEY)
    assert len(gateway_server.requests) == before


def test_plain_http_to_another_host_is_warned_once(home, capsys):
    # Nothing listens there; the run only plans (static catalog, check mode).
    args = {'api_key': KEY, 'base_url': 'http://gateway_server.example.invalid:20128', '_ansible_check_mode': True}
    rc, res, out = run(provider.main, capsys, args)
    assert rc == 0 and sum('plain http' in w for w in warnings_of(res)) == 1
    rc, res, out = run(users.main, capsys, {'users': [{'name': ME, 'api_key': KEY}], 'host': 'h1',
                                            'base_url': 'http://gateway_server.example.invalid:20128',
                                            '_ansible_check_mode': True})
    assert rc == 0 and sum('plain http' in w for w in warnings_of(res)) == 1 and not leaked(out, KEY)
    rc, res, out = run(provider.main, capsys, dict(args, base_url='https://gateway_server.example.invalid'))
    assert not any('plain http' in w for w in warnings_of(res))


# --------------------------------------------------------------------------- the slow modes
def _start(module, args, home, name):
    """The module in its own process, as Ansible starts it on a target (arguments in a file)."""
    root = os.path.abspath(api_key.__file__)
    for _up in range(6):  # .../ansible_collections/omniroute/opencode/plugins/modules/x.py
        root = os.path.dirname(root)
    os.makedirs(str(home), exist_ok=True)
    args_file = os.path.join(str(home), '%s-%s.json' % (module, name))
    with open(args_file, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': dict(args, _ansible_diff=True,
                                               _ansible_remote_tmp=os.path.join(str(home), '.tmp'))}, handle)
    # The collection first, then whatever this interpreter imports ansible from (a venv, or the
    # path ansible-test sets up).
    env = {'HOME': str(home), 'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8',
           'PYTHONPATH': os.pathsep.join([root] + [p for p in sys.path if p])}
    return subprocess.Popen([sys.executable, '-m', 'ansible_collections.omniroute.opencode.plugins.modules.' + module,
                             args_file], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL), args_file


def test_slow_modes_every_client_at_once(tmp_path, gateway_server, redirect_target):
    """Dripped headers, a dripped body, a silent server: every client ends by its deadline,
    offline (the catalog kept or the given ids written; the management call unreachable)."""
    servers = []
    procs = []
    started = time.monotonic()
    try:
        for name in SLOW:
            srv = Server()
            servers.append(srv)
            srv.route('/v1/models', mode(name, KEY, MODELS))
            srv.route('/api/auth/login', mode(name, PASSWORD))
            home = tmp_path / name
            base = {'base_url': srv.url, 'catalog': 'gateway', 'models': ['auto'], 'timeout': TIMEOUT}
            procs.append((name, 'provider', home / 'p',
                          _start('provider', dict(base, api_key=KEY, verify=True), home / 'p', name)))
            procs.append((name, 'users', home / 'u', _start('users', dict(
                base, users=[{'name': ME, 'api_key': KEY}], host='laptop-slow', verify=True, key_store='auth'),
                home / 'u', name)))
            procs.append((name, 'probe', home / 'k', _start('users', dict(
                users=[], host='laptop-slow', timeout=TIMEOUT, base_url=srv.url,
                probe_keys=[{'label': ME, 'key': KEY}]), home / 'k', name)))
            procs.append((name, 'managed', home / 'm', _start('managed', dict(
                base, directory=str(home / 'm' / 'etc'), catalog_key=KEY), home / 'm', name)))
            procs.append((name, 'api_key', home / 'a', _start('api_key', {
                'url': srv.url, 'password': PASSWORD, 'name': 'dev', 'lock_dir': str(home / 'a'),
                'timeout': TIMEOUT}, home / 'a', name)))
        results = []
        for name, module, home, (proc, args_file) in procs:
            out = proc.communicate(timeout=BOUND * 4)[0].decode('utf-8', 'replace')
            os.unlink(args_file)  # it holds the key
            results.append((name, module, home, proc.returncode, out))
    finally:
        for srv in servers:
            srv.close()
    # Fifteen module processes on a busy machine: generous, yet far below a server that drips for
    # MAX_STALL (120 s) or a per-read timeout that never ends.
    assert time.monotonic() - started < BOUND * 3
    for name, module, home, rc, out in results:
        label = '%s/%s' % (module, name)
        assert not leaked(out, KEY, PASSWORD), label
        res = json.loads(out[out.index('{'):])
        assert_inert(res)
        if module == 'api_key':
            assert rc == 1 and res['error_kind'] == 'unreachable' and 'timeout' in res['msg'], label
            continue
        assert rc == 0, (label, res.get('msg'))
        if module == 'probe':
            probe = res['probes'][ME]
            assert probe['ok'] is False, (label, probe)
            assert probe['why'].startswith('the gateway could not be reached from the laptop (') and \
                'timeout' in probe['why'], (label, probe)
            assert_files(home, [])
            continue
        warnings = warnings_of(res) + (res['users'][ME]['warnings'] if module == 'users' else [])
        assert any('cannot be fetched (gateway offline)' in w and 'timeout' in w for w in warnings), label
        assert_files(home, [str(home / '.config' / 'opencode' / 'opencode.json'),
                            str(home / '.local' / 'share' / 'opencode' / 'auth.json')])
    assert redirect_target.requests == []


def test_per_model_headers_are_credentials_in_results_and_diffs(home, capsys):
    value = 'hdr-Vb3Nm8Qw1Er6Ty'
    models = [{'id': 'm', 'headers': {'X-Team': value}}, 'auto']
    rc, res, out = run(provider.main, capsys, {'api_key': KEY, 'models': models, 'base_url': 'http://localhost:1'})
    assert rc == 0 and res['entry']['models']['m']['headers'] == {'X-Team': '********'}
    assert not leaked(out, KEY, value) and value in (home / '.config' / 'opencode' / 'opencode.json').read_text()
    rc, res, out = run(managed.main, capsys, {'directory': str(home / 'etc'), 'models': models,
                                              'base_url': 'http://localhost:1'})
    assert rc == 0 and res['entry']['models']['m']['headers'] == {'X-Team': '********'}
    assert not leaked(out, value) and '"X-Team": "********' in res['diff'][0]['after']
    rc, res, out = run(users.main, capsys, {'users': [{'name': ME, 'api_key': KEY}], 'host': 'h', 'models': models,
                                            'base_url': 'http://localhost:1'})
    assert rc == 0 and res['invocation']['module_args']['models'][0]['headers'] == {'X-Team': '********'}
    assert not leaked(out, KEY, value)


def test_a_model_id_no_utf8_file_can_hold_is_refused_and_nothing_is_written(tmp_path):
    """The operator's variables are input too: module arguments are JSON, and JSON can carry
    "\\ud800", which no UTF-8 file can hold. The module once died in its free-space check with a
    traceback; it names the option (its own process, as on a target: in this test process
    ansible-core's controller-side check may refuse such arguments before the module sees them)."""
    home = tmp_path / 'home'
    config = home / '.config' / 'opencode' / 'opencode.json'
    config.parent.mkdir(parents=True)
    config.write_text(u'{\n  // mine\n}\n')
    proc, _args = _start('provider', {'api_key': KEY, 'models': ['gpt-4o', u'gpt-4\ud800']}, home, 'surrogate')
    out = proc.communicate(timeout=BOUND)[0].decode('utf-8', 'replace')
    res = json.loads(out)
    assert proc.returncode == 1 and res['failed'] and not res.get('changed') and 'Traceback' not in out
    assert res['msg'] == ('models[1] holds U+D800, a lone surrogate: not text that a UTF-8 file can hold '
                          '(an escape such as "\\ud800" in the variable?)')
    assert config.read_text() == u'{\n  // mine\n}\n' and KEY not in out
