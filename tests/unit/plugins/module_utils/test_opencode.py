# -*- coding: utf-8 -*-
"""OpenCode domain logic: normalisation, planning and redaction, without Ansible."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse


@pytest.mark.parametrize('url, expected', [
    # Every row of the seed's table, and the repair of old configs.
    ('http://localhost:20128', 'http://localhost:20128/v1'),
    ('http://localhost:20128/', 'http://localhost:20128/v1'),
    ('http://localhost:20128/v1', 'http://localhost:20128/v1'),
    ('http://localhost:20128/v1///', 'http://localhost:20128/v1'),
    ('http://localhost:20128/v1/v1', 'http://localhost:20128/v1'),
    ('  HTTPS://gw.example.com/api/V1/  ', 'https://gw.example.com/api/v1'),
    ('http://[::1]:20128', 'http://[::1]:20128/v1'),
])
def test_base_url_ends_in_exactly_one_v1(url, expected):
    assert oc.normalize_base_url(url) == expected


@pytest.mark.parametrize('url', ['', 'localhost:20128', 'ftp://h', 'http://u:p@h', 'http://h/?x=1',
                                 'http://h:99999', 'http:///v1'])
def test_bad_base_urls_are_refused(url):
    with pytest.raises(oc.PlanError):
        oc.normalize_base_url(url)


def test_models_trimmed_deduplicated_labelled():
    models = oc.normalize_models([' auto ', '', 'auto', {'id': 'gpt', 'limit': {'context': 1}}, 'x'],
                                 {'auto': 'Auto-Combo'})
    assert models == [('auto', {'name': 'Auto-Combo'}), ('gpt', {'limit': {'context': 1}, 'name': 'gpt'}),
                      ('x', {'name': 'x'})]
    with pytest.raises(oc.PlanError):
        oc.normalize_models(['', ' '])


def test_plan_present_then_absent_round_trip_keeps_the_rest():
    text = '{\n  // keep\n  "provider": {"other": {}},\n  "model": "other/x"\n}\n'
    spec = oc.Spec(api_key='sk-x', models=['auto'], model='auto')
    added = oc.plan_present(text, spec)
    assert parse(added.new_text)['model'] == 'omniroute/auto'
    assert not oc.plan_present(added.new_text, spec).changed
    removed = oc.plan_absent(added.new_text, 'omniroute')
    assert parse(removed.new_text) == {'$schema': oc.SCHEMA_URL, 'provider': {'other': {}}}
    assert '// keep' in removed.new_text


def test_other_configs_lose_their_copy_and_their_hiding_lists():
    plan = oc.plan_other('{"provider": {"omniroute": {"models": {"x": {}}}, "y": {}},'
                         ' "disabled_providers": ["omniroute"], "enabled_providers": ["y"]}', 'omniroute', True)
    assert parse(plan.new_text) == {'$schema': oc.SCHEMA_URL, 'provider': {'y': {}}, 'disabled_providers': [],
                                    'enabled_providers': ['y', 'omniroute']}


def test_auth_store_set_and_remove():
    text = oc.plan_auth('{\n  "anthropic": {"type": "oauth"}\n}\n', 'omniroute', 'sk-1')
    assert parse(text) == {'anthropic': {'type': 'oauth'}, 'omniroute': {'type': 'api', 'key': 'sk-1'}}
    assert parse(oc.plan_auth(text, 'omniroute', None)) == {'anthropic': {'type': 'oauth'}}
    assert parse(oc.plan_auth(None, 'omniroute', 'sk-1')) == {'omniroute': {'type': 'api', 'key': 'sk-1'}}


def test_redaction_of_the_entry():
    entry = {'options': {'apiKey': 'sk-3', 'baseURL': 'u'}}
    assert oc.redact_entry(entry)['options'] == {'apiKey': '********', 'baseURL': 'u'}
    assert entry['options']['apiKey'] == 'sk-3'
