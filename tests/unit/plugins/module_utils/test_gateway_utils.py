# -*- coding: utf-8 -*-
"""_gateway: key resolution, answer classification, catalog building, verify (the layers: test_layout).

The live-gateway behaviour is proven against a real OmniRoute in tests/gateway; here the routed
test server (tests/support) plays the answers a real one cannot be made to give on demand
(5xx, a hang, a non-JSON page, a body that echoes the key); test_hostile_gateway.py has every
hostile mode."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.tests.support.http_server import Answer, Server
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.tls import https_models_gateway

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
    """The routed test server answering every request with a configurable (status, body, delay)."""

    def __init__(self):
        self.reply = (200, b'{}', 0)
        self.server = Server(default=self._answer)
        self.url = self.server.url + '/v1'

    def _answer(self, req):
        status, body, delay = self.reply
        time.sleep(delay)
        return Answer(status, body)

    @property
    def auth(self):
        return [(r.path, r.headers.get('authorization')) for r in self.server.requests]

    def close(self):
        self.server.close()


@pytest.fixture(scope='module')
def stub():
    s = Stub()
    yield s
    s.close()


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
    # The answer would take a minute; a 1 s timeout must end the wait long before that. The bound
    # is generous (a busy CI machine can stall a thread for seconds), and still proves the deadline.
    stub.reply = (200, b'{"data": []}', 60)
    t0 = time.monotonic()
    ans = gw.fetch_models(stub.url, KEY, timeout=1)
    assert ans.outcome == gw.OFFLINE and 'timeout' in ans.cause
    assert time.monotonic() - t0 < 30


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


# --------------------------------------------------------------------------- planning (_configure)
def plan_for(home, **params):
    full = dict(cfg.PARAM_DEFAULTS, catalog='gateway', api_key=KEY)
    full.update(params)
    environ = {'HOME': str(home), 'XDG_CONFIG_HOME': str(home / '.config'),
               'XDG_DATA_HOME': str(home / '.local' / 'share')}
    return cfg.plan(full, environ, who='user u on h')


def test_plan_gateway_catalog_and_offline_keep(stub, tmp_path):
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
    stub.reply = (500, b'', 0)
    plan = plan_for(tmp_path, base_url=stub.url, models=['auto'])
    assert plan.spec.model_ids == ['auto'] and plan.catalog['source'] == 'models'
    with pytest.raises(cfg.Failure) as exc:
        plan_for(tmp_path, base_url=stub.url)
    assert 'nothing to write' in str(exc.value)


@pytest.mark.parametrize('status,words', [(401, 'API Manager'), (404, 'check base_url')])
def test_plan_gateway_failures_name_the_fix_and_not_the_key(stub, tmp_path, status, words):
    stub.reply = (status, json.dumps({'error': 'no such key ' + KEY}).encode(), 0)
    with pytest.raises(cfg.Failure) as exc:
        plan_for(tmp_path, base_url=stub.url)
    assert words in str(exc.value) and KEY not in str(exc.value)
    assert not os.path.exists(str(tmp_path / '.config'))


# --------------------------------------------------------------------------- gateway values are data
@pytest.mark.parametrize('value, kept', [
    (128000, 128000), (128000.0, 128000), (1, 1), (gw.MAX_TOKENS, gw.MAX_TOKENS),
    (gw.MAX_TOKENS + 1, None), (10 ** 400, None), (float('inf'), None), (float('-inf'), None),
    (float('nan'), None), (1e999, None), (-5, None), (0, None), (1000.5, None), (True, None), (False, None),
    ('128000', None), (None, None), ([1], None), ({'n': 1}, None),
])
def test_limits_are_whole_numbers_in_range(value, kept):
    assert gw.whole(value) == kept
    model = {'id': 'm', 'context_length': value, 'max_output_tokens': 4096}
    problems = []
    settings = gw.model_settings(model, problems)
    if kept is None:
        assert 'limit' not in settings
        assert bool(problems) is (value is not None)
    else:
        assert settings['limit'] == {'context': kept, 'output': 4096} and problems == []
        assert isinstance(settings['limit']['context'], int) and not isinstance(settings['limit']['context'], float)


def test_unusable_values_are_dropped_with_one_warning_naming_the_models_which_stay():
    models = [{'id': 'big', 'context_length': 10 ** 400, 'max_output_tokens': 8192},
              {'id': 'nan', 'context_length': float('nan'), 'max_output_tokens': float('inf')},
              {'id': 'fine', 'context_length': 1000, 'max_output_tokens': 100}]
    models += [{'id': 'neg-%d' % i, 'context_length': -i - 1, 'max_output_tokens': 1} for i in range(10)]
    warnings = []
    catalog = gw.build_catalog(models, warnings=warnings)
    assert len(catalog) == len(models)
    by_id = dict((m['id'], m) for m in catalog)
    assert 'limit' not in by_id['big'] and 'limit' not in by_id['nan'] and by_id['fine']['limit'] == {
        'context': 1000, 'output': 100}
    assert len(warnings) == 1
    # At most MAX_NAMED named, the rest counted; a 400-digit number is not printed whole.
    assert "'big': context_length 100000000000... (401 digits)" in warnings[0]
    assert 'and %d more' % (13 - gw.MAX_NAMED) in warnings[0] and len(warnings[0]) < 1000


def test_ids_with_control_or_bidi_characters_or_too_long_are_left_out(stub):
    hostile = ['ctl\x1b[2Jx', 'bidi-\u202egpj.exe', 'nul\x00x', 'line\r\nbreak', 'zero\u200bwidth',
               'x' * (gw.MAX_ID + 1)]
    kept = ['<script>alert(1)</script>', '[click](http://evil.invalid)|`t`', 'x' * gw.MAX_ID, 'ünïcödé/модель']
    stub.reply = (200, json.dumps({'data': [{'id': i} for i in hostile + kept + ['  padded  ']]}).encode(), 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.outcome == gw.OK
    assert [m['id'] for m in ans.models] == kept + ['padded']
    assert len(ans.warnings) == 1 and '6 model(s)' in ans.warnings[0] and 'and 1 more' in ans.warnings[0]
    for char in ('\x1b', '\x00', '\u202e', '\u200b', '\r', '\n'):
        assert char not in ans.warnings[0] and char not in ans.summary


def test_too_many_models_is_not_a_model_list(stub):
    stub.reply = (200, json.dumps({'data': [{'id': 'm%d' % i} for i in range(gw.MAX_MODELS + 1)]}).encode(), 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.outcome == gw.BAD and 'more than the %d' % gw.MAX_MODELS in ans.cause


def test_a_deeply_nested_answer_is_bad_not_a_recursion_error(stub):
    stub.reply = (200, b'{"data": [{"id": "a", "x": ' + b'[' * 50000 + b']' * 50000 + b'}]}', 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.outcome == gw.BAD and 'nested deeper' in ans.cause


def test_error_texts_are_scrubbed_before_they_are_cut(stub):
    # The key starts at character 190: cut first at 200, 10 of its characters would be left and
    # never match the whole key.
    stub.reply = (401, json.dumps({'error': {'message': 'x' * 190 + KEY + ' refused'}}).encode(), 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.outcome == gw.REJECTED and ans.cause.startswith('HTTP 401: xxx')
    assert not any(KEY[i:i + 8] in ans.cause for i in range(len(KEY) - 7))
    stub.reply = (404, ('<p>' + 'y' * 115 + KEY + '</p>').encode(), 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.outcome == gw.BAD and not any(KEY[i:i + 8] in ans.cause for i in range(len(KEY) - 7))


def test_a_redirect_is_not_followed_and_says_where(stub):
    with Server() as other:
        stub_route = stub.server.default
        stub.server.default = lambda req: Answer(302, b'', [('Location', other.url + '/v1/models?k=1')])
        try:
            ans = gw.fetch_models(stub.url, KEY)
        finally:
            stub.server.default = stub_route
        assert ans.outcome == gw.BAD and 'redirected to %s' % other.url in ans.cause and '?k' not in ans.cause
        assert other.requests == []


@pytest.mark.parametrize('content, key', [
    (KEY + '\n', KEY), (KEY + '\r\n', KEY), ('\ufeff ' + KEY + ' \u3000\n', KEY), ('\t' + KEY + '\x0b', KEY),
])
def test_file_keys_are_trimmed_as_opencode_trims_them(tmp_path, content, key):
    # OpenCode 1.18 reads {file:} with readText(...).trim() (JavaScript's trim).
    (tmp_path / 'k').write_text(content, encoding='utf-8')
    assert gw.resolve_key('{file:~/k}', {}, str(tmp_path), str(tmp_path / 'c.json')) == (key, None)


@pytest.mark.parametrize('content', [KEY[:10] + '\n' + KEY[10:], KEY + '\x1c', KEY + '\x85', KEY[:5] + '\u202e' + KEY[5:]])
def test_file_keys_with_control_characters_inside_are_refused_unseen(tmp_path, content):
    # \x1c and \x85 are whitespace to Python's strip() but not to JavaScript's trim().
    (tmp_path / 'k').write_text(content, encoding='utf-8')
    key, problem = gw.resolve_key('{file:~/k}', {}, str(tmp_path), str(tmp_path / 'c.json'))
    assert key is None and str(tmp_path / 'k') in problem and KEY[:8] not in problem


def test_env_and_literal_keys_with_control_characters_are_refused_unseen(tmp_path):
    # OpenCode inserts an {env:} value as it is: a trailing newline would break the config.
    key, problem = gw.resolve_key('{env:OMR}', {'OMR': KEY + '\n'}, str(tmp_path), str(tmp_path / 'c.json'))
    assert key is None and 'OMR' in problem and 'line break' in problem and KEY[:8] not in problem
    key, problem = gw.resolve_key(KEY + '\r\n', {}, str(tmp_path), str(tmp_path / 'c.json'))
    assert key is None and 'line break' in problem and KEY[:8] not in problem


def test_probe_shape_and_failed_probe():
    probe = gw.probe_result('http://gw/v1/models', status=200)
    assert set(probe) >= {'url', 'reachable', 'status', 'key_accepted', 'offered', 'offered_chat', 'missing',
                          'models_endpoint', 'cause', 'opencode', 'opencode_version', 'layers', 'ready'}
    assert probe['status'] == 200 and probe['ready'] is False
    failed = gw.failed_probe('http://gw/v1/models', 'the probe failed: OSError', scope='managed')
    assert failed['reachable'] is None and failed['ready'] is False and failed['scope'] == 'managed'
    assert set(failed) >= set(probe)


# ------------------------------------------------------------------ whole answers and exact texts
# (issue 26: mutmut's survivors of _gateway.py; each answer and message is compared whole.)
def whole(ans):
    """An Answer without its timing (checked apart: a positive number of seconds)."""
    assert isinstance(ans.seconds, float) and ans.seconds > 0
    return ans._replace(seconds=None)


@pytest.mark.parametrize('status, body, outcome, cause, summary', [
    (401, b'{"error": {"code": "invalid_key"}}', gw.REJECTED, 'HTTP 401: invalid_key', 'HTTP 401'),
    (403, b'{"message": "  no access  "}', gw.REJECTED, 'HTTP 403: no access', 'HTTP 403'),
    (503, b'  upstream down  ', gw.OFFLINE, 'HTTP 503: upstream down', 'HTTP 503'),
    (500, b'<HTML><body>oops</body></HTML>', gw.OFFLINE, 'HTTP 500: an HTML page', 'HTTP 500'),
    (502, b'\n<!DOCTYPE html>', gw.OFFLINE, 'HTTP 502: an HTML page', 'HTTP 502'),
    (404, b'', gw.BAD, 'HTTP 404: an empty body', 'HTTP 404: an empty body'),
    (404, b'{"error": "   "}', gw.BAD, 'HTTP 404: {"error": "   "}', 'HTTP 404: {"error": "   "}'),
    (404, b'{"error": 5}', gw.BAD, 'HTTP 404: {"error": 5}', 'HTTP 404: {"error": 5}'),
    (400, b'\xff\xfe not utf-8', gw.BAD, 'HTTP 400: \ufffd\ufffd not utf-8', 'HTTP 400: \ufffd\ufffd not utf-8'),
    (200, b'  <html lang="en">', gw.BAD, 'HTTP 200 but the answer is not a model list (an HTML page)',
     'not JSON: an HTML page'),
    (200, b'<HTML>', gw.BAD, 'HTTP 200 but the answer is not a model list (an HTML page)', 'not JSON: an HTML page'),
    (200, b'[1, 2]', gw.BAD, 'HTTP 200 but the answer has no "data" list of models', 'JSON without a "data" list'),
    (200, b'{"data": {}}', gw.BAD, 'HTTP 200 but the answer has no "data" list of models', 'JSON without a "data" list'),
    (201, b'{"data": []}', gw.OK, None, 'a list of 0 models'),
    (299, b'{"data": [{"id": " m1 "}, {"id": 1}, "x", {"id": "  "}]}', gw.OK, None, 'a list of 1 models'),
])
def test_each_answer_whole(stub, status, body, outcome, cause, summary):
    stub.reply = (status, body, 0)
    ans = gw.fetch_models(stub.url, KEY)
    models = [{'id': 'm1'}] if status == 299 else ([] if outcome == gw.OK else None)
    assert whole(ans) == gw.Answer(stub.url + '/models', outcome, status, models, cause, summary, None, [])
    request = stub.server.requests[-1]
    assert (request.method, request.path) == ('GET', '/v1/models')
    assert request.headers.get('accept') == 'application/json'
    assert request.headers.get('user-agent') == 'omniroute.opencode-ansible'


def test_an_answer_that_is_not_json_says_why(stub):
    stub.reply = (200, b'{"data": [', 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.outcome == gw.BAD and ans.cause.startswith('HTTP 200 but the answer is not a model list (')
    assert ans.summary.startswith('not JSON: ') and 'HTML' not in ans.summary


def test_no_answer_whole():
    ans = gw.fetch_models('http://127.0.0.1:9/v1', KEY, timeout=2)
    assert (ans.outcome, ans.status, ans.summary, ans.models, ans.warnings) == (gw.OFFLINE, None, 'no answer', None, [])


def test_a_key_in_an_error_body_is_scrubbed_and_the_texts_cut_at_200(stub):
    stub.reply = (401, json.dumps({'error': {'message': 'key %s is unknown %s' % (KEY, 'z' * 300)}}).encode(), 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.cause == 'HTTP 401: key******** is unknown ' + 'z' * 174 + '...'
    stub.reply = (404, ('key %s %s' % (KEY, 'z' * 300)).encode(), 0)
    assert gw.fetch_models(stub.url, KEY).cause == 'HTTP 404: key******** ' + 'z' * 185 + '...'


def test_timeout_and_certificate_checks_reach_the_request(stub, tmp_path):
    # The timeout given is the one used (a 3 s answer with a 1 s timeout is not waited for), and
    # validate_certs=False is passed on: an https gateway with a self-signed certificate answers.
    stub.reply = (200, b'{"data": []}', 3)
    assert gw.fetch_models(stub.url, KEY, timeout=1).outcome == gw.OFFLINE
    stub.reply = (200, b'{"data": []}', 0)
    with https_models_gateway(str(tmp_path), KEY, [{'id': 'm1'}]) as (url, _seen):
        assert gw.fetch_models(url + '/v1', KEY, validate_certs=False).outcome == gw.OK
        assert gw.fetch_models(url + '/v1', KEY).outcome == gw.OFFLINE


def test_dropped_ids_are_named_and_counted(stub):
    bad = ['x' * 201, 'evil\u202eid', 'ok\x00']
    stub.reply = (200, json.dumps({'data': [{'id': i} for i in bad] + [{'id': 'x' * 200}]}).encode(), 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert ans.summary == 'a list of 1 models (3 more left out: unusable ids)'
    assert ans.warnings == [
        'the gateway at %s listed 3 model(s) whose id holds control, bidi or invisible characters, or is longer '
        'than 200 characters; they were left out: %s, %s, %s'
        % (stub.url + '/models', repr('x' * 57 + '...'), repr('evilid'), repr('ok'))]


def test_named_and_models_url():
    assert gw.named(['a', 'b', 'c', 'd', 'e']) == 'a, b, c, d, e'
    assert gw.named(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 'others') == 'a, b, c, d, e and 2 others'
    assert gw.models_url('http://gw/v1//') == 'http://gw/v1/models'
    assert gw.models_url('/relative/v1') == '/relative/v1/models'


def test_key_problems_exactly(tmp_path):
    why = _redact.key_problem(KEY + '\n')
    assert why.startswith('ends (or starts) with a line break') and KEY not in why
    where = (str(tmp_path), str(tmp_path / 'c.json'))
    assert gw.resolve_key(KEY + '\n', {}, *where) == (None, 'the key %s' % why)
    assert gw.resolve_key('{env:OMR}', {}, *where) == (
        None, "the key is {env:OMR} and OMR is not set in the environment the module runs in "
              "(OpenCode reads it from the developer's shell)")
    assert gw.resolve_key('{env:OMR}', {'OMR': KEY + '\n'}, *where) == (
        None, 'the key in OMR (named by {env:OMR}) %s; OpenCode inserts an {env:} value as it is' % why)


def test_key_file_problems_exactly(tmp_path):
    target = str(tmp_path / 'c.json')
    home = str(tmp_path)
    (tmp_path / 'empty').write_text(' \n')
    (tmp_path / 'latin').write_bytes(b'sk-\xe9t\xe9')
    (tmp_path / 'spaced').write_text('sk-a\x01b')
    assert gw.resolve_key('{file:~/empty}', {}, home, target) == (
        None, 'the key file %s named by {file:~/empty} is empty' % (tmp_path / 'empty'))
    assert gw.resolve_key('{file:latin}', {}, home, target) == (
        None, 'the key file %s named by {file:latin} is not UTF-8 text' % (tmp_path / 'latin'))
    assert gw.resolve_key('{file:~/missing}', {}, home, target) == (
        None, 'the key file %s named by {file:~/missing} cannot be read (No such file or directory)'
        % (tmp_path / 'missing'))
    assert gw.resolve_key('{file:spaced}', {}, home, target) == (
        None, 'the key in the file %s named by {file:spaced} %s' % (tmp_path / 'spaced', _redact.key_problem('sk-a\x01b')))
    # Only the first 64 KiB are read: a longer file is cut there (and then refused as no key).
    (tmp_path / 'long').write_text(KEY + ' ' * (64 * 1024 - len(KEY)) + 'tail')
    assert gw.resolve_key('{file:long}', {}, home, target) == (KEY, None)


def test_shown_ids_and_values():
    assert gw.shown_id('x' * 60) == repr('x' * 60)
    assert gw.shown_id('x' * 61) == repr('x' * 57 + '...')
    assert gw._shown_value(12) == '12' and gw._shown_value(1.5) == '1.5'
    assert gw._shown_value(10 ** 19) == '10000000000000000000'  # 20 digits: shown whole
    assert gw._shown_value(10 ** 20) == '100000000000... (21 digits)'
    assert gw._shown_value(True) == 'a bool' and gw._shown_value('8k') == 'a str' and gw._shown_value(None) == 'a NoneType'


def test_valid_models_skip_and_drop_without_stopping():
    data = ['x', {'id': 3}, {'id': '  '}, {'id': 'x' * 201}, {'id': ' a ', 'type': 'chat'}, {'id': 'b'}]
    assert gw._valid_models(data) == ([{'id': 'a', 'type': 'chat'}, {'id': 'b'}], ['x' * 201])


def test_answers_are_shared_only_for_the_same_question(stub):
    stub.reply = (200, b'{"data": [{"id": "m1"}]}', 0)
    assert gw._answer_key('http://gw/v1', 'k', None, 1) == ('http://gw/v1/models', 'k', gw.DEFAULT_TIMEOUT, True)
    assert gw._answer_key('http://gw/v1', 'k', 5, None) == ('http://gw/v1/models', 'k', 5, False)
    before = len(stub.server.requests)
    with gw.share_answers():
        for timeout, certs in ((5, True), (5, True), (6, True), (5, False), (gw.DEFAULT_TIMEOUT, True)):
            ans = gw.fetch_models(stub.url, KEY, timeout, certs)
            assert ans.outcome == gw.OK, ans.cause
        # An answer another process got without a timeout given is the one for the default timeout.
        given = gw.Answer(stub.url + '/models', gw.OK, 200, [{'id': 'given'}], None, 'a list of 1 models', 0.1, [])
        gw.remember_answer(stub.url, 'sk-other-key-1234', None, True, given)
        assert gw.fetch_models(stub.url, 'sk-other-key-1234', gw.DEFAULT_TIMEOUT, True) is given
    # (5, True) once, (6, True), (5, False) and the default timeout: four requests.
    assert len(stub.server.requests) - before == 4


def test_an_answer_got_without_checking_certificates_is_not_reused_with_them(tmp_path):
    with https_models_gateway(str(tmp_path), KEY, [{'id': 'm1'}]) as (url, _seen):
        with gw.share_answers():
            assert gw.fetch_models(url + '/v1', KEY, validate_certs=False).outcome == gw.OK
            assert gw.fetch_models(url + '/v1', KEY, validate_certs=True).outcome == gw.OFFLINE
        # The default checks certificates, for the catalog and for a new key's probe alike.
        assert gw.fetch_models(url + '/v1', KEY).outcome == gw.OFFLINE
        assert gw.probe_new_key(url + '/v1', KEY)['ok'] is False
        assert gw.probe_new_key(url + '/v1', KEY, validate_certs=False) == dict(
            url=url + '/v1/models', ok=True, status=200, why=None)


@pytest.mark.parametrize('model, chat', [
    ({'id': 'a'}, True), ({'id': 'a', 'type': 'Chat'}, True), ({'id': 'a', 'type': 'LLM'}, True),
    ({'id': 'a', 'type': 7}, False), ({'id': 'a', 'type': 'image'}, False),
    ({'id': 'a', 'output_modalities': ['image']}, False), ({'id': 'a', 'output_modalities': ['image', 'text']}, True),
    ({'id': 'a', 'output_modalities': []}, True),
])
def test_is_chat(model, chat):
    assert gw.is_chat(model) is chat


def test_model_settings_details():
    problems = []
    assert gw.model_settings({'id': 'm', 'context_length': 0, 'max_output_tokens': 'lots'}, problems) == {}
    assert problems == ["'m': context_length 0", "'m': max_output_tokens a str"]
    problems = []
    gw.model_settings({'context_length': -1}, problems)
    assert problems == ["'': context_length -1"]
    assert gw.model_settings({'id': 'm', 'capabilities': {'thinking': True, 'reasoning': False}}) == {'reasoning': True}
    assert gw.model_settings({'id': 'm', 'capabilities': {'vision': True}}) == {'attachment': True}
    assert gw.model_settings({'id': 'm', 'capabilities': {'vision': False}}) == {'attachment': False}
    assert gw.model_settings({'id': 'm', 'input_modalities': ['text']}) == {
        'attachment': False, 'modalities': {'input': ['text']}}
    assert gw.model_settings({'id': 'm', 'input_modalities': ['text', 'pdf']}) == {
        'attachment': True, 'modalities': {'input': ['text', 'pdf']}}
    assert gw.model_settings({'id': 'm', 'output_modalities': ['text']}) == {'modalities': {'output': ['text']}}


def test_build_catalog_pinned_odd_entries_and_the_warning():
    warnings = []
    offered = [{'id': 'a', 'context_length': 1.5, 'max_output_tokens': 10}, {'id': 'b'}, {'id': 'c'}]
    catalog = gw.build_catalog(offered, pinned=[{'name': 'no id'}, 7, ' ', 'b', 'b', {'id': 'a', 'name': 'A'}],
                               exclude=['c'], warnings=warnings)
    # Entries without a usable id stay for the module's own check to report; a blank or repeated
    # id is left out; a dict's settings win over the gateway's.
    assert catalog == [{'name': 'no id'}, 7, {'id': 'b', 'name': 'b'}, {'id': 'a', 'name': 'A'}]
    assert warnings == ['the gateway gave values OpenCode cannot use (a limit must be a whole number from 1 to '
                        '1000000000); the models were kept without them: \'a\': context_length 1.5']


def test_probe_result_and_failed_probe_whole():
    empty = dict(url='u', reachable=False, status=None, key_accepted=None, offered=[], offered_chat=[], missing=[],
                 models_endpoint=None, cause=None, opencode=None, opencode_version=None, layers=[], ready=False)
    assert gw.probe_result('u') == empty
    assert gw.failed_probe('u', 'why', scope='managed') == dict(empty, reachable=None, cause='why', scope='managed')


@pytest.mark.parametrize('status, body, ok, why', [
    (200, b'{"data": []}', True, None),
    (401, b'{}', False, 'the gateway refused the new key from the laptop (HTTP 401)'),
    (500, b'{}', False, 'the gateway answered HTTP 500 to the new key from the laptop'),
    (501, b'{}', False, 'the gateway answered HTTP 501 to the new key from the laptop'),
    (404, b'{}', False, 'the gateway answered HTTP 404 to the new key from the laptop'),
    (200, b'{"models": []}', False, 'the gateway answered without a model list'),
    (201, b'[]', False, 'the gateway answered without a model list'),
    (299, b'<html>', False, 'the gateway answered without a model list'),
])
def test_probe_new_key_whole(stub, status, body, ok, why):
    stub.reply = (status, body, 0)
    assert gw.probe_new_key(stub.url + '/', KEY) == dict(url=stub.url + '/models', ok=ok, status=status, why=why)
    assert stub.server.requests[-1].headers.get('authorization') == 'Bearer ' + KEY


def test_probe_new_key_unusable_url_and_no_answer(stub):
    assert gw.probe_new_key('ftp://gw/v1', KEY) == dict(
        url=None, ok=False, status=None,
        why="the base_url is not usable: base_url must be an http:// or https:// URL with a host, got 'ftp://gw/v1'")
    stub.reply = (200, b'{"data": []}', 3)
    probe = gw.probe_new_key(stub.url, KEY, timeout=1)
    assert probe['ok'] is False and probe['status'] is None
    assert probe['why'].startswith('the gateway could not be reached from the laptop (') and KEY not in probe['why']
    stub.reply = (200, b'{"data": []}', 0)
    assert gw.probe_new_key(stub.url, KEY, timeout=None)['ok'] is True  # the default timeout


def test_verify_fields_and_options(stub, tmp_path):
    stub.reply = (404, b'no such route', 0)
    home = tmp_path / 'home'
    cfgdir = home / '.config' / 'opencode'
    cfgdir.mkdir(parents=True)
    (home / 'k').write_text(KEY)
    (cfgdir / 'rel.key').write_text(KEY)
    env = {'PATH': '', 'HOME': str(home)}
    res = gw.verify({'base_url': stub.url, 'timeout': None}, '{file:~/k}', env, str(home))
    assert (res['url'], res['status'], res['reachable'], res['models_endpoint'], res['cause']) == (
        stub.url + '/models', 404, True, 'HTTP 404: no such route', 'HTTP 404: no such route')
    assert isinstance(res['seconds'], float) and stub.auth[-1] == ('/v1/models', 'Bearer ' + KEY)
    # A relative {file:} is read next to the config file OpenCode loads.
    gw.verify({'base_url': stub.url}, '{file:rel.key}', env, str(home), target=str(cfgdir / 'opencode.json'))
    assert stub.auth[-1] == ('/v1/models', 'Bearer ' + KEY)
    # The timeout and certificate options are the ones used.
    stub.reply = (200, b'{"data": []}', 3)
    assert gw.verify({'base_url': stub.url, 'timeout': 1}, KEY, env, str(home))['reachable'] is False
    # The entry's name is the one looked for in the other layers.
    (home / '.opencode').mkdir()
    (home / '.opencode' / 'opencode.json').write_text('{"disabled_providers": ["team"]}')
    stub.reply = (200, b'{"data": []}', 0)
    named_layers = gw.verify({'name': 'team', 'base_url': stub.url}, KEY, env, str(home))['layers']
    assert [layer['effects'] for layer in named_layers] == [['lists team in disabled_providers']]
    assert gw.verify({'base_url': stub.url}, KEY, env, str(home))['layers'] == []


def test_verify_never_echoes_the_key_the_gateway_sends_back(stub, tmp_path):
    stub.reply = (403, json.dumps({'error': {'message': 'key %s refused' % KEY}}).encode(), 0)
    res = gw.verify({'base_url': stub.url}, KEY, {'PATH': ''}, str(tmp_path))
    assert res['cause'] == 'HTTP 403: key******** refused' and KEY not in json.dumps(res)


def test_more_exact_answers(stub):
    assert gw.models_url('http://gw/X') == 'http://gw/X/models'
    stub.reply = (200, b'  <!DOCTYPE html><html></html>', 0)
    assert gw.fetch_models(stub.url, KEY).cause == 'HTTP 200 but the answer is not a model list (an HTML page)'
    stub.reply = (200, json.dumps({'data': [{'id': 'm%d' % i} for i in range(10000)]}).encode(), 0)
    assert gw.fetch_models(stub.url, KEY).summary == 'a list of 10000 models'
    stub.reply = (200, json.dumps({'data': [{'id': 'm%d' % i} for i in range(10001)]}).encode(), 0)
    ans = gw.fetch_models(stub.url, KEY)
    assert (ans.outcome, ans.cause, ans.summary, ans.models) == (
        gw.BAD, 'HTTP 200 with 10001 models, more than the 10000 a catalog may hold', 'a list of 10001 models (too many)',
        None)
    stub_route = stub.server.default
    stub.server.default = lambda req: Answer(302, b'', [('Location', 'http://elsewhere.example/v1/models')])
    try:
        ans = gw.fetch_models(stub.url, KEY)
    finally:
        stub.server.default = stub_route
    assert (ans.outcome, ans.status, ans.summary) == (gw.BAD, 302, 'HTTP 302, not used')


def test_catalog_goes_on_past_skipped_models_and_images_count_as_attachments():
    offered = [{'id': 'a-image', 'type': 'image'}, {'id': 'b-pinned'}, {'id': 'c-excluded'}, {'id': 'd'}]
    assert [m['id'] for m in gw.build_catalog(offered, pinned=['b-pinned'], exclude=['c-*'])] == ['b-pinned', 'd']
    assert [m['id'] for m in gw.build_catalog(offered, include=['a-*', 'd'])] == ['d']
    assert [m['id'] for m in gw.build_catalog([{'id': 'a'}, {'id': 'b'}, {'id': 'c'}], include=['c', 'a'])] == ['a', 'c']
    assert gw.model_settings({'id': 'm', 'input_modalities': ['text', 'image']}) == {
        'attachment': True, 'modalities': {'input': ['text', 'image']}}


def test_verify_defaults_the_name_and_checks_certificates(stub, tmp_path):
    home = tmp_path / 'home'
    (home / '.opencode').mkdir(parents=True)
    (home / '.opencode' / 'opencode.json').write_text('{"disabled_providers": ["omniroute"]}')
    stub.reply = (200, b'{"data": []}', 0)
    layers = gw.verify({'base_url': stub.url}, KEY, {'PATH': ''}, str(home))['layers']
    assert [layer['effects'] for layer in layers] == [['lists omniroute in disabled_providers']]
    with https_models_gateway(str(tmp_path), KEY, [{'id': 'm1'}]) as (url, _seen):
        assert gw.verify({'base_url': url + '/v1'}, KEY, {'PATH': ''}, str(home))['reachable'] is False
        assert gw.verify({'base_url': url + '/v1', 'validate_certs': False}, KEY, {'PATH': ''}, str(home))['status'] == 200


def test_verify_scrubs_the_key_from_what_opencode_itself_prints(stub, tmp_path):
    """The last net: whatever reaches the result (here `opencode --version` of a binary that
    prints the key) goes through a redactor that knows the key the reference resolves to (the
    reference itself names a variable, it is no secret)."""
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    fake = bindir / 'opencode'
    fake.write_text('#!/bin/sh\necho "1.0 %s {env:OMR}"\n' % KEY)
    fake.chmod(0o755)
    stub.reply = (200, b'{"data": []}', 0)
    res = gw.verify({'base_url': stub.url}, '{env:OMR}', {'PATH': str(bindir), 'OMR': KEY}, str(tmp_path))
    assert res['opencode_version'] == '1.0 ******** {env:OMR}' and KEY not in json.dumps(res)
