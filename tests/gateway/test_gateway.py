"""catalog=gateway and verify against a real OmniRoute 3.7.9 (REQUIRE_API_KEY=true), judged by
the real OpenCode CLI.

The gateway is set up through its own API (conftest.py): an `openai` provider connection
(about 21 models, chat and non-chat), a `team-fast` combo, a full key and a key restricted to
`team-fast` and `openai/gpt-4o*`. Expected catalogs are computed from the gateway's own
/v1/models answers, never written down here.

No test stops the shared server: the one that needs a gateway going away talks to it through a
relay of its own and stops that, so the tests pass in any order (and with -k or xdist)."""

import fnmatch
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

from harness import ME, REPO, list_models
from ansible_collections.omniroute.opencode.tests.support.http_server import pump

NAME = 'omniroute'
CONFIG = os.path.join('home', '.config', 'opencode', 'opencode.json')


def chat_ids(listing):
    """Independent oracle: chat models are the ones without a `type` (3.7.9 marks the others)."""
    return sorted(m['id'] for m in listing if 'type' not in m)


def verbose_models(sb):
    """`opencode models omniroute --verbose`: {id: model as OpenCode resolved it}."""
    proc = sb.run_opencode('models', NAME, '--verbose')
    assert proc.returncode == 0, proc.stderr[-1000:]
    out, models, pos = proc.stdout, {}, 0
    decoder = json.JSONDecoder()
    for m in re.finditer(r'^%s/(\S+)\n' % NAME, out, re.M):
        if m.start() < pos:
            continue
        obj, end = decoder.raw_decode(out, m.end())
        models[m.group(1)] = obj
        pos = end
    return models


def listed(sb):
    proc = list_models(lambda extra: sb.run_opencode('models', NAME, env=extra), NAME, sb.empty_models_database())
    assert proc.returncode == 0, proc.stderr[-1000:]
    return sorted(line.strip()[len(NAME) + 1:] for line in proc.stdout.splitlines() if line.strip())


def configure(sb, gateway, key, **extra):
    args = dict(base_url=gateway.url, api_key=key, catalog='gateway')
    args.update(extra)
    return sb.module(args)


def test_restricted_key_gets_exactly_its_chat_models(sandbox, gateway, results):
    sb = sandbox
    res = configure(sb, gateway, gateway.keys['restricted'])
    assert res['_status'] == 'CHANGED', res
    allowed_listing = gateway.listing(gateway.keys['restricted'])
    expected = chat_ids(allowed_listing)
    # The oracle agrees with the key's policy: every allowed chat model, nothing else.
    full = gateway.listing(gateway.keys['full'])
    assert expected == sorted(m for m in chat_ids(full) if any(fnmatch.fnmatchcase(m, g) for g in gateway.allowed))
    assert len(allowed_listing) > len(expected)  # the glob also matched audio models, left out
    assert res['models'] == expected and res['catalog']['source'] == 'gateway'
    assert res['catalog']['status'] == 200 and res['catalog']['offered'] == len(allowed_listing)
    assert listed(sb) == expected


def test_every_field_is_accepted_and_limits_equal_the_gateway(sandbox, gateway, results):
    sb = sandbox
    res = configure(sb, gateway, gateway.keys['full'])
    assert res['_status'] == 'CHANGED', res
    listing = dict((m['id'], m) for m in gateway.listing(gateway.keys['full']))
    expected = chat_ids(listing.values())
    seen = verbose_models(sb)
    assert sorted(seen) == expected == sorted(res['models'])
    written = json.load(open(sb.path(CONFIG)))['provider'][NAME]['models']
    observed = {}
    for mid in expected:
        g, oc, w = listing[mid], seen[mid], written[mid]
        caps = g.get('capabilities', {})
        if 'context_length' in g and 'max_output_tokens' in g:
            assert w['limit'] == {'context': g['context_length'], 'output': g['max_output_tokens']}
            assert oc['limit'] == w['limit']
            assert all(isinstance(v, int) and not isinstance(v, bool) for v in w['limit'].values())
        else:
            # Only one figure (a combo): no limit written; OpenCode falls back to 0/0.
            assert 'limit' not in w and oc['limit'] == {'context': 0, 'output': 0}
        assert w['tool_call'] is caps['tool_calling'] is oc['capabilities']['toolcall']
        assert w['reasoning'] is oc['capabilities']['reasoning']
        assert w['reasoning'] == bool(caps.get('reasoning') or caps.get('thinking'))
        if 'input_modalities' in g:
            assert w['modalities'] == {'input': g['input_modalities'], 'output': g['output_modalities']}
            assert sorted(k for k, v in oc['capabilities']['input'].items() if v) == sorted(g['input_modalities'])
            assert sorted(k for k, v in oc['capabilities']['output'].items() if v) == sorted(g['output_modalities'])
            assert w['attachment'] is oc['capabilities']['attachment'] is ('image' in g['input_modalities'])
        else:
            assert 'modalities' not in w and 'attachment' not in w
        observed[mid] = dict(written={k: v for k, v in w.items() if k != 'name'},
                             opencode=dict(limit=oc['limit'], capabilities=oc['capabilities']))
    # Both kinds of model were seen: with limits and modalities, and a combo without.
    assert any('modalities' in o['written'] for o in observed.values())
    assert any('limit' not in o['written'] for o in observed.values())
    with open(os.path.join(results, 'fields.json'), 'w') as f:
        json.dump(observed, f, indent=1, sort_keys=True)
    # Idempotence: the same answer gives the same bytes and changed=false.
    before = sb.snapshot()
    again = configure(sb, gateway, gateway.keys['full'])
    assert again['_status'] == 'SUCCESS' and again['changed'] is False, again
    assert sb.snapshot() == before


def test_include_exclude_and_pinned_auto(sandbox, gateway):
    sb = sandbox
    include, exclude = ['openai/gpt-*', 'team-*'], ['*-mini', '*-nano', 'openai/gpt-4.1']
    pinned = ['auto', {'id': 'openai/o3', 'name': 'O3', 'tool_call': False}]
    res = configure(sb, gateway, gateway.keys['full'], models=pinned,
                    catalog_include=include, catalog_exclude=exclude)
    assert res['_status'] == 'CHANGED', res
    chat = chat_ids(gateway.listing(gateway.keys['full']))
    kept = [m for m in chat if any(fnmatch.fnmatchcase(m, g) for g in include)
            and not any(fnmatch.fnmatchcase(m, g) for g in exclude)]
    assert 'auto' not in chat and 'openai/o3' in chat and 'openai/o3' not in kept and len(kept) >= 3
    assert res['models'] == ['auto', 'openai/o3'] + kept
    seen = verbose_models(sb)
    assert sorted(seen) == sorted(['auto', 'openai/o3'] + kept)
    # The dict overrides the gateway's tool_calling=true, and OpenCode shows it.
    assert seen['openai/o3']['capabilities']['toolcall'] is False
    assert seen['openai/o3']['name'] == 'O3'
    entry = json.load(open(sb.path(CONFIG)))['provider'][NAME]['models']
    assert entry['auto'] == {'name': 'auto'}
    # The pinned dict's name wins; the gateway's settings for o3 are still written.
    assert entry['openai/o3']['name'] == 'O3' and entry['openai/o3']['limit']['context'] > 0
    again = configure(sb, gateway, gateway.keys['full'], models=pinned,
                      catalog_include=include, catalog_exclude=exclude)
    assert again['changed'] is False, again


def test_file_key_is_resolved_like_opencode(sandbox, gateway):
    sb = sandbox
    keyfile = sb.path('home/.config/opencode/omniroute.key')
    os.makedirs(os.path.dirname(keyfile), exist_ok=True)
    with open(keyfile, 'w') as f:
        f.write(gateway.keys['restricted'] + '\n')
    os.chmod(keyfile, 0o600)
    res = configure(sb, gateway, '{file:omniroute.key}')
    assert res['_status'] == 'CHANGED' and res['models'] == chat_ids(gateway.listing(gateway.keys['restricted']))
    assert listed(sb) == res['models']
    # {env:} unset in the module's environment: the catalog cannot be fetched; models are used.
    res = configure(sb, gateway, '{env:OMNIROUTE_GATEWAY_TEST_UNSET}', path=sb.path('other/opencode.json'),
                    models=['auto'])
    assert res['catalog']['source'] == 'models' and res['models'] == ['auto']
    assert any('cannot be fetched' in w and 'OMNIROUTE_GATEWAY_TEST_UNSET' in w for w in res['_warnings'])


def test_unknown_key_is_refused_and_nothing_changes(sandbox, gateway):
    sb = sandbox
    configure(sb, gateway, gateway.keys['restricted'])
    before = sb.snapshot()
    wrong = 'sk-never-issued-' + os.urandom(8).hex()
    res = configure(sb, gateway, wrong)
    assert res['_status'].startswith('FAILED'), res
    assert 'rejected the key' in res['msg'] and 'HTTP 401' in res['msg']
    assert 'API Manager' in res['msg'] and 'omniroute.opencode.api_key' in res['msg']
    assert sb.snapshot() == before
    sb.assert_no_secret(wrong)


def test_verify_names_a_model_the_key_may_not_use(sandbox, gateway):
    sb = sandbox
    # The user's OpenCode, installed the way its own installer does (~/.opencode/bin).
    os.makedirs(sb.path('home/.opencode/bin'))
    os.symlink(sb.opencode, sb.path('home/.opencode/bin/opencode'))
    version = sb.run_opencode('--version').stdout.strip()
    for check in (True, False):
        res = sb.module(dict(base_url=gateway.url + '/v1/', api_key=gateway.keys['restricted'],
                             catalog='static', models=['team-fast', 'openai/gpt-5.5'], verify=True), check=check)
        v = res['verify']
        assert v['reachable'] and v['status'] == 200 and v['key_accepted'] is True
        assert v['url'] == gateway.url + '/v1/models'
        assert v['missing'] == ['openai/gpt-5.5'] and 'team-fast' in v['offered_chat']
        assert v['opencode_version'] == version and v['layers'] == [] and v['ready'] is False
    # A wrong path shows up as what the configured URL really answered.
    res = sb.module(dict(base_url=gateway.url + '/wrong', api_key=gateway.keys['restricted'],
                         models=['team-fast'], verify=True), check=True)
    v = res['verify']
    assert v['url'] == gateway.url + '/wrong/v1/models' and v['reachable'] is True
    assert v['key_accepted'] is None and v['status'] == 404 and v['models_endpoint'].startswith('HTTP 404')
    assert v['ready'] is False


def _nobody_dir(root):
    """A directory ``nobody`` owns and can reach (the sandbox's parents are root's 0700 tmp)."""
    top = tempfile.mkdtemp(prefix='gateway-role-')
    os.chmod(top, 0o755)
    path = os.path.join(top, 'nobody')
    os.mkdir(path, 0o700)
    entry = pwd.getpwnam('nobody')
    os.chown(path, entry.pw_uid, entry.pw_gid)
    return top, path


def run_role(sb, extra_vars, env_extra=None):
    """The role through ansible-playbook on localhost, in the sandbox's environment."""
    play = os.path.join(sb.root, 'fleet.yml')
    with open(play, 'w') as f:
        f.write('- hosts: all\n  gather_facts: false\n  roles: [omniroute.opencode.opencode]\n')
    varfile = os.path.join(sb.root, 'fleet-vars.json')
    with open(varfile, 'w') as f:
        json.dump(extra_vars, f)
    os.chmod(varfile, 0o600)
    env = sb.base_env()
    for var in ('OPENCODE_PURE', 'OPENCODE_DISABLE_MODELS_FETCH', 'OPENCODE_DISABLE_AUTOUPDATE',
                'OPENCODE_DISABLE_LSP_DOWNLOAD', 'NO_COLOR'):
        env.pop(var, None)
    env.update({
        'PATH': os.path.dirname(sys.executable) + ':' + env['PATH'],
        'ANSIBLE_COLLECTIONS_PATH': os.environ.get('ANSIBLE_COLLECTIONS_PATH',
                                                   os.path.join(REPO, '.build', 'collections')),
        'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_LOCAL_TEMP': os.path.join(sb.root, 'tmp', 'ansible-local'),
        'ANSIBLE_REMOTE_TMP': os.path.join(sb.root, 'tmp', 'ansible-remote'),
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable, 'ANSIBLE_DEPRECATION_WARNINGS': 'False',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
    })
    env.update(env_extra or {})
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
           play, '-e', '@' + varfile]
    proc = subprocess.run(cmd, cwd=sb.cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=600, check=False)
    sb.log.append(('ansible-playbook role', proc.stdout + proc.stderr))
    return proc


def test_role_run_with_two_users_writes_the_report(sandbox, gateway, tmp_path):
    """The role, two users and an offboarded account that no longer exists: the current account
    with the full key and a gateway catalog (ready), ``nobody`` with the restricted key and a
    pinned model it may not use (not ready). The report's rows say so; no key anywhere."""
    sb = sandbox
    top, other = _nobody_dir(sb.root)
    report_dir = str(tmp_path / 'report')
    # The current account's OpenCode, where its installer puts it: the report shows its version.
    os.makedirs(sb.path('home/.opencode/bin'))
    os.symlink(sb.opencode, sb.path('home/.opencode/bin/opencode'))
    version = sb.run_opencode('--version').stdout.strip()
    try:
        proc = run_role(sb, {
            'opencode_base_url': gateway.url,
            'opencode_catalog': 'gateway',
            'opencode_catalog_include': ['openai/gpt-4o*', 'team-fast'],
            'opencode_report_dir': report_dir,
            'opencode_become': False,
            'opencode_users': [
                {'name': ME, 'api_key': gateway.keys['full']},
                {'name': 'nobody', 'api_key': gateway.keys['restricted'], 'catalog': 'static',
                 'models': ['team-fast', 'openai/gpt-5.5'], 'config_path': os.path.join(other, 'opencode.json'),
                 'auth_path': os.path.join(other, 'auth.json')},
                {'name': 'no-such-account-gw', 'state': 'absent'},
            ]})
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        with open(os.path.join(report_dir, 'opencode-report.json')) as f:
            rows = json.load(f)
        with open(os.path.join(report_dir, 'opencode-report.md')) as f:
            markdown = f.read()
        for name in ('opencode-report.json', 'opencode-report.md'):
            assert os.stat(os.path.join(report_dir, name)).st_mode & 0o777 == 0o644
        sb.log.append(('report files', json.dumps(rows) + markdown))
        # nobody's file was written by nobody; the key is only in that 0600 file.
        st = os.stat(os.path.join(other, 'opencode.json'))
        assert st.st_uid == pwd.getpwnam('nobody').pw_uid
    finally:
        shutil.rmtree(top)

    assert [(r['host'], r['user'], r['state']) for r in rows] == [
        ('localhost', ME, 'present'), ('localhost', 'nobody', 'present'),
        ('localhost', 'no-such-account-gw', 'absent')]
    me, nobody, gone = rows
    # The gateway's own answers are the oracle.
    full_chat = [m for m in chat_ids(gateway.listing(gateway.keys['full']))
                 if fnmatch.fnmatchcase(m, 'openai/gpt-4o*') or m == 'team-fast']
    assert me['ready'] is True and me['reachable'] is True and me['key_accepted'] is True
    assert me['missing'] == [] and sorted(me['models']) == full_chat and me['layers'] == []
    assert me['file'] == sb.path(CONFIG) and me['key_store'] == 'config'
    assert version and me['opencode_version'] == version and nobody['opencode_version'] is None
    assert listed(sb) == full_chat
    assert nobody['ready'] is False and nobody['key_accepted'] is True
    assert nobody['models'] == ['team-fast', 'openai/gpt-5.5'] and nobody['missing'] == ['openai/gpt-5.5']
    assert nobody['file'] == os.path.join(other, 'opencode.json')
    assert gone['ready'] is None and gone['file'] is None
    # The Markdown has the same rows, and the summary names the user who is not ready.
    assert '1 ready, 1 not ready, 0 not verified, 1 removed.' in markdown
    assert '- nobody@localhost: models not offered to the key: openai/gpt-5.5' in markdown
    assert markdown.count('\n| localhost | ') == 3
    assert "'ready': 1" in proc.stdout and "'not_ready': 1" in proc.stdout or \
        '"ready": 1' in proc.stdout and '"not_ready": 1' in proc.stdout, proc.stdout[-2000:]
    assert 'nobody@localhost: models not offered to the key: openai/gpt-5.5' in proc.stdout
    # (the sandbox fixture then greps every output, the report files included, for every key)


def test_role_managed_scope_catalog_from_the_gateway_and_verify(sandbox, gateway, tmp_path):
    """Managed scope with opencode_catalog gateway: the managed module asks the gateway with the
    user's key (never written to the managed file), the users run stores the key and verifies
    as the user; OpenCode offers exactly the key's chat models. Without a key on the controller
    (opencode_api_key_source user) the host fails before anything is written."""
    sb = sandbox
    managed = str(tmp_path / 'etc-opencode')
    report_dir = str(tmp_path / 'report')
    env = {'OPENCODE_TEST_MANAGED_CONFIG_DIR': managed}
    base = {'opencode_base_url': gateway.url, 'opencode_scope': 'managed', 'opencode_managed_dir': managed,
            'opencode_catalog': 'gateway', 'opencode_become': False, 'ansible_become_method': 'su',
            'opencode_report_dir': report_dir}
    proc = run_role(sb, dict(base, opencode_api_key_source='user', opencode_users=[{'name': ME}]), env)
    assert proc.returncode != 0 and not os.path.exists(managed), proc.stdout[-3000:]
    assert 'host localhost: opencode_catalog gateway in managed scope' in proc.stdout, proc.stdout[-3000:]

    # A stale user-scope entry: removed by the run, so verify does not count it.
    os.makedirs(sb.path('home/.config/opencode'))
    with open(sb.path(CONFIG), 'w') as f:
        json.dump({'provider': {NAME: {'options': {'baseURL': 'http://127.0.0.1:9/v1'}}}}, f)
    proc = run_role(sb, dict(base, opencode_users=[{'name': ME, 'api_key': gateway.keys['restricted']}]), env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    expected = chat_ids(gateway.listing(gateway.keys['restricted']))
    with open(os.path.join(managed, 'opencode.json')) as f:
        text = f.read()
    sb.log.append(('managed file', text))
    assert 'apiKey' not in text and gateway.keys['restricted'] not in text
    assert sorted(json.loads(text)['provider'][NAME]['models']) == expected
    with open(os.path.join(report_dir, 'opencode-report.json')) as f:
        (row,) = json.load(f)
    assert row['ready'] is True and row['key_accepted'] is True and row['layers'] == [], row
    assert row['scope'] == 'managed' and row['key'] == 'present'
    assert row['managed_file'] == os.path.join(managed, 'opencode.json')
    proc_models = sb.run_opencode('models', NAME, env=env)
    assert proc_models.returncode == 0, proc_models.stderr[-1000:]
    assert sorted(line.strip()[len(NAME) + 1:] for line in proc_models.stdout.splitlines() if line.strip()) == expected


class Relay(object):
    """A TCP relay on 127.0.0.1 to the gateway; ``stop()`` makes its address unreachable while
    the shared server keeps running for the other tests."""

    def __init__(self, target_url):
        host, port = target_url.split('://', 1)[1].split(':')
        self.target = (host, int(port.split('/')[0]))
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(16)
        self.url = 'http://127.0.0.1:%d' % self.listener.getsockname()[1]
        self.sockets = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            if self.stopped:
                client.close()
                return
            upstream = socket.create_connection(self.target, timeout=30)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    def stop(self):
        self.stopped = True
        try:
            # Wakes the accept() of the relay's thread (close() alone would leave it accepting).
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.close()
            except OSError:
                pass


def test_gateway_gone_keeps_the_file(sandbox, gateway):
    """The gateway goes away (its relay stops; the shared server keeps serving the other tests)."""
    sb = sandbox
    relay = Relay(gateway.url)
    try:
        args = dict(base_url=relay.url, api_key=gateway.keys['restricted'], catalog='gateway', models=['auto'])
        res = sb.module(args)
        assert res['_status'] == 'CHANGED', res
        before = sb.snapshot()
        relay.stop()
        res = sb.module(args)
        assert res['_status'] == 'SUCCESS' and res['changed'] is False, res
        assert res['catalog']['source'] == 'kept'
        assert sb.snapshot() == before
        url = relay.url + '/v1/models'
        warnings = [w for w in res['_warnings'] if url in w]
        assert warnings, res['_warnings']
        user = os.environ.get('USER', 'root')
        assert socket.gethostname() in warnings[0] and 'user %s' % user in warnings[0]
        assert 'unreachable' in warnings[0] and 'kept the current catalog' in warnings[0]
        res = sb.module(dict(args, catalog_offline='fail'))
        assert res['_status'].startswith('FAILED') and 'catalog_offline=fail' in res['msg']
        assert sb.snapshot() == before
    finally:
        relay.stop()
    # The shared server still answers: the other tests may run after this one.
    assert gateway.listing(gateway.keys['full'])
