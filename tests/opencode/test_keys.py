"""The key OpenCode really sends, for each way the module stores it.

`opencode debug config` prints every apiKey as "***" (even an empty one), so it cannot tell a
resolved key from an empty one. These tests make the real client send a chat request to an
OpenAI-compatible endpoint on 127.0.0.1 that records the Authorization header. Every module step
runs through both modules (Sandbox.module_and_twin), which must leave the same files."""

import json
import os
import stat

import pytest

from harness import CaptureServer


@pytest.fixture
def capture():
    server = CaptureServer()
    yield server
    server.close()


def chat(sb, env=None):
    """One `opencode run` against the provider; returns the process."""
    return sb.run_opencode('run', '-m', 'omniroute/auto', 'reply with one word', env=env, timeout=180)


def sent_auth(capture):
    chats = [a for (method, path, a) in capture.seen if method == 'POST' and path.endswith('/chat/completions')]
    assert chats, 'OpenCode sent no chat request to %s: %r' % (capture.url, capture.seen)
    return set(chats)


def test_inline_key_is_sent(sandbox_factory, capture, api_key):
    sb = sandbox_factory()
    res = sb.module_and_twin({'base_url': capture.url, 'api_key': api_key, 'models': ['auto']})
    assert res['changed'] and res['base_url'] == capture.url + '/v1'
    chat(sb)
    assert sent_auth(capture) == {'Bearer ' + api_key}
    sb.assert_no_secret(api_key)


def test_auth_store_key_is_sent(sandbox_factory, capture, api_key):
    sb = sandbox_factory(env={'XDG_DATA_HOME': '{root}/data'})
    cfg = os.path.join(sb.home, '.config', 'opencode')
    os.makedirs(cfg)
    # A leftover empty apiKey would hide the stored key (see test_config_key_wins_over_auth).
    with open(os.path.join(cfg, 'opencode.json'), 'w') as f:
        json.dump({'provider': {'omniroute': {'options': {'baseURL': 'http://127.0.0.1:9/v1', 'apiKey': ''},
                                              'models': {'old': {}}}}}, f)
    res = sb.module_and_twin({'base_url': capture.url, 'api_key': api_key, 'models': ['auto'], 'key_store': 'auth'})
    assert res['changed'] and res['auth_changed']
    auth = os.path.join(sb.root, 'data', 'opencode', 'auth.json')
    assert res['auth_path'] == auth
    assert stat.S_IMODE(os.stat(auth).st_mode) == 0o600
    report = sb.ask()
    assert 'apiKey' not in report.entry['options'] and report.models == ['omniroute/auto']
    chat(sb)
    assert sent_auth(capture) == {'Bearer ' + api_key}
    # Re-run after OpenCode started: nothing to do.
    assert not sb.module_and_twin({'base_url': capture.url, 'api_key': api_key, 'models': ['auto'],
                                   'key_store': 'auth'})['changed']
    sb.assert_no_secret(api_key)


def test_env_reference_is_resolved(sandbox_factory, capture, api_key):
    sb = sandbox_factory()
    res = sb.module_and_twin({'base_url': capture.url, 'api_key': '{env:OMNIROUTE_API_KEY}', 'models': ['auto']})
    assert res['changed']
    with open(res['path']) as f:
        assert '"{env:OMNIROUTE_API_KEY}"' in f.read()
    report = sb.ask(env={'OMNIROUTE_API_KEY': api_key}, parts=('config',))
    assert report.entry['options']['apiKey'] == '***'
    chat(sb, env={'OMNIROUTE_API_KEY': api_key})
    assert sent_auth(capture) == {'Bearer ' + api_key}
    sb.assert_no_secret(api_key)


def test_env_reference_unset_sends_no_key(sandbox_factory, capture, api_key):
    """{env:VAR} with VAR unset becomes "" (debug config still shows "***")."""
    sb = sandbox_factory()
    sb.module_and_twin({'base_url': capture.url, 'api_key': '{env:OMNIROUTE_API_KEY}', 'models': ['auto']})
    report = sb.ask(parts=('config',))
    assert report.entry['options']['apiKey'] == '***'
    chat(sb)
    assert not any(a and a.strip() not in ('Bearer', '') for a in sent_auth(capture)), capture.seen


def test_config_key_wins_over_auth(sandbox_factory, capture, api_key):
    """OpenCode behaviour the module relies on: any options.apiKey, even "", hides auth.json.
    (No module runs here, so the test is not repeated per module.)"""
    sb = sandbox_factory()
    cfg = os.path.join(sb.home, '.config', 'opencode')
    data = os.path.join(sb.home, '.local', 'share', 'opencode')
    os.makedirs(cfg)
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, 'auth.json'), 'w') as f:
        json.dump({'omniroute': {'type': 'api', 'key': api_key}}, f)
    with open(os.path.join(cfg, 'opencode.json'), 'w') as f:
        json.dump({'$schema': 'https://opencode.ai/config.json',
                   'provider': {'omniroute': {'npm': '@ai-sdk/openai-compatible',
                                              'options': {'baseURL': capture.url + '/v1', 'apiKey': ''},
                                              'models': {'auto': {}}}}}, f)
    chat(sb)
    assert 'Bearer ' + api_key not in sent_auth(capture)
    sb.assert_no_secret(api_key)
