# -*- coding: utf-8 -*-
"""The collection's one redaction helper, and the diff views built on it."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact as rd


@pytest.mark.parametrize('raw, shown', [
    ('https://deploy:pw-5150@gw.corp.test:8443/v1?sig=q-7070#frag', 'https://gw.corp.test:8443/v1'),
    ('htps://deploy:pw-5150@gw.corp.test', 'htps://gw.corp.test'),
    ('http//deploy:pw-5150@gw.corp.test/v1', 'gw.corp.test/v1'),
    ('http://gw.corp.test/v1?access_token=q-7070', 'http://gw.corp.test/v1'),
    ('http://[::1', 'http://[::1'),
    # A password with '/', '?' or '#' in it still goes: the last '@' ends the user info.
    ('https://deploy:p/w?5150#x@gw.corp.test/v1', 'https://gw.corp.test/v1'),
    ('', ''),
])
def test_url_drops_user_info_and_query(raw, shown):
    assert rd.url(raw) == shown


def test_message_masks_known_secrets_and_every_url():
    text = ('login to https://root:pw-5150@gw.corp.test/api?k=q-7070 failed for sk-live-424242, '
            'also tried ftp:u:pw-5151@old.corp.test')
    out = rd.message(text, ['sk-live-424242', None, 'ab'])
    for secret in ('pw-5150', 'q-7070', 'sk-live-424242', 'pw-5151'):
        assert secret not in out
    assert 'https://gw.corp.test/api' in out and '********' in out


def test_config_view_masks_by_position_not_by_name():
    entry = {
        'npm': 'x', 'name': 'Gateway',
        'options': {
            'baseURL': 'http://ops:pw-2323@gw/v1?t=q-2424',
            'apiKey': 'sk-pos-1111',
            'headers': {'X-Plain-Name': 'hdr-secret-2222', 'Authorization': 'Bearer hdr-3333',
                        'X-Ref': '{env:HDR_TOKEN}'},
            'timeout': 5,
        },
        'models': {'gpt-keyring': {'name': 'gpt-keyring'}},
    }
    masked = rd.mask({'provider': {'gw': entry}}, rd.config_secret('gw'))
    options = masked['provider']['gw']['options']
    text = json.dumps(masked)
    for secret in ('sk-pos-1111', 'hdr-secret-2222', 'hdr-3333', 'pw-2323', 'q-2424'):
        assert secret not in text
    assert options['headers']['X-Ref'] == '{env:HDR_TOKEN}'
    assert options['timeout'] == 5 and options['baseURL'] == 'http://gw/v1'
    # A model id that merely contains "key" is not a credential and stays readable.
    assert 'gpt-keyring' in masked['provider']['gw']['models']
    # Headers that are not a mapping are masked whole.
    odd = rd.mask({'options': {'headers': ['X-A: hdr-4444']}}, rd.entry_secret)
    assert odd == {'options': {'headers': '********'}}


def test_changed_credential_is_marked_not_shown():
    before = {'options': {'apiKey': 'sk-old-5555'}}
    after = {'options': {'apiKey': 'sk-new-6666'}}
    assert rd.mask(after, rd.entry_secret, before)['options']['apiKey'] == '******** (changed)'
    assert rd.mask(before, rd.entry_secret, before)['options']['apiKey'] == '********'


@pytest.mark.parametrize('cred', [
    {'type': 'oauth', 'refresh': 'rt-7777', 'access': 'at-8888', 'expires': 1799999999},
    {'type': 'wellknown', 'key': 'wk-9999', 'token': 'wt-1212'},
    {'type': 'api', 'key': 'sk-1313'},
    {'type': 'future-kind', 'blob': {'nested': 'nb-1414'}},
    'bare-string-1515',
])
def test_every_auth_credential_field_is_masked(cred):
    text = json.dumps({'gw': cred})
    before, after = oc.auth_views(text, '{}', 'gw')
    shown = json.dumps([before, after])
    for value in ('rt-7777', 'at-8888', '1799999999', 'wk-9999', 'wt-1212', 'sk-1313', 'nb-1414', 'bare-string-1515'):
        assert value not in shown
    assert after == {}
    if isinstance(cred, dict):
        assert before['gw']['type'] == cred['type']


def test_config_view_shows_only_the_entry_and_touched_settings():
    old = ('{\n  // "apiKey": "sk-commented-1717",\n'
           '  "mcp": {"tracker": {"type": "local", "command": ["t"], "environment": {"PAT": "mcp-1818"}}},\n'
           '  "provider": {\n'
           '    "corp": {"options": {"\\u0061piKey": "sk-escaped-1919", "headers": {"X-C": "hdr-2020"}}},\n'
           '    "gw": {"options": {"api\\u004bey": "sk-own-2121", "baseURL": "http://gw/v1"}}\n'
           '  },\n'
           '  "disabled_providers": ["gw", "corp"],\n'
           '  "model": "corp/big"\n}\n')
    spec = oc.Spec(name='gw', api_key='sk-new-2222', models=['auto'])
    new = oc.plan_present(old, spec).new_text
    before, after = oc.config_views(old, new, 'gw')
    shown = json.dumps([before, after])
    for secret in ('sk-commented-1717', 'mcp-1818', 'sk-escaped-1919', 'hdr-2020', 'sk-own-2121', 'sk-new-2222'):
        assert secret not in shown
    assert set(before) == {'provider', 'disabled_providers', '$schema'} - {'$schema'}
    assert set(after) == {'provider', 'disabled_providers', '$schema'}
    assert list(before['provider']) == ['gw'] and after['disabled_providers'] == ['corp']
    assert after['provider']['gw']['options']['apiKey'] == '******** (changed)'
    assert 'model' not in after  # untouched
