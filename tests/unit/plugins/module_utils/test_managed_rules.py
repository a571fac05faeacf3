# -*- coding: utf-8 -*-
"""The rules of _managed.py that mutation testing showed no test pinned: which values count as a
key in the managed layer (every refusal compared whole), what a ManagedSpec keeps, the exact
``changes`` and text of a plan (the allow-list, extra settings merged key by key), what ``absent``
removes, the record of what was written (its file's bytes, what is read back, drift against it and
the ownership reasons), what ``managed_layer`` and ``verify_user`` report (whole results, every
problem in words) and the macOS profile (its whole payload and every refusal)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import plistlib
import re
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _layout
from ansible_collections.omniroute.opencode.plugins.module_utils import _managed as mg
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
from ansible_collections.omniroute.opencode.tests.support.files import write
from ansible_collections.omniroute.opencode.tests.support.http_server import CLOSED, Server, models_route as gateway_route, self_signed

GW = 'http://gw:1'
ENTRY = {'npm': '@ai-sdk/openai-compatible', 'name': 'OmniRoute', 'options': {'baseURL': 'http://gw:1/v1'},
         'models': {'a': {'name': 'a'}}}


def spec(**kw):
    kw.setdefault('base_url', GW)
    kw.setdefault('models', ['a'])
    return mg.ManagedSpec(**kw)


def refusal(function, *args, **kwargs):
    """The message of the PlanError ``function`` raises."""
    with pytest.raises(oc.PlanError) as caught:
        function(*args, **kwargs)
    return str(caught.value)


def dumps(value):
    return json.dumps(value, indent=2) + '\n'


# --------------------------------------------------------------------------- key checks
@pytest.mark.parametrize('value, path, found', [
    ({'apiKey': 'abc'}, (), ['apiKey']),
    ({'apiKey': ''}, (), []),  # an empty value under a key name is no key
    ({'apiKey': '   '}, (), []),  # nor a blank one
    ({'apiKey': 5}, (), []),
    ({'apiKey': {'x': 'sk-abcdefgh'}}, (), ['apiKey.x']),  # not a string: looked into
    ({'options': {'headers': {'Authorization': 'Bearer abcdefgh'}}}, (), ['options.headers.Authorization']),
    ({'note': 'sk-abcdefgh'}, (), ['note']),  # shaped like a key whatever its name
    ({'keys': ['plain', 'sk-abcdefgh']}, (), ['keys.[1]']),
    ({1: {'token': 'x'}}, (), ['1.token']),
    ({'a': {'token': 'x'}, 'b': 'sk-abcdefgh', 'c': 'ok'}, (), ['a.token', 'b']),
    ('sk-abcdefgh', (), ['(value)']),
    (['ok', 'sk-abcdefgh'], (), ['[1]']),
    ({'apiKey': 'x'}, ('provider', 'corp'), ['provider.corp.apiKey']),
    ('sk-abcdefgh', ('provider', 'corp'), ['provider.corp']),
    ({'token': '{env:TOKEN}', 'password': '{file:~/.pw}'}, (), ['token', 'password']),
    ({'keybinds': {'leader': 'ctrl+x'}, 'max_tokens': 5, 'sk': 'x'}, (), []),
])
def test_find_secrets_names_each_credential_by_its_dotted_path(value, path, found):
    assert mg.find_secrets(value, path) == found


# --------------------------------------------------------------------------- ManagedSpec
def test_a_managed_spec_defaults_to_the_key_less_default_entry():
    s = mg.ManagedSpec()
    assert s.name == 'omniroute' and s.only_gateway is False and s.settings == {}
    assert s.base_url == 'http://localhost:20128/v1' and s.model_ids == list(oc.DEFAULT_MODELS)
    e = s.entry_spec
    assert (e.name, e.display_name, e.api_key, e.key_in_config, e.keep_models, e.model, e.small_model) == (
        'omniroute', 'OmniRoute', None, False, False, None, None)
    assert e.entry()['options'] == {'baseURL': 'http://localhost:20128/v1'}


def test_a_managed_spec_keeps_each_option_it_is_given():
    settings = {'share': 'disabled'}
    s = mg.ManagedSpec(name='corp', display_name='Corp', base_url='http://gw:2/', models=['b', 'a'],
                       model_labels={'a': 'Model A'}, model='a', small_model='b', only_gateway=1,
                       settings=settings, keep_models=1)
    settings['share'] = 'auto'  # the spec holds its own copy
    assert s.name == 'corp' and s.only_gateway is True and s.settings == {'share': 'disabled'}
    assert s.base_url == 'http://gw:2/v1' and s.model_ids == ['b', 'a']
    e = s.entry_spec
    assert (e.name, e.display_name, e.model, e.small_model, e.keep_models) == ('corp', 'Corp', 'corp/a', 'corp/b', True)
    assert e.entry() == {'npm': '@ai-sdk/openai-compatible', 'name': 'Corp', 'options': {'baseURL': 'http://gw:2/v1'},
                         'models': {'b': {'name': 'b'}, 'a': {'name': 'Model A'}}}


@pytest.mark.parametrize('kw, message', [
    (dict(settings={1: 'x'}), 'managed settings must be named by non-empty strings, got 1'),
    (dict(settings={'': 'x'}), "managed settings must be named by non-empty strings, got ''"),
    (dict(settings={'$schema': 'x'}), "managed settings may not set '$schema': the provider entry and $schema "
                                      "are planned from the other options"),
    (dict(settings={'share': 'auto', 'provider': {}}), "managed settings may not set 'provider': the provider entry "
                                                       "and $schema are planned from the other options"),
    (dict(name='corp', only_gateway=True, settings={'enabled_providers': ['x']}),
     'managed settings may not set enabled_providers together with only_gateway, which sets it to [corp]'),
    (dict(settings={'x': {'apiKey': 'v'}, 'note': 'sk-abcdefgh'}),
     'the managed config is readable by every user and never holds a key; refusing x.apiKey, note'),
    (dict(name='corp', display_name='sk-abcdefgh', settings={'token': 't'}),
     'the managed config is readable by every user and never holds a key; refusing token, provider.corp.name'),
])
def test_a_managed_spec_refuses_settings_it_may_not_hold_in_words(kw, message):
    assert refusal(spec, **kw) == message


def test_enabled_providers_is_an_ordinary_setting_without_only_gateway():
    assert spec(settings={'enabled_providers': ['x']}).settings == {'enabled_providers': ['x']}


# --------------------------------------------------------------------------- planning
def test_a_new_managed_file_is_the_entry_then_the_allow_list_then_the_settings_in_order():
    s = spec(name='corp', only_gateway=True, settings={'permission': {'bash': 'ask'}, 'share': 'disabled'})
    plan = mg.plan_managed('', s)
    assert plan.changes == ['added $schema', 'added provider.corp', 'set enabled_providers to [corp]',
                            'set permission', 'set share']
    assert plan.new_text == dumps({'$schema': oc.SCHEMA_URL, 'provider': {'corp': ENTRY},
                                   'enabled_providers': ['corp'], 'permission': {'bash': 'ask'}, 'share': 'disabled'})
    assert plan.old_text == '' and plan.entry == ENTRY
    again = mg.plan_managed(plan.new_text, s)
    assert (again.new_text, again.changes, again.entry) == (plan.new_text, [], ENTRY)


@pytest.mark.parametrize('enabled, only_gateway, after, changes', [
    (None, True, ['omniroute'], ['set enabled_providers to [omniroute]']),
    # (The entry planner first adds the name to an existing list; only_gateway then replaces it.)
    (['other'], True, ['omniroute'], ['added omniroute to enabled_providers', 'set enabled_providers to [omniroute]']),
    (['omniroute'], True, ['omniroute'], []),
    (['omniroute'], False, None, ['removed enabled_providers (only_gateway is off)']),
    (['omniroute', 'other'], False, ['omniroute', 'other'], []),  # the administrator's own list
    (None, False, None, []),
])
def test_only_gateway_sets_its_allow_list_and_off_removes_only_that_list(enabled, only_gateway, after, changes):
    data = {'$schema': oc.SCHEMA_URL, 'provider': {'omniroute': ENTRY}}
    if enabled is not None:
        data['enabled_providers'] = enabled
    plan = mg.plan_managed(dumps(data), spec(only_gateway=only_gateway))
    assert plan.changes == changes and parse(plan.new_text).get('enabled_providers') == after


@pytest.mark.parametrize('before, settings, after, changes', [
    # Objects merge key by key, at any depth; what the administrator has besides stays.
    ({'permission': {'bash': 'ask', 'edit': 'allow'}}, {'permission': {'bash': 'deny'}},
     {'permission': {'bash': 'deny', 'edit': 'allow'}}, ['set permission']),
    ({'tools': {'a': {'x': 1, 'y': 2}}}, {'tools': {'a': {'x': 3}}}, {'tools': {'a': {'x': 3, 'y': 2}}}, ['set tools']),
    # An empty object replaces (it has nothing to merge); anything else replaces too.
    ({'permission': {'bash': 'ask'}}, {'permission': {}}, {'permission': {}}, ['set permission']),
    ({'permission': 'ask'}, {'permission': {'bash': 'ask'}}, {'permission': {'bash': 'ask'}}, ['set permission']),
    ({'instructions': ['a.md']}, {'instructions': ['b.md']}, {'instructions': ['b.md']}, ['set instructions']),
    # A setting that already holds the value is no change.
    ({'permission': {'bash': 'ask', 'edit': 'allow'}}, {'permission': {'bash': 'ask'}, 'share': 'auto'},
     {'permission': {'bash': 'ask', 'edit': 'allow'}, 'share': 'auto'}, ['set share']),
    ({'share': 'auto'}, {'share': 'auto'}, {'share': 'auto'}, []),
])
def test_extra_settings_merge_like_opencode_layers_and_report_only_what_they_change(before, settings, after, changes):
    data = dict({'$schema': oc.SCHEMA_URL, 'provider': {'omniroute': ENTRY}}, **before)
    plan = mg.plan_managed(dumps(data), spec(settings=settings))
    assert plan.changes == changes
    assert parse(plan.new_text) == dict({'$schema': oc.SCHEMA_URL, 'provider': {'omniroute': ENTRY}}, **after)


def test_a_plan_that_ends_where_it_started_reports_no_change():
    # The entry planner adds the name to the allow-list the settings then set back as they were.
    s = spec(settings={'enabled_providers': ['x']})
    text = dumps({'$schema': oc.SCHEMA_URL, 'provider': {'omniroute': ENTRY}, 'enabled_providers': ['x']})
    plan = mg.plan_managed(text, s)
    assert (plan.new_text, plan.changes) == (text, [])


def test_a_credential_in_the_managed_entry_is_refused_naming_each_path():
    entry = dict(ENTRY, options={'baseURL': 'http://gw:1/v1', 'headers': {'X-Token': 'abc', 'Authorization': 'Bearer zzzzzzzz'}})
    text = dumps({'provider': {'corp': entry}})
    assert refusal(mg.plan_managed, text, spec(name='corp')) == (
        'the managed entry already holds a credential at provider.corp.options.headers.X-Token, '
        'provider.corp.options.headers.Authorization; the managed config is readable by every user: move it out, then run again')


# --------------------------------------------------------------------------- absent, the lower file, a user's copy
@pytest.mark.parametrize('data, after, changes', [
    ({'provider': {'corp': ENTRY, 'x': {}}, 'enabled_providers': ['corp'], 'share': 'auto'},
     {'provider': {'x': {}}, 'share': 'auto'}, ['removed provider.corp', 'removed enabled_providers']),
    ({'provider': {'corp': ENTRY}, 'enabled_providers': ['x', 'corp', 'y']},
     {'provider': {}, 'enabled_providers': ['x', 'y']}, ['removed provider.corp', 'removed corp from enabled_providers']),
    ({'enabled_providers': ['x']}, {'enabled_providers': ['x']}, []),
    ({'enabled_providers': 'corp'}, {'enabled_providers': 'corp'}, []),
    ({'enabled_providers': ['corp']}, {}, ['removed enabled_providers']),
])
def test_absent_removes_the_entry_and_the_name_from_the_allow_list(data, after, changes):
    plan = mg.plan_managed_absent(json.dumps(data), 'corp')
    assert plan.changes == changes and parse(plan.new_text) == after


def test_absent_on_an_empty_file_is_nothing_to_do():
    for text in ('', '  \n'):
        plan = mg.plan_managed_absent(text, 'corp')
        assert (plan.new_text, plan.changes) == (text, [])


def test_absent_that_leaves_no_text_returns_the_base_plan():
    plan = mg.plan_managed_absent('// x\n', 'corp')
    assert (plan.old_text, plan.new_text, plan.changes) == ('// x\n', '// x\n', [])


@pytest.mark.parametrize('present, after, changes', [
    (True, {'$schema': oc.SCHEMA_URL, 'model': 'corp/a', 'provider': {}},
     ['removed provider.corp (OpenCode would merge it into the managed entry)', 'added $schema']),
    (False, {'provider': {}}, ['removed provider.corp', 'removed model']),
])
def test_the_lower_managed_file_loses_its_copy_and_keeps_the_model_only_while_present(present, after, changes):
    plan = mg.plan_lower(json.dumps({'model': 'corp/a', 'provider': {'corp': {}}}), 'corp', present)
    assert plan.changes == changes and parse(plan.new_text) == after


def test_a_users_stale_copy_goes_and_their_model_stays():
    plan = mg.plan_user_stale(json.dumps({'model': 'corp/a', 'provider': {'corp': {}}}), 'corp')
    assert plan.changes == ['removed provider.corp (OpenCode would merge it into the managed entry)', 'added $schema']
    assert parse(plan.new_text) == {'$schema': oc.SCHEMA_URL, 'model': 'corp/a', 'provider': {}}


# --------------------------------------------------------------------------- the record of what was written
def test_the_record_holds_the_entry_and_every_top_level_setting_the_module_set():
    s = spec(name='corp', only_gateway=True, model='a', small_model='a', settings={'share': 'auto'})
    text = json.dumps({'provider': {'corp': ENTRY, 'x': {}}, 'share': 'auto'})
    assert mg.record(text, 'corp', '/etc/opencode/opencode.json', s) == {
        'file': '/etc/opencode/opencode.json', 'entry': ENTRY,
        'settings': {'enabled_providers': ['corp'], 'model': 'corp/a', 'small_model': 'corp/a', 'share': 'auto'}}
    assert mg.record(text, 'corp', 'f', spec(name='corp', small_model='a')) == {
        'file': 'f', 'entry': ENTRY, 'settings': {'small_model': 'corp/a'}}


@pytest.mark.parametrize('text', ['', 'not json', '[]', '{}', '{"provider": null}', '{"provider": {"x": {}}}'])
def test_the_record_of_a_file_without_the_entry_has_none(text):
    assert mg.record(text, 'corp', 'f', spec(name='corp')) == {'file': 'f', 'entry': None, 'settings': {}}


RECORD = {'file': 'opencode.json', 'entry': {'npm': 'é'}, 'settings': {'share': 'auto'}}
STATE = '''{
  "about": "What omniroute.opencode (the managed module) last wrote in this directory, so that it can tell its own \
entries from those of other tools. Holds no key. Deleting it makes the module treat every entry here as not its own.",
  "providers": {
    "corp": {
      "entry": {
        "npm": "é"
      },
      "file": "opencode.json",
      "settings": {
        "share": "auto"
      }
    }
  },
  "version": 1
}
'''


def test_the_state_file_is_sorted_indented_json_that_keeps_text_as_it_is():
    assert mg.render_state({}, 'corp', RECORD) == STATE
    assert mg.read_state(STATE) == {'corp': RECORD}


def test_rendering_the_state_replaces_or_drops_one_record_and_leaves_the_given_records_alone():
    records = {'corp': RECORD}
    assert mg.render_state(records, 'corp', None) is None  # no record left: the file goes
    assert mg.render_state(records, 'other', None) == STATE
    both = mg.render_state(records, 'other', dict(RECORD, file='opencode.jsonc'))
    assert records == {'corp': RECORD}
    assert mg.read_state(both) == {'corp': RECORD, 'other': dict(RECORD, file='opencode.jsonc')}
    assert mg.render_state(mg.read_state(both), 'other', None) == STATE


def test_reading_the_state_keeps_only_records_with_a_file_and_settings_as_an_object():
    good = {'file': 'f', 'entry': None, 'settings': {}}
    text = json.dumps({'providers': {'a': good, 'b': {'file': 1}, 'c': 'x', 'd': {'file': 'f', 'settings': []},
                                     'e': {'file': 'f'}, 'f': {'settings': {}}}})
    assert mg.read_state(text) == {'a': good, 'e': {'file': 'f'}}


@pytest.mark.parametrize('text', ['', 'not json', '[]', 'null', '{}', '{"providers": []}', '{"providers": null}'])
def test_a_state_file_that_is_no_record_reads_as_none(text):
    assert mg.read_state(text) == {}


def test_an_owned_plan_is_a_plan_with_foreign_entries_and_whether_the_entry_goes():
    plan = mg.OwnedPlan('a', 'b', ['c'])
    assert (plan.old_text, plan.new_text, plan.changes, plan.foreign, plan.removed, plan.changed) == (
        'a', 'b', ['c'], [], False, True)
    plan = mg.OwnedPlan('a', 'a', [], foreign=({'provider': 'p'},), removed=True)
    assert (plan.foreign, plan.removed, plan.changed) == ([{'provider': 'p'}], True, False)


# --------------------------------------------------------------------------- ownership and owned absent
NO_RECORD = ('this collection has no record of writing it (it was written by another tool or by hand, '
             'or by a release of omniroute.opencode before the record was kept)')


@pytest.mark.parametrize('text, record, reason', [
    ('', None, None),
    ('[]', None, None),
    ('{"provider": []}', None, None),
    ('{"provider": {"x": {}}}', None, None),
    ('{"provider": {"corp": {"a": 1}}}', None, NO_RECORD),
    ('{"provider": {"corp": {"a": 1}}}', {'file': 'opencode.jsonc', 'entry': {'a': 1}},
     'this collection recorded its entry in opencode.jsonc, not in this file'),
    ('{"provider": {"corp": {"a": 1}}}', {'entry': {'a': 1}}, 'this collection recorded its entry in None, not in this file'),
    ('{"provider": {"corp": {"a": 1}}}', {'file': 'opencode.json', 'entry': {'a': 1}}, None),
    ('{"provider": {"corp": {"a": 2, "c": {"d": 1}, "e": 1}}}', {'file': 'opencode.json', 'entry': {'a': 1, 'b': 1, 'c': {}, 'e': 1}},
     'it was changed since this collection wrote it, at provider.corp.a, provider.corp.b, provider.corp.c.d'),
    ('{"provider": {"corp": {"a": 1}}}', {'file': 'opencode.json'}, 'it was changed since this collection wrote it, at provider.corp'),
])
def test_ownership_says_why_an_entry_is_not_this_collections(text, record, reason):
    assert mg.ownership(text, 'corp', record, 'opencode.json') == reason


def test_owned_absent_leaves_a_foreign_entry_alone_and_says_why():
    text = '{"provider": {"corp": {"a": 1}}}'
    plan = mg.plan_owned_absent(text, 'corp', None, 'opencode.json')
    assert (plan.new_text, plan.changes, plan.removed, plan.foreign) == (
        text, [], False, [{'provider': 'corp', 'reason': NO_RECORD}])


def test_owned_absent_without_the_entry_changes_nothing():
    text = '{"provider": {"x": {}}, "share": "auto"}'
    plan = mg.plan_owned_absent(text, 'corp', {'file': 'f', 'settings': {'share': 'auto'}}, 'f')
    assert (plan.new_text, plan.changes, plan.removed, plan.foreign) == (text, [], False, [])


def test_owned_absent_removes_the_recorded_settings_that_still_hold_the_recorded_value():
    entry = {'a': 1}
    data = {'$schema': oc.SCHEMA_URL, 'provider': {'corp': entry}, 'enabled_providers': ['x', 'corp'], 'model': 'x/m',
            'small_model': 'x/s', 'zeta': 1, 'alpha': {'b': 2}, 'share': 'manual', 'keep': True}
    # What the entry's own removal handles is never removed as a recorded setting, even when equal.
    settings = {'$schema': oc.SCHEMA_URL, 'provider': {}, 'enabled_providers': ['x'], 'model': 'x/m', 'small_model': 'x/s',
                'zeta': 1, 'alpha': {'b': 2}, 'share': 'auto', 'gone': 1}
    plan = mg.plan_owned_absent(dumps(data), 'corp', {'file': 'f', 'entry': entry, 'settings': settings}, 'f')
    assert plan.removed is True and plan.foreign == [] and plan.old_text == dumps(data)
    assert plan.changes == ['removed provider.corp', 'removed corp from enabled_providers',
                            'removed alpha (set by this collection)', 'removed zeta (set by this collection)']
    assert parse(plan.new_text) == {'$schema': oc.SCHEMA_URL, 'provider': {}, 'enabled_providers': ['x'], 'model': 'x/m',
                                    'small_model': 'x/s', 'share': 'manual', 'keep': True}


def test_owned_absent_of_a_record_without_settings_removes_the_entry_only():
    text = '{"provider": {"corp": {"a": 1}}, "share": "auto"}'
    plan = mg.plan_owned_absent(text, 'corp', {'file': 'f', 'entry': {'a': 1}}, 'f')
    assert plan.changes == ['removed provider.corp'] and parse(plan.new_text) == {'provider': {}, 'share': 'auto'}


# --------------------------------------------------------------------------- drift
@pytest.mark.parametrize('old, new, with_record', [
    ('', '{"provider": {"corp": {"a": 1}}}', []),
    ('{"provider": {"corp": {"a": 1}}}', '{"provider": {"corp": {"a": 1}}}', []),
    ('{"provider": {"corp": {"a": 1}', '{"provider": {"corp": {"a": 2}}}', []),
    ('[{"provider": {"corp": {"a": 1}}}]', '{"provider": {"corp": {"a": 2}}}', []),
    ('{"provider": {"corp": {"a": 1}}}', '[]', []),
    ('{"provider": {"corp": {"a": 1}}}', '', []),
    # A new entry is no drift, unless the record says it was there.
    ('{"provider": {"x": {"a": 1}}}', '{"provider": {"x": {"a": 2}, "corp": {}}}', ['provider.corp']),
])
def test_no_drift_in_a_file_without_an_entry_to_compare(old, new, with_record):
    assert mg.drift(old, new, 'corp') == []
    assert mg.drift(old, new, 'corp', {'file': 'f', 'entry': {'a': 1}, 'settings': {}}) == with_record


def test_drift_without_a_record_is_every_planned_change_but_the_schema():
    old = {'$schema': 'a', 'provider': {'corp': {'a': 1, 'b': {'c': 1}, 'gone': 1}, 'x': {}}, 'share': 'auto', 'l': [1]}
    new = {'$schema': 'b', 'provider': {'corp': {'a': 2, 'b': {'c': 1, 'd': 1}}}, 'model': 'corp/a', 'l': [2]}
    assert mg.drift(json.dumps(old), json.dumps(new), 'corp') == [
        'l', 'model', 'provider.corp.a', 'provider.corp.b.d', 'provider.corp.gone', 'provider.x', 'share']


def test_drift_against_the_record_is_what_changed_since_and_the_plan_puts_back():
    rec = {'file': 'f', 'entry': {'a': 1, 'm': {'x': {}}}, 'settings': {'$schema': 'y', 'share': 'auto', 'auto': True}}
    old = {'$schema': 'x', 'provider': {'corp': {'a': 2, 'm': {'x': {}, 'y': {}}, 'kept': 1}}, 'share': 'manual',
           'auto': False, 'other': 1}
    # The plan puts a and the models back, keeps share and the added key, sets auto back and changes
    # other (not recorded) and $schema (never counted).
    new = {'$schema': 'y', 'provider': {'corp': {'a': 1, 'm': {'x': {}}, 'kept': 1}}, 'share': 'manual',
           'auto': True, 'other': 2}
    assert mg.drift(json.dumps(old), json.dumps(new), 'corp', rec) == ['auto', 'provider.corp.a', 'provider.corp.m.y']


def test_drift_against_the_record_counts_a_change_above_or_below_what_the_plan_puts_back():
    rec = {'file': 'f', 'entry': {'a': 1, 'm': 'all', 'o': {'x': 1}}}
    # m became an object (recorded: a string) and the plan changes inside it; the plan replaces o,
    # inside which o.x changed.
    old = {'provider': {'corp': {'a': 1, 'm': {'x': 1}, 'o': {'x': 2}}}}
    new = {'provider': {'corp': {'a': 1, 'm': {'x': 2}, 'o': 'none'}}}
    assert mg.drift(json.dumps(old), json.dumps(new), 'corp', rec) == ['provider.corp.m', 'provider.corp.o.x']


def test_drift_against_the_record_of_a_removed_entry_is_the_entry():
    rec = {'file': 'f', 'entry': {'a': 1}}  # (no settings recorded)
    old = {'share': 'auto', 'provider': {'x': {}}}
    new = {'share': 'auto', 'provider': {'x': {}, 'corp': {'a': 1}}}
    assert mg.drift(json.dumps(old), json.dumps(new), 'corp', rec) == ['provider.corp']
    assert mg.drift(json.dumps({'share': 'auto', 'provider': 'x'}), json.dumps(new), 'corp', rec) == ['provider.corp']


# --------------------------------------------------------------------------- managed_layer
EXPECTED = 'http://gw:1/v1'


def layer(directory, **fields):
    """A whole managed_layer result: the defaults of a directory without files, and ``fields``."""
    out = dict(directory=str(directory), path=str(directory / 'opencode.json'), found=False, entry=False, base_url=None,
               expected_base_url=EXPECTED, matches=False, models=[], problems=[])
    out.update(fields)
    return out


def test_managed_layer_of_a_directory_without_files_says_the_module_writes_them(tmp_path):
    d = tmp_path / 'etc'
    assert mg.managed_layer(str(d), 'corp', EXPECTED) == layer(d, problems=[
        'there is no managed config in %s (%s is missing); the managed module writes it' % (d, d / 'opencode.json')])


def test_managed_layer_of_the_roles_file_matches(tmp_path):
    write(tmp_path / 'opencode.json', json.dumps({'provider': {'corp': dict(ENTRY, models={'b': {}, 'a': {}})}}))
    assert mg.managed_layer(str(tmp_path), 'corp', EXPECTED + '/') == layer(
        tmp_path, found=True, entry=True, base_url=EXPECTED, expected_base_url=EXPECTED + '/', matches=True, models=['a', 'b'])


def test_managed_layer_merges_the_files_like_opencode_and_names_the_one_that_wins(tmp_path):
    # The lower opencode.json holds the entry, the jsonc above changes one option and adds a model.
    lower = dict(ENTRY, options={'baseURL': 'http://old/v1', 'timeout': 1})
    write(tmp_path / 'opencode.json', json.dumps({'provider': {'corp': lower}}))
    write(tmp_path / 'opencode.jsonc', '// admin\n{"provider": {"corp": {"options": {"baseURL": "http://gw:1/v1"}, '
                                       '"models": {"b": {}}}}, "share": "auto"}')
    assert mg.managed_layer(str(tmp_path), 'corp', EXPECTED) == layer(
        tmp_path, path=str(tmp_path / 'opencode.jsonc'), found=True, entry=True, base_url=EXPECTED, matches=True,
        models=['a', 'b'])


@pytest.mark.parametrize('lower, top', [('', '[1]'), ('[]', ''), ('[]', '"x"')])
def test_managed_layer_files_that_are_empty_or_no_object_add_nothing(tmp_path, lower, top):
    write(tmp_path / 'opencode.json', lower)
    write(tmp_path / 'opencode.jsonc', top)
    target = tmp_path / 'opencode.jsonc'
    assert mg.managed_layer(str(tmp_path), 'corp', EXPECTED) == layer(
        tmp_path, path=str(target), found=True, problems=['%s has no provider.corp (removed by another tool?)' % target])


@pytest.mark.parametrize('url, expected_url', [
    ('http://gw:1/v1/', 'http://gw:1/v1'),
    ('http://gw:1/v1', 'http://gw:1/v1//'),
    ('http://gw:1/APIX/', 'http://gw:1/APIX'),
])
def test_managed_layer_compares_base_urls_without_their_trailing_slashes(tmp_path, url, expected_url):
    write(tmp_path / 'opencode.json', json.dumps({'provider': {'corp': dict(ENTRY, options={'baseURL': url})}}))
    assert mg.managed_layer(str(tmp_path), 'corp', expected_url) == layer(
        tmp_path, found=True, entry=True, base_url=url, expected_base_url=expected_url, matches=True, models=['a'])


@pytest.mark.parametrize('data, fields, problems', [
    ({'provider': {'corp': {}}}, {}, [
        '{f} sends provider.corp to no baseURL, not to http://gw:1/v1 (changed by another tool?)',
        '{f} has provider.corp.npm other than @ai-sdk/openai-compatible']),
    ({'provider': {'corp': dict(ENTRY, options='x', models=['a'])}}, {},
     ['{f} sends provider.corp to no baseURL, not to http://gw:1/v1 (changed by another tool?)']),
    ({'provider': {'corp': dict(ENTRY, options={'baseURL': 5})}}, {'models': ['a']},
     ['{f} sends provider.corp to no baseURL, not to http://gw:1/v1 (changed by another tool?)']),
    ({'provider': {'corp': dict(ENTRY, npm='x', options={'baseURL': 'http://u:pw@gw:2/v1?t=1', 'apiKey': ''})},
      'disabled_providers': ['x', 'corp'], 'enabled_providers': ['x']},
     {'base_url': 'http://gw:2/v1', 'models': ['a']}, [
        '{f} sends provider.corp to http://gw:2/v1, not to http://gw:1/v1 (changed by another tool?)',
        "{f} sets provider.corp.options.apiKey, which hides every user's auth.json",
        '{f} has provider.corp.npm other than @ai-sdk/openai-compatible',
        '{f} lists corp in disabled_providers',
        '{f} has enabled_providers without corp']),
    ({'provider': {'corp': ENTRY}, 'disabled_providers': 'corp', 'enabled_providers': 'x'},
     {'base_url': EXPECTED, 'models': ['a'], 'matches': True}, []),
    ({'provider': {'corp': ENTRY}, 'disabled_providers': ['x'], 'enabled_providers': ['x', 'corp']},
     {'base_url': EXPECTED, 'models': ['a'], 'matches': True}, []),
])
def test_managed_layer_names_every_way_the_entry_is_not_the_roles(tmp_path, data, fields, problems):
    f = tmp_path / 'opencode.json'
    write(f, json.dumps(data))
    want = layer(tmp_path, found=True, entry=True, problems=[p.format(f=f) for p in problems])
    want.update(fields)
    assert mg.managed_layer(str(tmp_path), 'corp', EXPECTED) == want


@pytest.mark.parametrize('data', [{}, {'provider': []}, {'provider': {'corp': 'x'}}, {'provider': {'x': ENTRY}}])
def test_managed_layer_without_the_entry_says_so(tmp_path, data):
    f = tmp_path / 'opencode.json'
    write(f, json.dumps(data))
    assert mg.managed_layer(str(tmp_path), 'corp', EXPECTED) == layer(
        tmp_path, found=True, problems=['%s has no provider.corp (removed by another tool?)' % f])


def test_managed_layer_passes_over_a_file_that_cannot_be_read(tmp_path):
    (tmp_path / 'opencode.json').symlink_to(tmp_path / 'nowhere')
    write(tmp_path / 'opencode.jsonc', json.dumps({'provider': {'corp': ENTRY}}))
    assert mg.managed_layer(str(tmp_path), 'corp', EXPECTED) == layer(
        tmp_path, path=str(tmp_path / 'opencode.jsonc'), found=True, entry=True, base_url=EXPECTED, matches=True, models=['a'])


def test_managed_layer_stops_at_a_file_it_cannot_parse(tmp_path):
    lower = tmp_path / 'opencode.json'
    write(lower, '{,}')
    write(tmp_path / 'opencode.jsonc', json.dumps({'provider': {'corp': ENTRY}}))
    assert mg.managed_layer(str(tmp_path), 'corp', EXPECTED) == layer(
        tmp_path, path=str(tmp_path / 'opencode.jsonc'), found=True, problems=[
            '%s cannot be parsed (invalid JSONC: expected a property name in double quotes at line 1, column 2); '
            'OpenCode refuses to start with it' % lower])


def test_managed_layer_does_not_read_a_file_larger_than_a_layer_may_be(tmp_path):
    lower = tmp_path / 'opencode.json'
    with open(str(lower), 'wb') as f:
        f.truncate(_layout.MAX_LAYER_BYTES + 1)
    write(tmp_path / 'opencode.jsonc', json.dumps({'provider': {'corp': ENTRY}}))
    assert mg.managed_layer(str(tmp_path), 'corp', EXPECTED) == layer(
        tmp_path, path=str(tmp_path / 'opencode.jsonc'), found=True, problems=[
            '%s is larger than 32 MiB and was not read' % lower])


def test_managed_layer_sees_only_the_files_exists_admits(tmp_path):
    write(tmp_path / 'opencode.json', json.dumps({'provider': {'corp': ENTRY}}))
    write(tmp_path / 'opencode.jsonc', '{,}')
    assert mg.managed_layer(str(tmp_path), 'corp', EXPECTED, exists=lambda p: p.endswith('.json')) == layer(
        tmp_path, found=True, entry=True, base_url=EXPECTED, matches=True, models=['a'])


# --------------------------------------------------------------------------- verify_user
KEY = 'sk-unit-managed-rules-7f3e'
AUTH = '/home/u/.local/share/opencode/auth.json'
WHO = 'user u on host h'


# The gateway's /v1/models: KEY is offered a chat model, an embedding model and a model whose id
# holds the key; any other key is refused with an error that echoes it.
models_route = gateway_route(KEY, [{'id': 'a'}, {'id': 'emb', 'type': 'embedding'}, {'id': 'x-' + KEY}],
                             reject=lambda sent: 'Invalid API key %s' % sent)


@pytest.fixture(scope='module')
def gateway():
    server = Server({'/v1/models': models_route})
    yield server.url
    server.close()


def verify(tmp_path, url, key, key_state='present', catalog=('a',), params=None, environ=None, pending=None):
    """verify_user for a user whose home is empty, against a managed directory under tmp_path
    (``tmp_path``/etc) whose entry sends provider corp to ``url``/v1 with ``catalog``; the result
    without its ``seconds`` (the time the answer took) and the user's OpenCode (none here: checked)."""
    d = tmp_path / 'etc'
    write(d / 'opencode.json', json.dumps({'provider': {'corp': {
        'npm': '@ai-sdk/openai-compatible', 'options': {'baseURL': url + '/v1'}, 'models': dict((m, {}) for m in catalog)}}}))
    home = tmp_path / 'home'
    home.mkdir(exist_ok=True)
    env = dict({'HOME': str(home), 'PATH': ''}, **(environ or {}))
    res = mg.verify_user(dict({'name': 'corp', 'base_url': url + '/v1'}, **(params or {})), key, env, str(home),
                         key_state, AUTH, WHO, pending=pending, directory=str(d))
    assert sorted(_layout.opencode_info(_layout.Layout(env, str(home))).items()) == sorted(
        (k, res.pop(k)) for k in ('opencode', 'opencode_version'))
    seconds = res.pop('seconds')
    assert isinstance(seconds, float) and seconds >= 0
    return res


def expected(url, d, problems=(), **fields):
    """A whole verify_user result for ``verify``'s user and managed directory."""
    out = dict(url=url + '/v1/models', reachable=True, status=401, key_accepted=None, offered=[], offered_chat=[],
               missing=[], models_endpoint='HTTP 401', cause=None, layers=[], ready=not problems, scope='managed',
               key='present', auth_path=AUTH, problems=list(problems),
               managed=dict(directory=str(d), path=str(d / 'opencode.json'), found=True, entry=True, base_url=url + '/v1',
                            expected_base_url=url + '/v1', matches=True, models=['a']))
    if problems:
        out['cause'] = '%s: %s' % (WHO, '; '.join(problems))
    out.update(fields)
    return out


def test_verify_user_ready_with_a_key_the_gateway_accepts(tmp_path, gateway):
    res = verify(tmp_path, gateway, KEY)
    d = tmp_path / 'etc'
    # Whatever the gateway says, the key does not come back: the model named after it is scrubbed.
    offered = ['a', 'emb', 'x-********']
    assert res == expected(gateway, d, status=200, key_accepted=True, offered=offered, offered_chat=['a', 'x-********'],
                           models_endpoint='a list of 3 models')


def test_verify_user_names_the_managed_models_the_key_is_not_offered(tmp_path, gateway):
    res = verify(tmp_path, gateway, KEY, catalog=('a', 'b', 'c'))
    d = tmp_path / 'etc'
    problem = ('the managed catalog in %s has models the gateway does not offer to the key in %s: b, c'
               % (d / 'opencode.json', AUTH))
    want = expected(gateway, d, [problem], status=200, key_accepted=True, offered=['a', 'emb', 'x-********'],
                    offered_chat=['a', 'x-********'], models_endpoint='a list of 3 models', missing=['b', 'c'])
    want['managed']['models'] = ['a', 'b', 'c']
    assert res == want


@pytest.mark.parametrize('key, key_state, problems, accepted', [
    # No key in auth.json: said, and no key is sent.
    (None, 'missing', ['no key for provider corp in %s' % AUTH], None),
    # A key the plan has not stored is not sent either.
    (KEY, 'missing', ['no key for provider corp in %s' % AUTH], None),
    # Check mode: the key is made by this run.
    ('check-mode-key-to-be-created', 'present', ['the key does not exist yet: this run creates it in OmniRoute (check mode)'], None),
    # A reference is not a literal key: not sent, not judged.
    ('{env:OMNIROUTE_KEY}', 'present', [], None),
    # A refused key: said, with the gateway's words, and the key scrubbed from them.
    ('sk-wrong-abcdefgh', 'present', ['the gateway at {url}/v1/models rejects the key in %s (HTTP 401: Invalid API key ********)'
                                      % AUTH], False),
])
def test_verify_user_reports_the_key_state_and_the_gateways_answer_to_it(tmp_path, gateway, key, key_state, problems, accepted):
    res = verify(tmp_path, gateway, key, key_state)
    d = tmp_path / 'etc'
    assert res == expected(gateway, d, [p.format(url=gateway) for p in problems], key=key_state, key_accepted=accepted)


def test_verify_user_reports_a_gateway_without_a_model_list(tmp_path, gateway):
    res = verify(tmp_path, gateway + '/none', KEY)
    d = tmp_path / 'etc'
    assert res == expected(gateway + '/none', d, [
        'the gateway at %s/none/v1/models gives no model list (HTTP 404: not found: /none/v1/models)' % gateway],
        status=404, models_endpoint='HTTP 404: not found: /none/v1/models')


def test_verify_user_reports_an_unreachable_gateway(tmp_path):
    res = verify(tmp_path, CLOSED, KEY, params={'timeout': 2})
    d = tmp_path / 'etc'
    assert res == expected(CLOSED, d, [
        'the gateway at http://127.0.0.1:9/v1/models gives no model list (unreachable: connection refused)'],
        reachable=False, status=None, models_endpoint='no answer')


def test_verify_user_names_the_default_provider_without_a_name(tmp_path, gateway):
    res = verify(tmp_path, gateway, None, 'missing', params={'name': None})
    d = tmp_path / 'etc'
    assert res['problems'] == ['no key for provider omniroute in %s' % AUTH,
                               '%s has no provider.omniroute (removed by another tool?)' % (d / 'opencode.json')]


def test_verify_user_reports_an_environment_that_moves_the_managed_layer(tmp_path, gateway):
    elsewhere = str(tmp_path / 'elsewhere')
    res = verify(tmp_path, gateway, KEY, environ={_layout.MANAGED_OVERRIDE: elsewhere})
    d = tmp_path / 'etc'
    assert res['problems'] == ["OPENCODE_TEST_MANAGED_CONFIG_DIR=%s in the environment moves OpenCode's managed layer "
                               "away from %s" % (elsewhere, d)]
    # The same directory, spelt otherwise, is no problem.
    res = verify(tmp_path, gateway, KEY, environ={_layout.MANAGED_OVERRIDE: str(tmp_path / 'x' / '..' / 'etc') + '/'})
    assert res['problems'] == [] and res['ready'] is True


def test_verify_user_names_each_user_layer_that_still_changes_the_provider_after_the_plan(tmp_path, gateway):
    mine, other = tmp_path / 'mine.json', tmp_path / 'home' / '.config' / 'opencode' / 'opencode.json'
    write(mine, '{"provider": {"corp": {}}, "disabled_providers": ["corp"]}')
    write(other, '{"provider": {"corp": {}}}')
    layers = [{'path': str(other), 'kind': 'global config', 'effects': ['sets provider.corp']},
              {'path': str(mine), 'kind': 'OPENCODE_CONFIG', 'effects': ['sets provider.corp', 'lists corp in disabled_providers']}]
    # (The user's home is the one given, whatever HOME says.)
    res = verify(tmp_path, gateway, KEY, environ={'OPENCODE_CONFIG': str(mine), 'HOME': str(tmp_path / 'x')})
    assert res['layers'] == layers
    assert res['problems'] == ['%s (global config) still sets provider.corp' % other,
                               '%s (OPENCODE_CONFIG) still sets provider.corp, lists corp in disabled_providers' % mine]
    assert res['cause'] == ('user u on host h: %s (global config) still sets provider.corp; %s (OPENCODE_CONFIG) still '
                            'sets provider.corp, lists corp in disabled_providers' % (other, mine))
    # Read as the plan leaves them.
    res = verify(tmp_path, gateway, KEY, environ={'OPENCODE_CONFIG': str(mine)}, pending={str(other): '{}'})
    assert res['layers'] == layers[1:]


# --------------------------------------------------------------------------- macOS profile
# The UUIDs are uuid5(NAMESPACE_DNS, identifier) (and identifier + '.payload'), in capitals: the
# same identifier gives the same profile, which an MDM then sees as an update.
DEFAULT_UUIDS = ('B76C06FE-6EF2-5813-BCBA-A1023CCE2733', '6FA03758-61B0-54CF-B2EA-4B2402AD1533')
OTHER_UUIDS = ('881CC580-9667-5951-9857-B9FCEEF91AD0', '88125AC3-F9D3-5F8B-9148-F76B9B88358B')


def profile(identifier, uuids, display_name, config, **extra):
    payload = dict(config, PayloadType='ai.opencode.managed', PayloadIdentifier=identifier + '.payload',
                   PayloadUUID=uuids[1], PayloadVersion=1, PayloadDisplayName=display_name)
    return dict(PayloadContent=[payload], PayloadDisplayName=display_name, PayloadIdentifier=identifier,
                PayloadType='Configuration', PayloadUUID=uuids[0], PayloadVersion=1, PayloadScope='System',
                PayloadRemovalDisallowed=True, **extra)


def test_the_default_profile_is_a_system_profile_of_one_payload_without_the_schema():
    config = {'$schema': oc.SCHEMA_URL, 'provider': {'corp': ENTRY}, 'autoupdate': False}
    raw = mg.mobileconfig(config)
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert plistlib.loads(raw) == profile('ai.opencode.managed.omniroute', DEFAULT_UUIDS, 'OpenCode: OmniRoute gateway',
                                          {'provider': {'corp': ENTRY}, 'autoupdate': False})
    # Keys are sorted (capitals first), so the same input gives the same bytes.
    keys = [k.decode() for k in re.findall(b'<key>(.*?)</key>', raw)]
    assert keys == ['PayloadContent', 'PayloadDisplayName', 'PayloadIdentifier', 'PayloadType', 'PayloadUUID', 'PayloadVersion',
                    'autoupdate', 'provider', 'corp', 'models', 'a', 'name', 'name', 'npm', 'options', 'baseURL',
                    'PayloadDisplayName', 'PayloadIdentifier', 'PayloadRemovalDisallowed', 'PayloadScope', 'PayloadType',
                    'PayloadUUID', 'PayloadVersion']


def test_a_profile_takes_its_identifier_names_and_description():
    raw = mg.mobileconfig({'share': 'auto'}, identifier='com.example.oc', display_name='Corp', organization='Example',
                          description='The gateway')
    assert plistlib.loads(raw) == profile('com.example.oc', OTHER_UUIDS, 'Corp', {'share': 'auto'},
                                          PayloadOrganization='Example', PayloadDescription='The gateway')
    assert plistlib.loads(mg.mobileconfig({}, organization='', description='')) == profile(
        'ai.opencode.managed.omniroute', DEFAULT_UUIDS, 'OpenCode: OmniRoute gateway', {})


@pytest.mark.parametrize('config, message', [
    (None, 'the managed config must be an object to become a profile'),
    ([], 'the managed config must be an object to become a profile'),
    ({'a': None}, 'a is null, which a macOS profile cannot carry'),
    ({'a': {'b': [1, {'c': None}]}}, 'a.b.[1].c is null, which a macOS profile cannot carry'),
    ({'a': [[], [0, None]]}, 'a.[1].[1] is null, which a macOS profile cannot carry'),
    ({'provider': {'x': {'options': {'apiKey': 'k'}}}, 'n': 'sk-abcdefgh'},
     'refusing to put a credential into a profile: provider.x.options.apiKey, n'),
    ({'PayloadType': 'x', 'share': 'auto', 'PayloadX': 1}, 'PayloadType, PayloadX would collide with profile metadata'),
])
def test_a_profile_refuses_what_it_cannot_or_must_not_carry_in_words(config, message):
    assert refusal(mg.mobileconfig, config) == message


def slow_route(req):
    """The gateway's /v1/models after 1.3 s."""
    time.sleep(1.3)
    return models_route(req)


@pytest.fixture(scope='module')
def slow_gateway():
    server = Server({'/v1/models': slow_route})
    yield server.url
    server.close()


@pytest.fixture(scope='module')
def tls_gateway(tmp_path_factory):
    server = Server({'/v1/models': models_route}, tls=self_signed(tmp_path_factory.mktemp('tls')))
    yield server.url
    server.close()


def test_verify_user_waits_the_timeout_it_is_given_and_else_the_default(tmp_path, slow_gateway):
    res = verify(tmp_path, slow_gateway, KEY, params={'timeout': 1})
    assert res['reachable'] is False and res['problems'] == [
        'the gateway at %s/v1/models gives no model list (no complete answer within 1 s (timeout))' % slow_gateway]
    res = verify(tmp_path, slow_gateway, KEY, params={'timeout': None})
    assert res['key_accepted'] is True and res['problems'] == []


def test_verify_user_checks_the_gateways_certificate_unless_told_not_to(tmp_path, tls_gateway):
    res = verify(tmp_path, tls_gateway, KEY)
    assert res['reachable'] is False and len(res['problems']) == 1
    assert res['problems'][0].startswith('the gateway at %s/v1/models gives no model list (TLS certificate not accepted: '
                                         % tls_gateway) and res['problems'][0].endswith('(validate_certs=false skips the check))')
    res = verify(tmp_path, tls_gateway, KEY, params={'validate_certs': False})
    assert res['key_accepted'] is True and res['problems'] == []
