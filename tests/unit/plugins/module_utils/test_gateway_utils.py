# -*- coding: utf-8 -*-
"""_gateway: key resolution, answer classification, catalog building, config layers.

The live-gateway behaviour is proven against a real OmniRoute in tests/gateway; here a small
HTTP server on 127.0.0.1 plays the answers a real one cannot be made to give on demand
(5xx, a hang, a non-JSON page, a body that echoes the key)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.server
import json
import os
import threading
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw

KEY = 'sk-unit-gateway-5e4d3c2b'

GPT4O = {'id': 'openai/gpt-4o', 'capabilities': {'vision': True, 'tool_calling': True, 'reasoning': True},
         'input_modalities': ['text', 'image'], 'output_modalities': ['text'],
         'context_length': 128000, 'max_output_tokens': 8192}
COMBO = {'id': 'team-fast', 'owned_by': 'combo', 'capabilities': {'tool_calling': True, 'reasoning': True},
         'max_output_tokens': 8192}
O3 = {'id': 'openai/o3', 'capabilities': {'tool_calling': True, 'reasoning': False},
      'context_length': 200000, 'max_output_tokens': 100000}
TTS = {'id': 'openai/tts-1', 'type': 'audio', 'max_output_tokens': 8192}
EMB = {'id': 'openai/text-embedding-3-small', 'type': 'embedding'}
IMG = {'id': 'openai/gpt-image-2', 'type': 'image', 'output_modalities': ['image']}
MOD = {'id': 'openai/omni-moderation-latest', 'type': 'moderation'}
ALL = [COMBO, GPT4O, O3, TTS, EMB, IMG, MOD]


# --------------------------------------------------------------------------- catalog
def ids(catalog):
    return [m['id'] for m in catalog]


def test_chat_models_only_sorted():
    assert ids(gw.build_catalog(ALL)) == ['openai/gpt-4o', 'openai/o3', 'team-fast']


def test_order_does_not_depend_on_the_answer_order():
    assert gw.build_catalog(ALL) == gw.build_catalog(list(reversed(ALL)))


def test_settings_from_metadata():
    cat = dict((m['id'], m) for m in gw.build_catalog(ALL))
    assert cat['openai/gpt-4o'] == {
        'id': 'openai/gpt-4o', 'name': 'openai/gpt-4o', 'limit': {'context': 128000, 'output': 8192},
        'tool_call': True, 'reasoning': True, 'attachment': True,
        'modalities': {'input': ['text', 'image'], 'output': ['text']}}
    # A combo has output tokens only: no limit at all (OpenCode refuses half a limit).
    assert cat['team-fast'] == {'id': 'team-fast', 'name': 'team-fast', 'tool_call': True, 'reasoning': True}
    assert cat['openai/o3']['reasoning'] is False and 'attachment' not in cat['openai/o3']


@pytest.mark.parametrize('context,output,expected', [
    (128000, 8192, {'context': 128000, 'output': 8192}),
    (128000.0, 8192, {'context': 128000, 'output': 8192}),
    (None, 8192, None), (128000, None, None), (128000.5, 8192, None), (True, 8192, None),
    (0, 8192, None), ('128000', 8192, None), (-1, 8192, None),
])
def test_limit_is_a_whole_pair_or_nothing(context, output, expected):
    model = {'id': 'm', 'context_length': context, 'max_output_tokens': output}
    limit = gw.model_settings(model).get('limit')
    assert limit == expected
    if limit:
        assert all(isinstance(v, int) and not isinstance(v, bool) for v in limit.values())


def test_modalities_keep_only_what_opencode_accepts():
    s = gw.model_settings({'id': 'm', 'input_modalities': ['text', 'file', 'PDF', 'text'],
                           'output_modalities': ['text']})
    assert s['modalities'] == {'input': ['text', 'pdf'], 'output': ['text']}
    assert s['attachment'] is True
    assert 'modalities' not in gw.model_settings({'id': 'm', 'input_modalities': ['file']})


def test_include_exclude_and_pinned():
    cat = gw.build_catalog(ALL, pinned=['auto', {'id': 'openai/gpt-4o', 'name': 'GPT-4o', 'limit': {'context': 1, 'output': 1}}],
                           include=['openai/*'], exclude=['*o3'])
    assert ids(cat) == ['auto', 'openai/gpt-4o']
    assert cat[0] == {'id': 'auto', 'name': 'auto'}
    # The dict overrides the gateway's settings for its id, and keeps the others.
    assert cat[1]['name'] == 'GPT-4o' and cat[1]['limit'] == {'context': 1, 'output': 1}
    assert cat[1]['tool_call'] is True


def test_pinned_id_gets_gateway_settings_and_is_not_repeated():
    cat = gw.build_catalog(ALL, pinned=['team-fast', ' team-fast '], exclude=['team-*'])
    assert ids(cat) == ['team-fast', 'openai/gpt-4o', 'openai/o3']
    assert cat[0]['tool_call'] is True


def test_globs_are_case_sensitive():
    assert ids(gw.build_catalog(ALL, include=['OPENAI/*'])) == []


# --------------------------------------------------------------------------- key resolution
def test_literal_key():
    assert gw.resolve_key(KEY, {}, '/nowhere', '/nowhere/x.json') == (KEY, None)


def test_env_key(tmp_path):
    assert gw.resolve_key('{env:OMR}', {'OMR': KEY}, str(tmp_path), str(tmp_path / 'c.json')) == (KEY, None)
    key, problem = gw.resolve_key('{env:OMR}', {}, str(tmp_path), str(tmp_path / 'c.json'))
    assert key is None and 'OMR is not set' in problem


def test_file_key_home_and_relative(tmp_path):
    (tmp_path / 'k').write_text('  %s\n' % KEY)
    conf = tmp_path / '.config' / 'opencode'
    conf.mkdir(parents=True)
    (conf / 'omr.key').write_text(KEY + '\n')
    target = str(conf / 'opencode.json')
    assert gw.resolve_key('{file:~/k}', {}, str(tmp_path), target) == (KEY, None)
    assert gw.resolve_key('{file:omr.key}', {}, str(tmp_path), target) == (KEY, None)
    assert gw.resolve_key('{file:%s}' % (tmp_path / 'k'), {}, '/elsewhere', target) == (KEY, None)
    key, problem = gw.resolve_key('{file:missing.key}', {}, str(tmp_path), target)
    assert key is None and str(conf / 'missing.key') in problem


# --------------------------------------------------------------------------- answers
class Stub(object):
    """127.0.0.1 server answering GET with a configurable (status, body, delay)."""

    def __init__(self):
        self.reply = (200, b'{}', 0)
        self.auth = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                stub.auth.append((self.path, self.headers.get('authorization')))
                status, body, delay = stub.reply
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header('content-length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d/v1' % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope='module')
def stub():
    s = Stub()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_ok_sends_bearer(stub):
    stub.reply = (200, json.dumps({'object': 'list', 'data': ALL + [{'id': ''}, 'x']}).encode(), 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.outcome == gw.OK and ans.status == 200 and len(ans.models) == len(ALL)
    assert stub.auth[-1] == ('/v1/models', 'Bearer ' + KEY)


@pytest.mark.parametrize('status,outcome', [(401, gw.REJECTED), (403, gw.REJECTED), (500, gw.OFFLINE),
                                            (503, gw.OFFLINE), (404, gw.BAD), (400, gw.BAD)])
def test_status_classes(stub, status, outcome):
    stub.reply = (status, json.dumps({'error': {'message': 'bad key %s' % KEY}}).encode(), 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.outcome == outcome and ans.status == status
    assert KEY not in repr(ans) and 'bad key' in ans.cause


def test_not_a_model_list(stub):
    stub.reply = (200, b'<!DOCTYPE html><html>login</html>', 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.outcome == gw.BAD and 'HTML' in ans.cause
    stub.reply = (200, b'{"models": []}', 0)
    assert gw.fetch_models(stub.url, KEY).outcome == gw.BAD


def test_timeout_is_bounded(stub):
    stub.reply = (200, b'{"data": []}', 3)
    t0 = time.time()
    ans = gw.fetch_models(stub.url, KEY, timeout=1)
    assert ans.outcome == gw.OFFLINE and 'timeout' in ans.cause
    assert time.time() - t0 < 2.5


def test_refused_connection():
    ans = gw.fetch_models('http://127.0.0.1:9/v1', KEY, timeout=2)
    assert ans.outcome == gw.OFFLINE and ans.status is None and 'unreachable' in ans.cause


def test_tls_is_verified(stub):
    # An https URL at a plain-HTTP port fails the TLS handshake: offline, with the cause named.
    ans = gw.fetch_models(stub.url.replace('http:', 'https:'), KEY, timeout=2)
    assert ans.outcome == gw.OFFLINE and ans.status is None


# --------------------------------------------------------------------------- verify
def test_verify_names_missing_models_layers_and_no_key(stub, tmp_path):
    stub.reply = (200, json.dumps({'data': [COMBO, GPT4O, TTS]}).encode(), 0)
    home = tmp_path / 'home'
    managed = tmp_path / 'managed'
    (home / '.opencode').mkdir(parents=True)
    managed.mkdir()
    (home / '.opencode' / 'opencode.json').write_text('{"disabled_providers": ["omniroute"]}')
    (managed / 'opencode.jsonc').write_text('// admin\n{"provider": {"omniroute": {"options": {"baseURL": "x"}}}}')
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    fake = bindir / 'opencode'
    fake.write_text('#!/bin/sh\necho 9.9.9\n')
    fake.chmod(0o755)
    env = {'OMR': KEY, 'OPENCODE_TEST_MANAGED_CONFIG_DIR': str(managed), 'PATH': str(bindir)}
    res = gw.verify({'name': 'omniroute', 'base_url': stub.url}, '{env:OMR}', env, str(home),
                    configured=['auto', 'team-fast', 'openai/o3'])
    assert res['reachable'] and res['status'] == 200 and res['key_accepted'] is True
    assert res['offered'] == ['team-fast', 'openai/gpt-4o', 'openai/tts-1']
    assert res['offered_chat'] == ['team-fast', 'openai/gpt-4o']
    assert res['missing'] == ['auto', 'openai/o3']
    assert res['opencode'] == str(fake) and res['opencode_version'] == '9.9.9'
    kinds = dict((layer['kind'], layer['effects']) for layer in res['layers'])
    assert kinds['~/.opencode'] == ['lists omniroute in disabled_providers']
    assert kinds['managed (administrator)'] == ['sets provider.omniroute (options.baseURL)']
    assert res['ready'] is False
    assert KEY not in json.dumps(res)
    # The pending text of a planned change is what counts.
    res = gw.verify({'name': 'omniroute', 'base_url': stub.url}, '{env:OMR}', env, str(home),
                    configured=['team-fast'], pending={str(home / '.opencode' / 'opencode.json'): '{}'})
    assert [layer['kind'] for layer in res['layers']] == ['managed (administrator)']


def test_verify_rejected_and_unresolvable(stub, tmp_path):
    stub.reply = (401, b'{"error": {"message": "Invalid API key"}}', 0)
    res = gw.verify({'base_url': stub.url}, KEY, {'PATH': ''}, str(tmp_path))
    assert res['key_accepted'] is False and res['status'] == 401 and not res['ready']
    res = gw.verify({'base_url': stub.url}, '{env:NOPE}', {'PATH': ''}, str(tmp_path))
    assert res['key_accepted'] is None and res['status'] is None and 'NOPE' in res['cause']


def test_opencode_version_writes_nothing_in_home(tmp_path, monkeypatch):
    fake = tmp_path / 'opencode'
    fake.write_text('#!/bin/sh\nmkdir -p "$HOME/.cache/opencode" && echo 1.2.3\n')
    fake.chmod(0o755)
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    os.makedirs(str(tmp_path / 'home'))
    assert gw.opencode_version(str(fake)) == ('1.2.3', None)
    assert os.listdir(str(tmp_path / 'home')) == []


# --------------------------------------------------------------------------- planning (_configure)
def plan_for(home, **params):
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
    full = dict(cfg.PARAM_DEFAULTS, catalog='gateway', api_key=KEY)
    full.update(params)
    environ = {'HOME': str(home), 'XDG_CONFIG_HOME': str(home / '.config'),
               'XDG_DATA_HOME': str(home / '.local' / 'share')}
    return cfg.plan(full, environ, who='user u on h')


def test_plan_gateway_catalog_and_offline_keep(stub, tmp_path):
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
    stub.reply = (200, json.dumps({'data': ALL}).encode(), 0)
    plan = plan_for(tmp_path, base_url=stub.url, models=['auto'])
    assert plan.spec.model_ids == ['auto', 'openai/gpt-4o', 'openai/o3', 'team-fast']
    assert plan.catalog['source'] == 'gateway' and plan.catalog['offered'] == len(ALL)
    target = plan.changes[-1]
    assert target.path == str(tmp_path / '.config' / 'opencode' / 'opencode.json')
    os.makedirs(os.path.dirname(target.path))
    # A hand-made catalog in the file, then the gateway goes away: it is kept byte for byte.
    text = target.new.replace('"openai/o3": {', '"openai/o3": {\n          // mine\n          "x": 1,')
    with open(target.path, 'w') as f:
        f.write(text)
    stub.reply = (503, b'{"error": "down"}', 0)
    plan = plan_for(tmp_path, base_url=stub.url, models=['auto'])
    assert plan.changes == [] and plan.catalog['source'] == 'kept'
    assert 'user u on h' in plan.warnings[0] and stub.url + '/models' in plan.warnings[0]
    assert 'HTTP 503' in plan.warnings[0]
    with pytest.raises(cfg.Failure) as exc:
        plan_for(tmp_path, base_url=stub.url, models=['auto'], catalog_offline='fail')
    assert 'catalog_offline=fail' in str(exc.value)


def test_plan_gateway_offline_without_catalog(stub, tmp_path):
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
    stub.reply = (500, b'', 0)
    plan = plan_for(tmp_path, base_url=stub.url, models=['auto'])
    assert plan.spec.model_ids == ['auto'] and plan.catalog['source'] == 'models'
    with pytest.raises(cfg.Failure) as exc:
        plan_for(tmp_path, base_url=stub.url)
    assert 'nothing to write' in str(exc.value)


@pytest.mark.parametrize('status,words', [(401, 'API Manager'), (404, 'check base_url')])
def test_plan_gateway_failures_name_the_fix_and_not_the_key(stub, tmp_path, status, words):
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
    stub.reply = (status, json.dumps({'error': 'no such key ' + KEY}).encode(), 0)
    with pytest.raises(cfg.Failure) as exc:
        plan_for(tmp_path, base_url=stub.url)
    assert words in str(exc.value) and KEY not in str(exc.value)
    assert not os.path.exists(str(tmp_path / '.config'))


def test_user_layers_reads_global_files_opencode_config_and_dot_opencode_after_the_plan(tmp_path):
    home = tmp_path / 'home'
    conf = home / '.config' / 'opencode'
    conf.mkdir(parents=True)
    (home / '.opencode').mkdir()
    (conf / 'opencode.json').write_text('{"provider": {"omniroute": {"options": {"baseURL": "http://x/v1"}}}}')
    # The user's own model choice is no problem in managed scope; another provider neither.
    (conf / 'config.json').write_text('{"model": "lmstudio/q", "provider": {"lmstudio": {}}}')
    extra = tmp_path / 'extra.jsonc'
    extra.write_text('// mine\n{"provider": {"omniroute": {"models": {"m": {}}}}}')
    (home / '.opencode' / 'opencode.json').write_text('{"disabled_providers": ["omniroute"]}')
    env = {'OPENCODE_CONFIG': str(extra)}
    layers = gw.user_layers('omniroute', env, str(home))
    assert [(layer['kind'], layer['path']) for layer in layers] == [
        ('global config', str(conf / 'opencode.json')), ('OPENCODE_CONFIG', str(extra)),
        ('~/.opencode', str(home / '.opencode' / 'opencode.json'))]
    assert layers[0]['effects'] == ['sets provider.omniroute (options.baseURL)']
    assert layers[1]['effects'] == ['sets provider.omniroute (models)']
    assert layers[2]['effects'] == ['lists omniroute in disabled_providers']
    # What the plan will write is what counts; a file that stays elsewhere still counts.
    pending = {str(conf / 'opencode.json'): '{}', str(home / '.opencode' / 'opencode.json'): '{}'}
    assert [layer['kind'] for layer in gw.user_layers('omniroute', env, str(home), pending)] == ['OPENCODE_CONFIG']
    assert gw.user_layers('omniroute', {}, str(tmp_path / 'nobody')) == []
