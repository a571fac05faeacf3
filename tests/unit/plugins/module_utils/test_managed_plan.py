# -*- coding: utf-8 -*-
"""The managed tier's planner: key-less entry, allow-list, extra settings, profile, user side."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import plistlib

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _managed as mg
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
from ansible_collections.omniroute.opencode.plugins.module_utils._layout import DIR_FILES, discover

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
    assert discover(str(tmp_path), DIR_FILES) == (str(tmp_path / 'opencode.json'), [])
    (tmp_path / 'opencode.json').write_text('{}')
    (tmp_path / 'opencode.jsonc').write_text('{}')
    assert discover(str(tmp_path), DIR_FILES) == (str(tmp_path / 'opencode.jsonc'), [str(tmp_path / 'opencode.json')])


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
    changes = cfg.plan_managed_user(env, 'omniroute', 'sk-user-key-123456', True)
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
    gone = cfg.plan_managed_user(env, 'omniroute', None, False)
    assert json.loads(gone[0].new) == {'other': {'type': 'api', 'key': 'k2'}}
    with pytest.raises(Exception):
        cfg.plan_managed_user(env, 'omniroute', '{env:KEY}', True)


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


# --------------------------------------------------------------------------- drift
def test_drift_lists_owned_paths_another_tool_changed_and_never_values():
    s = spec(models=['auto', 'gpt'], only_gateway=True, settings={'autoupdate': False})
    first = mg.plan_managed(ADMIN, s).new_text
    assert mg.drift(ADMIN, first, 'omniroute') == []  # a new entry is no drift
    assert mg.drift(first, mg.plan_managed(first, s).new_text, 'omniroute') == []
    data = parse(first)
    data['provider']['omniroute']['options']['baseURL'] = 'http://evil.example/v1'
    data['provider']['omniroute']['options']['apiKey'] = 'sk-planted-by-a-tool-123456'
    data['provider']['omniroute']['models']['extra'] = {}
    del data['provider']['omniroute']['models']['gpt']
    data['enabled_providers'] = ['omniroute', 'direct']
    data['autoupdate'] = True
    data['share'] = 'auto'  # not the module's: kept, not drift
    edited = json.dumps(data, indent=2)
    new = mg.plan_managed(edited, s).new_text
    found = mg.drift(edited, new, 'omniroute')
    assert found == sorted(['autoupdate', 'enabled_providers', 'provider.omniroute.models.extra',
                            'provider.omniroute.models.gpt', 'provider.omniroute.options.apiKey',
                            'provider.omniroute.options.baseURL'])
    assert 'sk-planted' not in json.dumps(found) and 'evil' not in json.dumps(found)
    assert parse(new)['share'] == 'auto'


# --------------------------------------------------------------------------- verify
def _managed_dir(tmp_path, base_url, **extra):
    directory = tmp_path / 'managed'
    directory.mkdir(exist_ok=True)
    text = mg.plan_managed('', spec(base_url=base_url, models=['team-fast', 'openai/o3'], **extra)).new_text
    (directory / 'opencode.json').write_text(text)
    return directory


def test_managed_layer_reports_the_file_and_whether_its_entry_is_the_roles(tmp_path):
    missing = mg.managed_layer(str(tmp_path / 'none'), 'omniroute', 'http://gw:20128/v1')
    assert missing['found'] is False and missing['matches'] is False
    assert str(tmp_path / 'none' / 'opencode.json') in missing['problems'][0]
    directory = _managed_dir(tmp_path, 'http://gw:20128')
    good = mg.managed_layer(str(directory), 'omniroute', 'http://gw:20128/v1')
    assert good['matches'] and good['entry'] and good['path'] == str(directory / 'opencode.json')
    assert good['models'] == ['openai/o3', 'team-fast'] and good['problems'] == []
    # Another tool: a jsonc on top that points elsewhere with user info, and disables the provider.
    (directory / 'opencode.jsonc').write_text(
        '{"provider": {"omniroute": {"options": {"baseURL": "http://u:sk-pw-123456@other:1/v1"}}},'
        ' "disabled_providers": ["omniroute"]}')
    bad = mg.managed_layer(str(directory), 'omniroute', 'http://gw:20128/v1')
    assert bad['path'] == str(directory / 'opencode.jsonc') and not bad['matches']
    assert bad['base_url'] == 'http://other:1/v1' and 'sk-pw' not in json.dumps(bad)
    assert any('not to http://gw:20128/v1' in p for p in bad['problems'])
    assert any('disabled_providers' in p for p in bad['problems'])


def test_verify_user_ready_and_each_managed_scope_problem_names_user_and_file(tmp_path):
    from ansible_collections.omniroute.opencode.tests.unit.plugins.module_utils.test_gateway_utils import Stub
    stub = Stub()
    key = 'sk-unit-verify-managed-4c3b2a'
    try:
        stub.reply = (200, json.dumps({'data': [{'id': 'team-fast'}, {'id': 'openai/o3'}]}).encode(), 0)
        base = stub.url  # .../v1
        directory = _managed_dir(tmp_path, base)
        home = tmp_path / 'home'
        home.mkdir()
        env = {'HOME': str(home), 'PATH': ''}
        auth = str(home / '.local' / 'share' / 'opencode' / 'auth.json')
        params = {'name': 'omniroute', 'base_url': base, 'timeout': 5}
        who = 'user alice on laptop7'
        res = mg.verify_user(params, key, env, str(home), 'present', auth, who, directory=str(directory))
        assert res['ready'] is True and res['cause'] is None and res['key_accepted'] is True
        assert res['managed']['matches'] and res['managed']['path'] == str(directory / 'opencode.json')
        assert res['key'] == 'present' and res['auth_path'] == auth and res['missing'] == []
        assert stub.auth[-1] == ('/v1/models', 'Bearer ' + key)

        # A user layer still carrying the provider (OPENCODE_CONFIG, which the plan does not touch).
        mine = tmp_path / 'mine.json'
        mine.write_text('{"provider": {"omniroute": {"options": {"baseURL": "http://direct/v1"}}}}')
        res = mg.verify_user(params, key, dict(env, OPENCODE_CONFIG=str(mine)), str(home), 'present', auth, who,
                             directory=str(directory))
        assert res['ready'] is False and res['layers'][0]['path'] == str(mine)
        assert res['cause'].startswith(who + ': ') and str(mine) in res['cause']

        # No key: reported with the auth.json path; nothing is sent as a key.
        res = mg.verify_user(params, None, env, str(home), 'missing', auth, who, directory=str(directory))
        assert res['ready'] is False and res['key_accepted'] is None and res['key'] == 'missing'
        assert 'no key for provider omniroute in %s' % auth in res['cause'] and stub.auth[-1][1] is None

        # The managed file changed by another tool, a model the key is not offered, the escape hatch.
        (directory / 'opencode.json').write_text(
            (directory / 'opencode.json').read_text().replace(base, 'http://elsewhere/v1'))
        stub.reply = (200, json.dumps({'data': [{'id': 'team-fast'}]}).encode(), 0)
        res = mg.verify_user(params, key, dict(env, OPENCODE_TEST_MANAGED_CONFIG_DIR=str(tmp_path)), str(home),
                             'present', auth, who, directory=str(directory))
        assert res['ready'] is False and res['managed']['matches'] is False
        assert res['missing'] == ['openai/o3']
        assert 'sends provider.omniroute to http://elsewhere/v1' in res['cause']
        assert 'OPENCODE_TEST_MANAGED_CONFIG_DIR=%s' % tmp_path in res['cause']

        # A rejected key (the gateway echoes it): reported, and the key never comes back.
        stub.reply = (401, json.dumps({'error': {'message': 'Invalid API key %s' % key}}).encode(), 0)
        res = mg.verify_user(params, key, env, str(home), 'present', auth, who, directory=str(directory))
        assert res['key_accepted'] is False and 'rejects the key in %s' % auth in res['cause']
        assert 'Invalid API key' in res['cause'] and key not in json.dumps(res)
        # Unreachable: reported, not raised.
        res = mg.verify_user(dict(params, base_url='http://127.0.0.1:9/v1', timeout=2), key, env, str(home),
                             'present', auth, who, directory=str(directory))
        assert res['reachable'] is False and res['ready'] is False and 'gives no model list' in res['cause']
        assert key not in json.dumps(res)
    finally:
        stub.close()


# --------------------------------------------------------------------------- the record of what was written
def _written(text, s, name='omniroute', file='opencode.json'):
    """The managed file after a run, and the record that run keeps."""
    new = mg.plan_managed(text, s).new_text
    return new, mg.record(new, name, file, s)


def test_drift_against_the_record_ignores_a_change_of_the_modules_own_options():
    """Issue 25: the examples run in order warned "changed by another tool" for their own options."""
    first, rec = _written(ADMIN, spec(models=['auto'], only_gateway=True, settings={'autoupdate': False}))
    other = spec(models=['auto', 'gpt'], base_url='http://gw2.example.com', model='gpt')
    new = mg.plan_managed(first, other).new_text
    assert new != first and mg.drift(first, new, 'omniroute', rec) == []
    # Without the record the same run looks like drift: what the record is for.
    assert mg.drift(first, new, 'omniroute') != []


def test_drift_against_the_record_names_what_another_tool_changed_and_is_put_back():
    s = spec(models=['auto', 'gpt'], only_gateway=True, settings={'autoupdate': False, 'permission': {'edit': 'deny'}})
    first, rec = _written(ADMIN, s)
    data = parse(first)
    data['provider']['omniroute']['options']['baseURL'] = 'http://evil.example/v1'
    data['provider']['omniroute']['options']['timeout'] = 5000  # added by the admin: kept, so no drift
    data['provider']['omniroute']['models']['extra'] = {}
    data['autoupdate'] = True
    data['permission']['bash'] = 'ask'  # merged settings: the admin's key stays
    data['share'] = 'auto'  # not the module's
    edited = json.dumps(data, indent=2)
    new = mg.plan_managed(edited, s).new_text
    assert mg.drift(edited, new, 'omniroute', rec) == [
        'autoupdate', 'provider.omniroute.models.extra', 'provider.omniroute.options.baseURL']
    assert parse(new)['provider']['omniroute']['options']['timeout'] == 5000
    # The entry removed by another tool is drift too (a new entry without a record is not).
    gone = json.dumps(dict((k, v) for k, v in parse(first).items() if k != 'provider'))
    assert mg.drift(gone, mg.plan_managed(gone, s).new_text, 'omniroute', rec) == ['provider.omniroute']
    assert mg.drift(gone, mg.plan_managed(gone, s).new_text, 'omniroute') == []


def test_state_file_round_trip_and_what_it_holds():
    s = spec(only_gateway=True, model='auto', settings={'autoupdate': False})
    first, rec = _written('', s)
    assert rec == {'file': 'opencode.json', 'entry': parse(first)['provider']['omniroute'],
                   'settings': {'enabled_providers': ['omniroute'], 'model': 'omniroute/auto', 'autoupdate': False}}
    text = mg.render_state({}, 'omniroute', rec)
    assert mg.read_state(text) == {'omniroute': rec} and 'apiKey' not in text
    assert mg.render_state(mg.read_state(text), 'omniroute', rec) == text  # same record, same bytes
    both = mg.render_state(mg.read_state(text), 'corp', dict(rec, file='opencode.jsonc'))
    assert sorted(mg.read_state(both)) == ['corp', 'omniroute']
    assert mg.render_state(mg.read_state(text), 'omniroute', None) is None
    for bad in ('', 'not json', '[]', '{"providers": []}', '{"providers": {"x": 1}}'):
        assert mg.read_state(bad) == {}


def test_owned_absent_removes_only_what_this_collection_wrote():
    s = spec(only_gateway=True, model='auto', settings={'autoupdate': False, 'share': 'disabled'})
    first, rec = _written(ADMIN, s)
    # The admin changed a recorded setting since: it stays; the unchanged one goes.
    changed = first.replace('"share": "disabled"', '"share": "manual"', 1)
    plan = mg.plan_owned_absent(changed, 'omniroute', rec, 'opencode.json')
    assert plan.removed and plan.foreign == [] and plan.changed
    data = parse(plan.new_text)
    assert 'omniroute' not in data['provider'] and 'enabled_providers' not in data and 'model' not in data
    assert 'autoupdate' not in data and data['share'] == 'manual' and data['permission'] == {'bash': 'ask'}
    assert plan.new_text.startswith('// Managed by IT. Do not edit.\n')
    assert 'removed autoupdate (set by this collection)' in plan.changes


@pytest.mark.parametrize('case, words', [
    ('no record', 'has no record of writing it'),
    ('other file', 'recorded its entry in opencode.jsonc, not in this file'),
    ('changed', 'changed since this collection wrote it, at provider.omniroute.options.baseURL'),
])
def test_owned_absent_leaves_an_entry_it_did_not_write_alone(case, words):
    first, rec = _written(ADMIN, spec(only_gateway=True))
    text = first
    if case == 'no record':
        rec = None
    elif case == 'other file':
        rec = dict(rec, file='opencode.jsonc')
    else:
        text = first.replace('http://gw.example.com:20128/v1', 'http://other/v1')
    plan = mg.plan_owned_absent(text, 'omniroute', rec, 'opencode.json')
    assert not plan.changed and not plan.removed and plan.new_text == text
    (item,) = plan.foreign
    assert item['provider'] == 'omniroute' and words in item['reason']


def test_owned_absent_without_an_entry_is_nothing_to_do():
    first, rec = _written(ADMIN, spec())
    for text in ('', ADMIN, '// only a comment\n'):
        plan = mg.plan_owned_absent(text, 'omniroute', rec, 'opencode.json')
        assert not plan.changed and plan.foreign == [] and not plan.removed
