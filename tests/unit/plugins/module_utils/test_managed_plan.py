# -*- coding: utf-8 -*-
"""The managed tier's planner: key-less entry, allow-list, extra settings, profile, user side."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import plistlib

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _managed as mg
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse

ADMIN = """// Managed by IT. Do not edit.
{
  "$schema": "https://opencode.ai/config.json",
  "share": "disabled",   // no public links
  "provider": {
    "internal": {"npm": "@ai-sdk/openai-compatible", "options": {"baseURL": "http://llm.corp/v1"}},
  },
  "permission": {"bash": "ask"},
}
"""


def spec(**kw):
    kw.setdefault('base_url', 'http://gw.example.com:20128')
    kw.setdefault('models', ['auto', 'claude-opus-4-7'])
    return mg.ManagedSpec(**kw)


def test_entry_has_no_key_and_the_seed_shape():
    plan = mg.plan_managed('', spec())
    data = parse(plan.new_text)
    entry = data['provider']['omniroute']
    assert entry == {'npm': '@ai-sdk/openai-compatible', 'name': 'OmniRoute',
                     'options': {'baseURL': 'http://gw.example.com:20128/v1'},
                     'models': {'auto': {'name': 'auto'}, 'claude-opus-4-7': {'name': 'claude-opus-4-7'}}}
    assert 'enabled_providers' not in data
    assert plan.entry == entry and plan.changes


def test_merge_keeps_every_other_byte_and_is_idempotent():
    s = spec(only_gateway=True, settings={'autoupdate': False})
    plan = mg.plan_managed(ADMIN, s)
    assert plan.new_text.startswith('// Managed by IT. Do not edit.\n{\n')
    assert '"share": "disabled",   // no public links' in plan.new_text
    data = parse(plan.new_text)
    assert data['provider']['internal'] == {'npm': '@ai-sdk/openai-compatible',
                                            'options': {'baseURL': 'http://llm.corp/v1'}}
    assert data['enabled_providers'] == ['omniroute'] and data['autoupdate'] is False
    assert data['permission'] == {'bash': 'ask'}
    again = mg.plan_managed(plan.new_text, s)
    assert not again.changed and again.changes == []


def test_an_existing_api_key_is_removed_from_the_managed_entry():
    text = json.dumps({'provider': {'omniroute': {'options': {'baseURL': 'http://x/v1', 'apiKey': 'sk-leaked-123456789'},
                                                  'models': {'auto': {}}}}})
    plan = mg.plan_managed(text, spec())
    assert 'apiKey' not in parse(plan.new_text)['provider']['omniroute']['options']
    assert 'sk-leaked' not in plan.new_text


def test_only_gateway_toggles_its_own_allow_list_only():
    on = mg.plan_managed('', spec(only_gateway=True)).new_text
    assert parse(on)['enabled_providers'] == ['omniroute']
    off = mg.plan_managed(on, spec(only_gateway=False))
    assert 'enabled_providers' not in parse(off.new_text)
    assert 'removed enabled_providers (only_gateway is off)' in off.changes
    # An administrator's longer list is theirs: the provider joins it, nothing is removed.
    theirs = json.dumps({'enabled_providers': ['internal']})
    kept = parse(mg.plan_managed(theirs, spec(only_gateway=False)).new_text)
    assert kept['enabled_providers'] == ['internal', 'omniroute']
    # only_gateway replaces it.
    assert parse(mg.plan_managed(theirs, spec(only_gateway=True)).new_text)['enabled_providers'] == ['omniroute']


def test_disabled_gateway_is_repaired():
    text = json.dumps({'disabled_providers': ['omniroute', 'openai']})
    data = parse(mg.plan_managed(text, spec()).new_text)
    assert data['disabled_providers'] == ['openai']


def test_settings_merge_objects_key_by_key_and_replace_the_rest():
    text = json.dumps({'permission': {'bash': 'ask', 'edit': 'allow'}, 'instructions': ['a.md'], 'autoupdate': True})
    s = spec(settings={'permission': {'bash': 'deny'}, 'instructions': ['b.md'], 'autoupdate': False,
                       'share': 'disabled'})
    plan = mg.plan_managed(text, s)
    data = parse(plan.new_text)
    assert data['permission'] == {'bash': 'deny', 'edit': 'allow'}
    assert data['instructions'] == ['b.md'] and data['autoupdate'] is False and data['share'] == 'disabled'
    assert {'set permission', 'set instructions', 'set autoupdate', 'set share'} <= set(plan.changes)
    assert not mg.plan_managed(plan.new_text, s).changed


@pytest.mark.parametrize('settings', [
    {'provider': {'other': {}}},
    {'$schema': 'x'},
    {'mcp': {'jira': {'type': 'remote', 'url': 'https://j', 'headers': {'Authorization': 'Bearer abcdef'}}}},
    {'x': {'apiKey': 'anything'}},
    {'note': 'sk-abcdef0123456789'},
    {'x': {'token': '{file:~/.token}'}},
])
def test_settings_that_touch_the_entry_or_hold_a_key_are_refused(settings):
    with pytest.raises(oc.PlanError) as exc:
        spec(settings=settings)
    # The message names where, never the value.
    for value in ('Bearer abcdef', 'sk-abcdef0123456789', 'anything'):
        assert value not in str(exc.value)


def test_harmless_names_are_not_mistaken_for_keys():
    s = spec(settings={'keybinds': {'leader': 'ctrl+x'}, 'compaction': {'max_tokens': 1000},
                       'experimental': {'monkey': 'yes'}})
    assert parse(mg.plan_managed('', s).new_text)['keybinds'] == {'leader': 'ctrl+x'}


def test_enabled_providers_in_settings_conflicts_with_only_gateway():
    with pytest.raises(oc.PlanError):
        spec(only_gateway=True, settings={'enabled_providers': ['x']})
    assert parse(mg.plan_managed('', spec(settings={'enabled_providers': ['omniroute', 'x']})).new_text)[
        'enabled_providers'] == ['omniroute', 'x']


def test_a_credential_already_in_the_managed_entry_fails_cleanly():
    text = json.dumps({'provider': {'omniroute': {'options': {'baseURL': 'http://x/v1',
                                                              'headers': {'Authorization': 'Bearer zzzzzz'}}}}})
    with pytest.raises(oc.PlanError) as exc:
        mg.plan_managed(text, spec())
    assert 'provider.omniroute.options.headers.Authorization' in str(exc.value)
    assert 'zzzzzz' not in str(exc.value)


def test_absent_removes_entry_model_and_allow_list_and_keeps_the_rest():
    s = spec(only_gateway=True, model='auto', settings={'autoupdate': False})
    present = mg.plan_managed(ADMIN, s).new_text
    gone = mg.plan_managed_absent(present, 'omniroute')
    data = parse(gone.new_text)
    assert 'omniroute' not in data['provider'] and 'model' not in data and 'enabled_providers' not in data
    assert data['autoupdate'] is False and data['share'] == 'disabled' and 'internal' in data['provider']
    assert gone.new_text.startswith('// Managed by IT. Do not edit.\n')
    assert not mg.plan_managed_absent(gone.new_text, 'omniroute').changed
    # A longer allow-list loses only the name.
    longer = mg.plan_managed_absent(json.dumps({'enabled_providers': ['omniroute', 'internal']}), 'omniroute')
    assert parse(longer.new_text)['enabled_providers'] == ['internal']
    assert not mg.plan_managed_absent('', 'omniroute').changed


def test_invalid_managed_file_raises_with_position():
    from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import JSONCError
    with pytest.raises(JSONCError) as exc:
        mg.plan_managed('{\n  "provider": {,}\n}', spec())
    assert exc.value.line == 2


def test_discover_prefers_jsonc(tmp_path):
    assert mg.discover(str(tmp_path)) == (str(tmp_path / 'opencode.json'), [])
    (tmp_path / 'opencode.json').write_text('{}')
    (tmp_path / 'opencode.jsonc').write_text('{}')
    assert mg.discover(str(tmp_path)) == (str(tmp_path / 'opencode.jsonc'), [str(tmp_path / 'opencode.json')])
    assert mg.default_directory('Darwin') == '/Library/Application Support/opencode'
    assert mg.default_directory('Linux') == '/etc/opencode'


def test_user_stale_entry_goes_and_the_model_choice_stays():
    text = ('{\n  // mine\n  "model": "omniroute/auto",\n  "provider": {\n    "omniroute": {"options": '
            '{"baseURL": "http://old/v1", "apiKey": "sk-old-999999999"}},\n    "mine": {}\n  },\n'
            '  "disabled_providers": ["omniroute"]\n}\n')
    plan = mg.plan_user_stale(text, 'omniroute')
    data = parse(plan.new_text)
    assert data['model'] == 'omniroute/auto' and data['provider'] == {'mine': {}}
    assert data['disabled_providers'] == [] and '// mine' in plan.new_text
    assert not mg.plan_user_stale(plan.new_text, 'omniroute').changed


def test_plan_user_stores_the_key_and_cleans_every_user_file(tmp_path):
    home = tmp_path / 'home'
    env = {'HOME': str(home)}
    conf = home / '.config' / 'opencode'
    conf.mkdir(parents=True)
    (conf / 'config.json').write_text('{"provider": {"omniroute": {"models": {"old": {}}}}}')
    (conf / 'opencode.json').write_text('{"theme": "x"}')
    dot = home / '.opencode'
    dot.mkdir()
    (dot / 'opencode.json').write_text('{"provider": {"omniroute": {}}}')
    changes = mg.plan_user(env, 'omniroute', 'sk-user-key-123456', True)
    paths = [c.path for c in changes]
    auth = str(home / '.local' / 'share' / 'opencode' / 'auth.json')
    assert paths == [auth, str(conf / 'config.json'), str(dot / 'opencode.json')]
    assert changes[0].holds_secret and json.loads(changes[0].new) == {
        'omniroute': {'type': 'api', 'key': 'sk-user-key-123456'}}
    assert not any(c.holds_secret for c in changes[1:])
    # Offboarding: the key goes, other stored keys stay.
    os.makedirs(os.path.dirname(auth))
    with open(auth, 'w') as f:
        json.dump({'omniroute': {'type': 'api', 'key': 'k1'}, 'other': {'type': 'api', 'key': 'k2'}}, f)
    gone = mg.plan_user(env, 'omniroute', None, False)
    assert json.loads(gone[0].new) == {'other': {'type': 'api', 'key': 'k2'}}
    with pytest.raises(Exception):
        mg.plan_user(env, 'omniroute', '{env:KEY}', True)


def test_mobileconfig_is_a_valid_deterministic_profile():
    config = parse(mg.plan_managed('', spec(only_gateway=True, settings={'autoupdate': False})).new_text)
    raw = mg.mobileconfig(config, organization='Example Corp')
    assert raw == mg.mobileconfig(config, organization='Example Corp')
    profile = plistlib.loads(raw)
    assert profile['PayloadType'] == 'Configuration' and profile['PayloadVersion'] == 1
    assert profile['PayloadOrganization'] == 'Example Corp'
    (payload,) = profile['PayloadContent']
    assert payload['PayloadType'] == 'ai.opencode.managed'
    assert payload['PayloadUUID'] != profile['PayloadUUID']
    # What OpenCode keeps after dropping the Payload* keys is the managed config.
    meta = {'PayloadDisplayName', 'PayloadIdentifier', 'PayloadType', 'PayloadUUID', 'PayloadVersion'}
    kept = dict((k, v) for k, v in payload.items() if k not in meta)
    assert kept == dict((k, v) for k, v in config.items() if k != '$schema')
    assert b'apiKey' not in raw


@pytest.mark.parametrize('config', [{'a': None}, {'PayloadType': 'x'}, {'provider': {'x': {'options': {'apiKey': 'k'}}}}, []])
def test_mobileconfig_refuses_what_a_profile_cannot_or_must_not_carry(config):
    with pytest.raises(oc.PlanError):
        mg.mobileconfig(config)
