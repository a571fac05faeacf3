"""A hostile gateway, judged by the real OpenCode CLI and by ``ansible -vvv``.

The routed test server (tests/support) answers /v1/models with a 400-digit context length,
1e999, NaN and Infinity, negative, fractional and boolean limits, and model ids with control
characters, bidi overrides and markup. The provider module writes the catalog it makes of that;
the real OpenCode must load the config and list exactly the models kept. Then every module runs
through the ansible CLI with -vvv against echoing modes, and no run of 8 characters of a key may
appear in anything printed.

These need neither OmniRoute nor containers, only the OpenCode binary (the conftest fixture).
"""

import json
import os
import re

import pytest

from harness import Sandbox

from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.tests.support.http_server import Server, kept_ids, leaked, mode

NAME = 'omniroute'
CONFIG = os.path.join('home', '.config', 'opencode', 'opencode.json')
KEY = 'sk-Rt5Yw2Qm8Zx4Lp7Nv1Bc6Hd9Kf3'
PASSWORD = 'Hq4Ws9Ex2Rd7Tf5Yg1Uj8Ik3'
MODELS = [{'id': 'team-fast', 'context_length': 128000, 'max_output_tokens': 8192},
          {'id': 'openai/gpt-4o', 'context_length': 128000, 'max_output_tokens': 16384,
           'input_modalities': ['text', 'image'], 'output_modalities': ['text']}]
UNSEEN = re.compile(u'[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]')


def assert_no_run(sb, *secrets):
    for label, text in sb.log:
        assert not leaked(text, secrets), 'a run of a secret appeared in the output of %s' % label


@pytest.fixture
def sandbox(tmp_path, opencode_bin):
    sb = Sandbox(str(tmp_path / 's'), opencode_bin, env={'OMR_TEST_PASSWORD': PASSWORD})
    yield sb
    assert_no_run(sb, KEY, PASSWORD)


@pytest.fixture
def hostile():
    with Server() as srv:
        yield srv


def test_opencode_loads_the_catalog_of_a_hostile_gateway_and_lists_its_models(sandbox, hostile):
    sb = sandbox
    for name in ('huge-numbers', 'non-finite', 'hostile-ids'):
        hostile.route('/v1/models', mode(name, KEY, MODELS))
        res = sb.module({'base_url': hostile.url, 'api_key': KEY, 'catalog': 'gateway', 'models': ['auto']})
        assert res['_status'] in ('CHANGED', 'SUCCESS'), res
        written = json.load(open(sb.path(CONFIG)))['provider'][NAME]['models']
        assert sorted(m for m in written if m != 'auto') == kept_ids(name, MODELS)
        for model in written.values():
            limit = model.get('limit')
            whole = limit is None or all(isinstance(v, int) and not isinstance(v, bool) for v in limit.values())
            assert whole and (limit is None or all(1 <= v <= gw.MAX_TOKENS for v in limit.values())), limit
        assert any('OpenCode cannot use' in w or 'left out' in w for w in res['_warnings']), res['_warnings']
        for warning in res['_warnings']:
            assert not UNSEEN.search(warning) and '\x1b' not in warning
        report = sb.ask(parts=('config', 'models'))
        assert report.config_rc == 0, report.raw.get('config_err', '')[-2000:]
        assert report.models_rc == 0, report.models_err[-2000:]
        assert sorted(line[len(NAME) + 1:] for line in report.models) == sorted(['auto'] + kept_ids(name, MODELS))
        # The limits OpenCode resolved are the whole numbers written, or none.
        assert sorted(report.entry['models']) == sorted(written)


def test_every_module_with_vvv_shows_no_run_of_a_key(sandbox, hostile):
    sb = sandbox
    # The gateway's status line echoes the request, Authorization header included: offline, and
    # the ids given in models are written.
    hostile.route('/v1/models', mode('status-echo', KEY))
    res = sb.module({'base_url': hostile.url, 'api_key': KEY, 'catalog': 'gateway', 'models': ['auto'],
                     'verify': True, 'timeout': 2}, verbose=True)
    assert res['_status'] == 'CHANGED' and res['catalog']['source'] == 'models', res
    res = sb.module({'base_url': hostile.url, 'api_key': KEY, 'catalog': 'gateway', 'models': ['auto'],
                     'verify': True, 'timeout': 2, 'key_store': 'auth'}, verbose=True, via='users')
    # The file the first run wrote keeps its catalog; the key moves to auth.json.
    assert res['_status'] == 'CHANGED' and res['catalog']['source'] == 'kept', res
    assert res['verify']['reachable'] is False and 'not HTTP' in res['verify']['cause']
    # An error text that echoes the key past 190 characters, with markup and terminal escapes.
    hostile.route('/v1/models', mode('error-markup', KEY))
    args = {'directory': sb.path('etc-opencode'), 'base_url': hostile.url, 'catalog': 'gateway',
            'catalog_key': KEY, 'models': ['auto'], 'timeout': 2}
    res = sb.module(args, verbose=True, name='omniroute.opencode.managed')
    assert res['_status'] == 'CHANGED' and res['catalog']['source'] == 'models', res
    assert all('\x1b' not in w for w in res['_warnings'])
    # The management API echoes the login request (password in its body) as its status line.
    hostile.route('/api/auth/login', mode('status-echo', PASSWORD))
    res = sb.module({'url': hostile.url, 'password': '{{ lookup("env", "OMR_TEST_PASSWORD") }}', 'name': 'dev',
                     'lock_dir': sb.path('tmp'), 'timeout': 2}, verbose=True, name='omniroute.opencode.api_key')
    assert res['_status'].startswith('FAILED') and res['error_kind'] == 'unreachable', res
    assert any(r.path == '/api/auth/login' and PASSWORD in r.body.decode() for r in hostile.requests)
