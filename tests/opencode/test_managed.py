"""The managed (administrator) tier against the real OpenCode client.

A managed directory written by omniroute.opencode.managed is shared by several scratch users
through OPENCODE_TEST_MANAGED_CONFIG_DIR (OpenCode's own test hook for /etc/opencode).  Each
user's key reaches OpenCode through that user's auth.json, written by _configure.plan_managed_user.
What a user can and cannot override is measured here; docs/managed.md reports it.
"""

import json
import os
import stat

import pytest

from harness import CaptureServer

from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _managed as mg

NAME = 'omniroute'


@pytest.fixture
def capture():
    server = CaptureServer()
    yield server
    server.close()


@pytest.fixture
def managed_dir(tmp_path):
    path = tmp_path / 'etc-opencode'
    return str(path)


def write_managed(sb, managed_dir, base_url, **kw):
    args = {'directory': managed_dir, 'base_url': base_url, 'models': ['auto']}
    args.update(kw)
    res = sb.module(args, name='omniroute.opencode.managed')
    assert res['_status'] in ('CHANGED', 'SUCCESS'), res
    path = os.path.join(managed_dir, 'opencode.json')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    with open(path) as f:
        text = f.read()
    assert 'apiKey' not in text
    return res


def user(sandbox_factory, tag, managed_dir, extra_env=None):
    env = {'OPENCODE_TEST_MANAGED_CONFIG_DIR': managed_dir}
    env.update(extra_env or {})
    return sandbox_factory(tag, env=env)


def user_file(sb, data, name='opencode.json'):
    directory = os.path.join(sb.home, '.config', 'opencode')
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), 'w') as f:
        json.dump(data, f, indent=2)


def give_key(sb, key):
    """What the role does for each user in managed scope, in that user's environment."""
    changes = cfg.plan_managed_user(sb.base_env(), NAME, key, True)
    for change in changes:
        os.makedirs(os.path.dirname(change.real), exist_ok=True)
        with open(change.real, 'w') as f:
            f.write(change.new)
        if change.holds_secret:
            os.chmod(change.real, 0o600)
    return changes


def chat(sb, env=None):
    return sb.run_opencode('run', '-m', NAME + '/auto', 'reply with one word', env=env, timeout=180)


def sent_since(capture, start):
    auths = [a for (method, path, a) in capture.seen[start:]
             if method == 'POST' and path.endswith('/chat/completions')]
    assert auths, 'OpenCode sent no chat request to %s: %r' % (capture.url, capture.seen)
    return set(auths)


def offered(sb, env=None):
    """Every model `opencode models` offers (all providers)."""
    proc = sb.run_opencode('models', env=env)
    assert proc.returncode == 0, proc.stderr[-500:]
    return sorted(line.strip() for line in proc.stdout.splitlines() if line.strip())


DIRECT = {'npm': '@ai-sdk/openai-compatible', 'name': 'Direct',
          'options': {'baseURL': 'http://127.0.0.1:9/v1'}, 'models': {'gpt-direct': {}}}


# --------------------------------------------------------------------------- keys
def test_two_users_each_send_their_own_key(sandbox_factory, capture, managed_dir, api_key):
    admin = sandbox_factory('admin')
    write_managed(admin, managed_dir, capture.url, only_gateway=True)
    alice = user(sandbox_factory, 'alice', managed_dir)
    bob = user(sandbox_factory, 'bob', managed_dir)
    keys = {'alice': api_key + 'a', 'bob': api_key + 'b'}
    # Alice still has her user-scope entry, with a key that would win over auth.json.
    user_file(alice, {'provider': {NAME: {'options': {'baseURL': 'http://127.0.0.1:9/v1',
                                                      'apiKey': keys['alice'] + '-stale'},
                                          'models': {'old-model': {}}}},
                      'model': NAME + '/auto'})
    changes = give_key(alice, keys['alice'])
    assert [c.words for c in changes][0] == ['stored the key for omniroute']
    assert any('removed provider.omniroute' in w for c in changes for w in c.words)
    give_key(bob, keys['bob'])
    for who, sb in (('alice', alice), ('bob', bob)):
        auth = os.path.join(sb.home, '.local', 'share', 'opencode', 'auth.json')
        assert stat.S_IMODE(os.stat(auth).st_mode) == 0o600
        report = sb.ask()
        assert report.base_url == capture.url + '/v1'
        assert report.models == [NAME + '/auto'], report.summary()   # the stale model is gone
        assert 'apiKey' not in report.entry['options']
        start = len(capture.seen)
        chat(sb)
        assert sent_since(capture, start) == {'Bearer ' + keys[who]}
    with open(os.path.join(alice.home, '.config', 'opencode', 'opencode.json')) as f:
        assert json.load(f)['model'] == NAME + '/auto'  # the user's own choice stays
    for sb in (admin, alice, bob):
        sb.assert_no_secret(*keys.values())


def test_a_user_without_a_key_still_starts_and_sends_none(sandbox_factory, capture, managed_dir):
    """Why auth.json and not {file:~/...}: a user with no key keeps a working OpenCode."""
    write_managed(sandbox_factory('admin'), managed_dir, capture.url)
    carol = user(sandbox_factory, 'carol', managed_dir)
    report = carol.ask()
    assert report.config_rc == 0 and report.models == [NAME + '/auto']
    start = len(capture.seen)
    chat(carol)
    assert sent_since(capture, start) == {None}


def test_file_reference_resolves_per_home_but_breaks_users_without_the_file(sandbox_factory, capture,
                                                                            managed_dir, api_key):
    """The alternative the issue offers, measured: `{file:~/...}` in the managed entry is read
    from each user's own home, but OpenCode refuses to start for a user who lacks the file."""
    os.makedirs(managed_dir)
    with open(os.path.join(managed_dir, 'opencode.json'), 'w') as f:
        json.dump({'provider': {NAME: {'npm': '@ai-sdk/openai-compatible', 'name': 'OmniRoute',
                                       'options': {'baseURL': capture.url + '/v1',
                                                   'apiKey': '{file:~/.config/opencode/omniroute.key}'},
                                       'models': {'auto': {}}}}}, f)
    dave = user(sandbox_factory, 'dave', managed_dir)
    os.makedirs(os.path.join(dave.home, '.config', 'opencode'))
    with open(os.path.join(dave.home, '.config', 'opencode', 'omniroute.key'), 'w') as f:
        f.write(api_key + '\n')
    start = len(capture.seen)
    chat(dave)
    assert sent_since(capture, start) == {'Bearer ' + api_key}
    erin = user(sandbox_factory, 'erin', managed_dir)
    proc = erin.run_opencode('models')
    assert proc.returncode != 0
    assert 'Configuration is invalid' in proc.stderr and 'omniroute.key does not exist' in proc.stderr
    dave.assert_no_secret(api_key)


# --------------------------------------------------------------------------- what the managed layer pins
def test_user_edited_base_url_loses_to_the_managed_one(sandbox_factory, capture, managed_dir, api_key):
    write_managed(sandbox_factory('admin'), managed_dir, capture.url)
    sb = user(sandbox_factory, 'u', managed_dir)
    give_key(sb, api_key)
    # Edited after the run, as a developer would.
    user_file(sb, {'provider': {NAME: {'options': {'baseURL': 'http://127.0.0.1:9/elsewhere/v1'}}}})
    report = sb.ask(parts=('config',))
    assert report.base_url == capture.url + '/v1'
    start = len(capture.seen)
    chat(sb)
    assert sent_since(capture, start) == {'Bearer ' + api_key}
    sb.assert_no_secret(api_key)


def test_only_gateway_hides_a_users_own_provider(sandbox_factory, managed_dir):
    sb = user(sandbox_factory, 'u', managed_dir)
    user_file(sb, {'provider': {'direct': DIRECT}, 'model': 'direct/gpt-direct'})
    write_managed(sandbox_factory('admin'), managed_dir, 'http://127.0.0.1:20168')
    # Control: without the allow-list the user's provider is offered next to the gateway, and
    # so are OpenCode's built-in `opencode/...` models (OpenCode's own service, not the gateway).
    before = offered(sb)
    assert 'direct/gpt-direct' in before and NAME + '/auto' in before
    assert any(m.startswith('opencode/') for m in before), before
    # A user's own allow-list is replaced by the managed one.
    user_file(sb, {'provider': {'direct': DIRECT}, 'model': 'direct/gpt-direct',
                   'enabled_providers': ['direct']})
    write_managed(sandbox_factory('admin2'), managed_dir, 'http://127.0.0.1:20168', only_gateway=True)
    assert offered(sb) == [NAME + '/auto']
    report = sb.ask('direct')
    assert report.not_found and report.config['enabled_providers'] == [NAME]


def test_managed_settings_win(sandbox_factory, managed_dir):
    sb = user(sandbox_factory, 'u', managed_dir)
    user_file(sb, {'autoupdate': True, 'share': 'auto'})
    write_managed(sandbox_factory('admin'), managed_dir, 'http://127.0.0.1:20168',
                  settings={'autoupdate': False, 'share': 'disabled'})
    config = sb.ask(parts=('config',)).config
    assert config['autoupdate'] is False and config['share'] == 'disabled'


# --------------------------------------------------------------------------- what a user can still do
@pytest.fixture
def pinned(sandbox_factory, managed_dir):
    """A user with their own `direct` provider under a managed layer with only_gateway and a
    managed permission; returns (sandbox, a project directory)."""
    write_managed(sandbox_factory('admin'), managed_dir, 'http://127.0.0.1:20168', only_gateway=True,
                  settings={'permission': {'bash': 'deny'}})
    sb = user(sandbox_factory, 'u', managed_dir)
    user_file(sb, {'provider': {'direct': DIRECT}})
    return sb


ELSEWHERE = 'http://127.0.0.1:9/override/v1'
OVERRIDE = {'provider': {NAME: {'options': {'baseURL': ELSEWHERE}}, 'direct2': DIRECT},
            'enabled_providers': ['direct2', 'direct'], 'permission': {'bash': 'allow'}}


def assert_pinned(report):
    assert report.base_url == 'http://127.0.0.1:20168/v1'
    assert report.config['enabled_providers'] == [NAME]
    assert report.config['permission']['bash'] == 'deny'


def test_opencode_config_content_cannot_override(pinned):
    env = {'OPENCODE_CONFIG_CONTENT': json.dumps(OVERRIDE)}
    assert_pinned(pinned.ask(env=env, parts=('config',)))
    assert offered(pinned, env=env) == [NAME + '/auto']


def test_opencode_config_file_cannot_override(pinned):
    path = os.path.join(pinned.root, 'custom.json')
    with open(path, 'w') as f:
        json.dump(OVERRIDE, f)
    env = {'OPENCODE_CONFIG': path}
    assert_pinned(pinned.ask(env=env, parts=('config',)))
    assert offered(pinned, env=env) == [NAME + '/auto']


@pytest.mark.parametrize('where', ['opencode.json', '.opencode/opencode.json'])
def test_project_config_cannot_override(pinned, where):
    path = os.path.join(pinned.cwd, where)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(OVERRIDE, f)
    assert_pinned(pinned.ask(parts=('config',)))
    assert offered(pinned) == [NAME + '/auto']


def test_user_can_add_models_and_options_under_the_managed_entry(pinned):
    """Layers deep-merge: keys the managed entry does not set come from the user (they still
    go to the gateway, which enforces the key's allowed models)."""
    user_file(pinned, {'provider': {'direct': DIRECT, NAME: {'models': {'my-extra': {}},
                                                             'options': {'timeout': 5000}}}})
    report = pinned.ask()
    assert report.models == [NAME + '/auto', NAME + '/my-extra']
    assert report.entry['options']['timeout'] == 5000 and report.base_url == 'http://127.0.0.1:20168/v1'


def test_user_can_disable_the_gateway_for_themselves(pinned):
    user_file(pinned, {'provider': {'direct': DIRECT}, 'disabled_providers': [NAME]})
    assert offered(pinned) == []


def test_opencode_permission_overrides_managed_permission(pinned):
    report = pinned.ask(env={'OPENCODE_PERMISSION': json.dumps({'bash': 'allow'})}, parts=('config',))
    assert report.config['permission']['bash'] == 'allow'
    assert report.base_url == 'http://127.0.0.1:20168/v1'


def test_test_managed_config_dir_variable_escapes_the_managed_layer(pinned, tmp_path):
    """OpenCode 1.18.33 reads OPENCODE_TEST_MANAGED_CONFIG_DIR in release builds too: a user
    who points it at an empty directory drops the whole managed layer on Linux."""
    env = {'OPENCODE_TEST_MANAGED_CONFIG_DIR': str(tmp_path / 'empty')}
    report = pinned.ask(env=env, parts=('config',))
    assert report.entry is None and 'enabled_providers' not in report.config
    models = offered(pinned, env=env)
    assert 'direct/gpt-direct' in models and NAME + '/auto' not in models
    # Without any allow-list OpenCode also offers its built-in `opencode/...` models, which go
    # to OpenCode's own service and not through the gateway.
    assert any(m.startswith('opencode/') for m in models), models


def test_verify_reports_the_user_layer_that_real_opencode_merges_under_the_managed_entry(pinned, managed_dir,
                                                                                         api_key):
    """What verify calls a user layer carrying the provider is what OpenCode merges: a global
    copy the plan removes is gone for both; an OPENCODE_CONFIG copy (not the module's to edit)
    stays in OpenCode's entry and in verify's layers."""
    user_file(pinned, {'provider': {'direct': DIRECT, NAME: {'models': {'global-extra': {}}}}})
    custom = os.path.join(pinned.root, 'custom.json')
    with open(custom, 'w') as f:
        json.dump({'provider': {NAME: {'models': {'my-extra': {}}}}}, f)
    env = dict(pinned.base_env(), OPENCODE_CONFIG=custom, OPENCODE_TEST_MANAGED_CONFIG_DIR=managed_dir)
    changes = cfg.plan_managed_user(env, NAME, api_key, True)
    pending = dict((c.path, c.new) for c in changes)
    res = mg.verify_user({'name': NAME, 'base_url': 'http://127.0.0.1:20168/v1', 'timeout': 2}, api_key, env,
                         pinned.home, 'present', os.path.join(pinned.home, '.local', 'share', 'opencode', 'auth.json'),
                         'user u on test', pending=pending, directory=managed_dir)
    assert res['managed']['matches'] and res['managed']['path'] == os.path.join(managed_dir, 'opencode.json')
    assert [(layer['kind'], layer['path']) for layer in res['layers']] == [('OPENCODE_CONFIG', custom)]
    assert res['ready'] is False and custom in res['cause'] and api_key not in json.dumps(res)
    give_key(pinned, api_key)
    report = pinned.ask(env={'OPENCODE_CONFIG': custom})
    assert report.models == [NAME + '/auto', NAME + '/my-extra'], report.summary()
    assert report.base_url == 'http://127.0.0.1:20168/v1'
    pinned.assert_no_secret(api_key)
