# -*- coding: utf-8 -*-
"""The OmniRoute client's offline helpers (the live calls are tested against a real server
by tests/integration/targets/api_key)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _omniroute_api as api
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode, _redact
from ansible_collections.omniroute.opencode.tests.support.http_server import CLOSED


def test_mask_matches_the_servers_own():
    assert api.mask_key('sk-abcdefgh-1234567890') == 'sk-abcde****7890'
    assert api.mask_key('') is None


@pytest.mark.parametrize('value, shown', [
    ('sk-abcde****7890', 'sk-abcde****7890'),
    # A listing that says more than the mask (a full key, a longer or shorter text around ****).
    ('sk-abcdefgh-1234567890', None), ('sk-abcdefgh-****-1234567890', None), ('sk-ab****7890', None),
    ('sk-abcde*****890', None), ('****************', None), (None, None), (12345678, None)])
def test_only_the_shape_of_the_servers_mask_is_shown(value, shown):
    assert api.listed_mask(value) == shown


@pytest.mark.parametrize('value, real', [
    ('sk-live-123', True), ('sk_omniroute', False), ('', False), ('{env:OMNIROUTE_API_KEY}', False),
    ('{file:~/.config/opencode/k}', False), (None, False),
])
def test_real_keys_are_told_from_placeholders_and_references(value, real):
    assert _redact.is_real_key(value) is real


def test_installed_key_is_read_from_jsonc_and_auth_json():
    config = '{\n  // team\n  "provider": {"omniroute": {"options": {"apiKey": "sk-1",},},},\n}'
    assert _opencode.installed_key_from_config(config, 'omniroute') == 'sk-1'
    assert _opencode.installed_key_from_config('{not json', 'omniroute') is None
    assert _opencode.installed_key_from_auth('{"omniroute": {"type": "api", "key": "sk-2"}}', 'omniroute') == 'sk-2'
    assert _opencode.installed_key_from_auth('{"omniroute": {"type": "oauth", "key": "x"}}', 'omniroute') is None


def test_client_redacts_its_secrets_from_messages():
    client = api.Client(CLOSED, password='hunter2-admin')
    client.add_secret('sk-created-999')
    assert client.redact('login hunter2-admin then sk-created-999') == 'login ******** then ********'


def test_client_messages_show_urls_without_credentials():
    from ansible_collections.omniroute.opencode.plugins.module_utils._omniroute_api import Client, OmniRouteError
    with pytest.raises(OmniRouteError) as err:
        Client('htp://admin:mgmt-pw-3141@gw.corp.test:20128/?token=mgmt-q-2718')
    assert 'mgmt-pw-3141' not in err.value.message and 'mgmt-q-2718' not in err.value.message
    assert 'gw.corp.test:20128' in err.value.message
    with pytest.raises(OmniRouteError) as err:
        Client('http://[fd00::9')
    assert 'not a valid URL' in err.value.message
    client = Client(CLOSED, password='adm-pass-1414')
    assert client.redact('GET https://u:adm-pass-1414@h/x?k=v failed') == 'GET https://h/x failed'


@pytest.mark.parametrize('url', ['http://h:20128', 'http://h:20128/', 'http://h:20128/v1', 'http://h:20128/v1/v1/',
                                 'http://h:20128//v1//v1'])
def test_management_url_has_one_home_shared_by_role_and_client(url):
    # The role passes opencode_base_url as is; the client reduces it to the server root.
    assert _opencode.management_url(url) == 'http://h:20128'
    assert api.Client(url, password='x').url == 'http://h:20128'


def test_installed_key_follows_opencode_precedence():
    high = '{"provider": {"omniroute": {"options": {"apiKey": "{env:K}"}}}}'
    low = '{"provider": {"omniroute": {"options": {"apiKey": "sk-low"}}}}'
    auth = '{"omniroute": {"type": "api", "key": "sk-auth"}}'
    assert _opencode.installed_key([high, low], auth, 'omniroute') is None  # a reference wins, no literal key
    assert _opencode.installed_key([low], auth, 'omniroute') == 'sk-low'
    assert _opencode.installed_key(['{}'], auth, 'omniroute') == 'sk-auth'
    assert _opencode.installed_key([], '{"omniroute": {"type": "api", "key": "sk_omniroute"}}', 'omniroute') is None
