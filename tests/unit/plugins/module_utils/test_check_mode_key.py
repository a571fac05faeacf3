# -*- coding: utf-8 -*-
"""Check mode with keys from OmniRoute (issue 25, Wrong 3): a key the run would create has no
value yet. The stand-in the api_key module returns for it is never sent to the gateway: the
catalog is planned without it and verify says the key is still to be made - no failure, and
never "rejected"."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _keys
from ansible_collections.omniroute.opencode.plugins.module_utils import _managed as mg

# Nothing listens here: a request with the stand-in would show up as "unreachable", not as the
# stand-in's own cause.
BASE = 'http://127.0.0.1:9/v1'


def params(**more):
    out = dict(cfg.PARAM_DEFAULTS)
    out.update(name='omniroute', display_name='OmniRoute', base_url=BASE, api_key=_keys.CHECK_MODE_KEY,
               catalog='gateway', models=None, timeout=2, validate_certs=True, catalog_offline='fail')
    out.update(more)
    return out


def test_the_stand_in_is_never_resolved_to_a_key():
    assert gw.resolve_key(_keys.CHECK_MODE_KEY, {}, '/nonexistent', '/nonexistent/opencode.json') == (
        None, gw.KEY_TO_BE_MADE)


def test_the_catalog_is_planned_without_asking_and_without_failing(tmp_path):
    target = str(tmp_path / 'opencode.json')
    wanted, keep, info, warnings = cfg.gateway_catalog(params(), {'HOME': str(tmp_path)}, target, None, 'alice')
    assert not keep and warnings == [] and info['source'] == 'pending' and info['cause'] == gw.KEY_TO_BE_MADE
    assert wanted['models']  # something to plan with
    pinned = cfg.gateway_catalog(params(models=['auto']), {'HOME': str(tmp_path)}, target, None, 'alice')[0]
    assert pinned['models'] == ['auto']
    current = json.dumps({'provider': {'omniroute': {'models': {'openai/gpt-4o': {}}}}})
    kept, keep, info, warnings = cfg.gateway_catalog(params(), {'HOME': str(tmp_path)}, target, current, 'alice')
    assert keep and kept['models'] == ['openai/gpt-4o'] and warnings == []


def test_verify_says_the_key_is_to_be_made_not_rejected(tmp_path):
    result = gw.verify(dict(name='omniroute', base_url=BASE, timeout=2), _keys.CHECK_MODE_KEY,
                       {'HOME': str(tmp_path)}, str(tmp_path))
    assert result['key_accepted'] is None and result['reachable'] is None
    assert result['cause'] == gw.KEY_TO_BE_MADE and result['status'] is None


def test_managed_verify_says_the_key_is_to_be_made(tmp_path):
    result = mg.verify_user(dict(name='omniroute', base_url=BASE, timeout=2), _keys.CHECK_MODE_KEY,
                            {'HOME': str(tmp_path)}, str(tmp_path), 'present', str(tmp_path / 'auth.json'),
                            'alice', directory=str(tmp_path / 'managed'))
    assert result['key_accepted'] is None and gw.KEY_TO_BE_MADE in result['problems']
    assert not [p for p in result['problems'] if 'rejects' in p]
