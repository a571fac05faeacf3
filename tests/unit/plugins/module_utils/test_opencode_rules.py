# -*- coding: utf-8 -*-
"""The OpenCode rules of _opencode.py, as plain functions: what a base URL, a models catalog, a
provider name and a top-level model may be (every refusal in words, compared whole), how the
managed entry is brought to the spec (the ``changes`` a run reports, ``$schema``, what the user
added and kept), what is removed for ``state: absent`` and from the other files OpenCode loads,
the credential store, the installed key, the management URL, what a diff may show and in which
order, and the re-check of every edit (``verify_edits``) that refuses an edited text that does
not hold what was asked."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import Document, parse

ENTRY = ('"npm": "@ai-sdk/openai-compatible", "name": "OmniRoute", '
         '"options": {"baseURL": "http://localhost:20128/v1", "apiKey": "sk-x"}')


def refusal(function, *args, **kwargs):
    """The message of the PlanError ``function`` raises."""
    with pytest.raises(oc.PlanError) as caught:
        function(*args, **kwargs)
    return str(caught.value)


def plan_parts(plan):
    return plan.old_text, plan.new_text, plan.changes


# --------------------------------------------------------------------------- base URL
@pytest.mark.parametrize('url', [None, '', '   '])
def test_a_missing_or_blank_base_url_is_refused_in_words(url):
    assert refusal(oc.normalize_base_url, url) == 'base_url must be a non-empty http(s) URL'


@pytest.mark.parametrize('url, message', [
    ('http://[::1', "base_url is not a valid URL (Invalid IPv6 URL): 'http://[::1'"),
    ('http://u@h', 'base_url must not carry a user name or password; give the key through api_key instead'),
    ('http://u:p@h', 'base_url must not carry a user name or password; give the key through api_key instead'),
    ('http://h/?q=1', "base_url must not have a query string or fragment, got 'http://h/'"),
    ('http://h/#top', "base_url must not have a query string or fragment, got 'http://h/'"),
    ('http://h:99999', "base_url has an invalid port: 'http://h:99999'"),
    ('ftp://h', "base_url must be an http:// or https:// URL with a host, got 'ftp://h'"),
])
def test_each_wrong_base_url_is_refused_with_its_own_reason(url, message):
    assert refusal(oc.normalize_base_url, url) == message


@pytest.mark.parametrize('url, expected', [
    # Only slashes are trimmed: a path that ends in another character keeps it.
    ('http://h/boX', 'http://h/boX/v1'),
    ('http://h/boX/v1', 'http://h/boX/v1'),
    ('http://h/boX//v1/', 'http://h/boX/v1'),
    # Every slash before a trailing /v1 goes, not only the one.
    ('http://h/api//v1', 'http://h/api/v1'),
    ('http://h/api/ /v1', 'http://h/api/ /v1'),
])
def test_a_base_url_path_keeps_its_own_characters_and_loses_extra_slashes(url, expected):
    assert oc.normalize_base_url(url) == expected


# --------------------------------------------------------------------------- models
def test_a_model_dict_without_an_id_is_refused_by_its_position():
    assert refusal(oc.normalize_models, ['auto', {'name': 'Auto'}]) == 'models[1] is a dict without a string "id"'
    assert refusal(oc.normalize_models, [{'id': 7}]) == 'models[0] is a dict without a string "id"'


def test_a_model_that_is_neither_an_id_nor_a_dict_is_refused_by_its_position():
    assert refusal(oc.normalize_models, ['auto', 'x', 42]) == 'models[2] must be a model id or a dict with "id"'


@pytest.mark.parametrize('models', [[], ['', '  '], [{'id': ' '}]])
def test_a_catalog_without_a_model_is_refused(models):
    assert refusal(oc.normalize_models, models) == 'models must name at least one model id'


# --------------------------------------------------------------------------- spec
def test_a_top_level_model_may_be_given_with_or_without_the_provider_prefix():
    spec = oc.Spec(models=['auto', 'x'], model='omniroute/x', small_model='auto ')
    assert (spec.model, spec.small_model) == ('omniroute/x', 'omniroute/auto')
    spec = oc.Spec(name='gw', models=['omniroute/auto'], model='gw/omniroute/auto')
    assert spec.model == 'gw/omniroute/auto'


def test_a_top_level_model_outside_the_catalog_is_refused_with_the_catalog():
    assert refusal(oc.Spec, models=['auto', 'x'], model='gpt') == "model 'gpt' is not in the models catalog (auto, x)"
    assert refusal(oc.Spec, models=['auto', 'x'], small_model='omniroute/gpt') == (
        "model 'gpt' is not in the models catalog (auto, x)")


@pytest.mark.parametrize('name', ['bad name', '-lead', 'a/b', ''])
def test_a_provider_name_that_is_not_an_id_is_refused(name):
    assert refusal(oc.Spec, name=name) == (
        'name must be a provider id of letters, digits, ".", "_" or "-", got %r' % (name,))


# --------------------------------------------------------------------------- plan_present
def test_a_new_file_gets_schema_the_entry_and_the_top_level_models_and_says_so():
    plan = oc.plan_present('', oc.Spec(api_key='sk-x', models=['auto', 'x'], model='auto', small_model='x'))
    assert plan.changes == ['added $schema', 'added provider.omniroute', 'set model', 'set small_model']
    assert parse(plan.new_text) == {
        '$schema': oc.SCHEMA_URL,
        'provider': {'omniroute': {'npm': oc.SDK_PACKAGE, 'name': 'OmniRoute',
                                   'options': {'baseURL': 'http://localhost:20128/v1', 'apiKey': 'sk-x'},
                                   'models': {'auto': {'name': 'auto'}, 'x': {'name': 'x'}}}},
        'model': 'omniroute/auto',
        'small_model': 'omniroute/x',
    }
    assert list(parse(plan.new_text)) == ['$schema', 'provider', 'model', 'small_model']


def test_an_entry_without_options_gets_them_and_nothing_else_is_added():
    text = ('{"$schema": "https://opencode.ai/config.json", "model": "omniroute/auto", "provider": {"omniroute": '
            '{"npm": "@ai-sdk/openai-compatible", "name": "OmniRoute", "models": {"auto": {"name": "auto"}}}}}')
    plan = oc.plan_present(text, oc.Spec(api_key='sk-x', models=['auto'], model='auto'))
    # The top-level model was right already: only the entry is reported.
    assert plan.changes == ['updated provider.omniroute']
    assert parse(plan.new_text) == {
        '$schema': oc.SCHEMA_URL,
        'model': 'omniroute/auto',
        'provider': {'omniroute': {'npm': oc.SDK_PACKAGE, 'name': 'OmniRoute',
                                   'models': {'auto': {'name': 'auto'}},
                                   'options': {'baseURL': 'http://localhost:20128/v1', 'apiKey': 'sk-x'}}},
    }
    assert plan.entry == parse(plan.new_text)['provider']['omniroute']


def test_a_model_status_that_does_not_hide_it_is_the_users_and_kept():
    text = ('{"$schema": "https://opencode.ai/config.json", "provider": {"omniroute": {%s, '
            '"models": {"auto": {"status": "beta", "name": "auto"}}}}}' % ENTRY)
    plan = oc.plan_present(text, oc.Spec(api_key='sk-x', models=['auto']))
    assert (plan.new_text, plan.changes, plan.changed) == (text, [], False)


def test_a_hiding_status_the_catalog_asks_for_itself_stays_where_it_is():
    text = ('{"$schema": "https://opencode.ai/config.json", "provider": {"omniroute": {%s, '
            '"models": {"auto": {"status": "alpha", "name": "auto"}}}}}' % ENTRY)
    plan = oc.plan_present(text, oc.Spec(api_key='sk-x', models=[{'id': 'auto', 'status': 'alpha'}]))
    assert (plan.new_text, plan.changes, plan.changed) == (text, [], False)


def test_a_hiding_status_the_catalog_does_not_ask_for_is_removed():
    text = ('{"$schema": "https://opencode.ai/config.json", "provider": {"omniroute": {%s, '
            '"models": {"auto": {"status": "deprecated", "name": "auto"}}}}}' % ENTRY)
    plan = oc.plan_present(text, oc.Spec(api_key='sk-x', models=['auto']))
    assert plan.changes == ['updated provider.omniroute']
    assert parse(plan.new_text)['provider']['omniroute']['models'] == {'auto': {'name': 'auto'}}


def test_a_disabled_provider_is_enabled_again_and_the_changes_say_so():
    text = ('{"$schema": "https://opencode.ai/config.json", "disabled_providers": ["omniroute", "y"], '
            '"enabled_providers": ["y"], "provider": {"omniroute": {%s, "models": {"auto": {"name": "auto"}}}}}'
            % ENTRY)
    plan = oc.plan_present(text, oc.Spec(api_key='sk-x', models=['auto']))
    assert plan.changes == ['removed omniroute from disabled_providers', 'added omniroute to enabled_providers']
    assert (parse(plan.new_text)['disabled_providers'], parse(plan.new_text)['enabled_providers']) == (
        ['y'], ['y', 'omniroute'])


# --------------------------------------------------------------------------- plan_absent and other files
ABSENT_TEXT = ('{"provider": {"omniroute": {"a": 1}, "omniroute": {"b": 2}, "x": {}}, '
               '"model": "omniroute/a", "small_model": "omniroute/b"}')


def test_absent_removes_every_copy_of_the_entry_and_the_models_that_use_it():
    plan = oc.plan_absent(ABSENT_TEXT, 'omniroute')
    assert plan_parts(plan) == (ABSENT_TEXT, '{"provider": {"x": {}}}', [
        'removed duplicate copies of provider.omniroute', 'removed provider.omniroute', 'removed model',
        'removed small_model'])


def test_absent_keeps_top_level_models_of_other_providers():
    text = '{"provider": {"omniroute": {}}, "model": "other/a", "small_model": "omniroute2/b"}'
    plan = oc.plan_absent(text, 'omniroute')
    assert plan_parts(plan) == (text, '{"provider": {}, "model": "other/a", "small_model": "omniroute2/b"}',
                                ['removed provider.omniroute'])


def test_another_file_for_an_absent_provider_is_planned_like_the_managed_one():
    assert plan_parts(oc.plan_other(ABSENT_TEXT, 'omniroute', False)) == plan_parts(
        oc.plan_absent(ABSENT_TEXT, 'omniroute'))


@pytest.mark.parametrize('text', ['', '  // only a comment\n', '[1]', '"text"', '{"x": 1}'])
def test_another_file_without_the_entry_or_that_is_no_object_is_left_as_it_is(text):
    plan = oc.plan_other(text, 'omniroute', True)
    assert plan_parts(plan) == (text, text, [])
    assert plan.changed is False


def test_another_files_copies_of_the_entry_all_go_and_it_gets_schema_first():
    text = '{"provider": {"omniroute": {"a": 1}, "omniroute": {"b": 2}, "x": {}}}'
    plan = oc.plan_other(text, 'omniroute', True)
    assert plan_parts(plan) == (text, '{"$schema": "https://opencode.ai/config.json", "provider": {"x": {}}}', [
        'removed provider.omniroute (OpenCode would merge it into the managed entry)', 'added $schema'])


def test_a_copy_left_under_an_earlier_provider_key_of_another_file_is_removed_and_said():
    text = '{"provider": {"omniroute": {"a": 1}}, "provider": {"x": {}}}'
    plan = oc.plan_other(text, 'omniroute', True)
    assert plan_parts(plan) == (
        text, '{"$schema": "https://opencode.ai/config.json", "provider": {}, "provider": {"x": {}}}',
        ['removed duplicate copies of provider.omniroute', 'added $schema'])


def test_another_file_with_schema_keeps_it_where_it_is():
    text = '{"x": 1, "$schema": "s", "provider": {"omniroute": {}}}'
    plan = oc.plan_other(text, 'omniroute', True)
    assert plan_parts(plan) == (text, '{"x": 1, "$schema": "s", "provider": {}}', [
        'removed provider.omniroute (OpenCode would merge it into the managed entry)'])


def test_another_files_lists_stop_hiding_the_provider_and_the_changes_say_so():
    text = '{"x": 1, "disabled_providers": ["omniroute", "y", "omniroute"], "enabled_providers": []}'
    plan = oc.plan_other(text, 'omniroute', True)
    assert plan_parts(plan) == (
        text, '{"$schema": "https://opencode.ai/config.json", "x": 1, "disabled_providers": ["y"], '
              '"enabled_providers": ["omniroute"]}',
        ['removed omniroute from disabled_providers', 'added omniroute to enabled_providers', 'added $schema'])


# --------------------------------------------------------------------------- credential store
def test_a_stored_credential_that_is_already_right_leaves_the_text_as_it_is():
    text = '{\n  "omniroute": {"key": "sk-1", "type": "api"}\n}\n'
    assert oc.plan_auth(text, 'omniroute', 'sk-1') == text


def test_a_store_whose_top_level_looks_like_a_credential_still_gets_its_own():
    assert parse(oc.plan_auth('{"type": "api", "key": "sk-1"}', 'omniroute', 'sk-1')) == {
        'type': 'api', 'key': 'sk-1', 'omniroute': {'type': 'api', 'key': 'sk-1'}}


# --------------------------------------------------------------------------- installed key
def test_the_installed_key_is_read_for_the_named_provider():
    config = '{"provider": {"omniroute": {"options": {"apiKey": "sk-cfg-o"}}, "gw": {"options": {"apiKey": "sk-cfg-g"}}}}'
    auth = '{"omniroute": {"type": "api", "key": "sk-auth-o"}, "gw": {"type": "api", "key": "sk-auth-g"}}'
    assert oc.installed_key([config], auth, 'gw') == 'sk-cfg-g'
    assert oc.installed_key(['{}'], auth, 'gw') == 'sk-auth-g'
    assert oc.installed_key(['{}'], '{"omniroute": {"type": "api", "key": "sk-auth-o"}}', 'gw') is None


def test_a_credential_without_a_type_is_an_api_key():
    assert oc.installed_key_from_auth('{"omniroute": {"key": "sk-untyped"}}') == 'sk-untyped'
    assert oc.installed_key_from_auth('{"omniroute": {"type": "oauth", "key": "sk-o"}}') is None


def test_a_key_that_is_not_a_string_is_no_key():
    assert oc.installed_key_from_auth('{"omniroute": {"type": "api", "key": 5}}') is None
    assert oc.installed_key_from_config('{"provider": {"omniroute": {"options": {"apiKey": 5}}}}') is None


# --------------------------------------------------------------------------- management URL
@pytest.mark.parametrize('url, expected', [
    (None, ''),
    ('', ''),
    ('http://gw/apiX/', 'http://gw/apiX'),
    ('http://gw/apiX/v1', 'http://gw/apiX'),
    ('http://gw/apiX//V1/v1//', 'http://gw/apiX'),
])
def test_the_management_url_keeps_the_path_but_not_slashes_or_v1(url, expected):
    assert oc.management_url(url) == expected


# --------------------------------------------------------------------------- diffs
def test_a_diff_shows_its_settings_in_the_files_own_order():
    before, after = oc.config_views(
        '{"provider": {"omniroute": {"a": 1}}, "model": "omniroute/b", "$schema": "s"}',
        '{"provider": {"omniroute": {"a": 1}}, "model": "omniroute/a", "$schema": "t"}', 'omniroute')
    assert list(before.items()) == [('provider', {'omniroute': {'a': 1}}), ('model', 'omniroute/b'), ('$schema', 's')]
    assert list(after.items()) == [('provider', {'omniroute': {'a': 1}}), ('model', 'omniroute/a'), ('$schema', 't')]


def test_an_old_file_that_is_no_object_shows_nothing_before():
    assert oc.config_views('[1]', '{"provider": {"omniroute": {"a": 1}}, "model": "omniroute/a"}', 'omniroute') == (
        {}, {'provider': {'omniroute': {'a': 1}}, 'model': 'omniroute/a'})


# --------------------------------------------------------------------------- merge_text
def test_merge_text_writes_the_entry_it_is_given():
    text = oc.merge_text('', name='gw', display_name='GW', base_url='http://h:1', api_key='sk-abc', models=['m1'])
    assert text == (
        '{\n  "$schema": "https://opencode.ai/config.json",\n  "provider": {\n    "gw": {\n'
        '      "npm": "@ai-sdk/openai-compatible",\n      "name": "GW",\n      "options": {\n'
        '        "baseURL": "http://h:1/v1",\n        "apiKey": "sk-abc"\n      },\n'
        '      "models": {\n        "m1": {\n          "name": "m1"\n        }\n      }\n    }\n  }\n}\n')
    assert oc.merge_text(text, name='gw', display_name='GW', base_url='http://h:1/v1', api_key='sk-abc',
                         models=['m1']) == text


def test_merge_text_merges_into_the_text_it_is_given():
    text = oc.merge_text('{"keep": 1}')
    assert parse(text) == {'$schema': oc.SCHEMA_URL, 'keep': 1, 'provider': {'omniroute': oc.Spec().entry()}}


# --------------------------------------------------------------------------- Editor and verify_edits
def test_reordering_says_whether_it_moved_anything():
    ed = oc.Editor(Document('{"m": {"a": 1, "b": 2}}'))
    assert ed.reorder(('m',), ['b', 'a']) is True
    assert ed.doc.text == '{"m": {"b": 2, "a": 1}}' and ed.orders == [(('m',), ['b', 'a'])]
    assert ed.reorder(('m',), ['b', 'a']) is False
    assert ed.orders == [(('m',), ['b', 'a'])]


def test_an_edited_text_that_would_not_parse_is_refused():
    bad = '{"a": }'
    with pytest.raises(ValueError) as parse_error:
        Document(bad)
    ed = oc.Editor(Document('{"a": 1}'))
    ed.set(('a',), 2)
    ed.doc = Document(bad, validate=False)  # an editor that wrote broken text
    assert refusal(oc.verify_edits, ed) == (
        'internal check failed: the edited text would not parse (%s); the file was left unchanged' % parse_error.value)


def test_a_duplicate_key_left_after_dropping_the_copies_is_refused():
    text = '{"a": 1, "a": 2}'
    ed = oc.Editor(Document(text))
    assert ed.drop_shadowed(('a',)) == 1
    oc.verify_edits(ed)
    ed.doc = Document(text)  # an editor that did not remove the copy
    assert refusal(oc.verify_edits, ed) == 'internal check failed: a duplicate key is left; the file was left unchanged'


def test_members_left_out_of_the_asked_order_are_refused():
    text = '{"p": {"models": {"a": 1, "b": 2}}}'
    ed = oc.Editor(Document(text))
    assert ed.reorder(('p', 'models'), ['b', 'a']) is True
    oc.verify_edits(ed)
    ed.doc = Document(text)  # an editor that did not move them
    assert refusal(oc.verify_edits, ed) == 'internal check failed after ordering p.models; the file was left unchanged'


def test_a_value_under_an_object_set_earlier_is_checked_too():
    ed = oc.Editor(Document('{"p": {"x": 1}}'))
    ed.set(('p', 'options'), {})
    ed.set(('p', 'options', 'baseURL'), 'http://a')
    oc.verify_edits(ed)
    ed.doc = Document('{"p": {"x": 1, "options": {"baseURL": "http://b"}}}')  # a wrong value below
    assert refusal(oc.verify_edits, ed) == (
        'internal check failed after editing p.options.baseURL; the file was left unchanged')


@pytest.mark.parametrize('asked, found', [
    ({'baseURL': 'http://a'}, '"x"'),
    ('x', '{"baseURL": "http://a"}'),
])
def test_an_object_where_a_plain_value_was_asked_or_the_reverse_is_refused(asked, found):
    ed = oc.Editor(Document('{"p": {"options": 0}}'))
    ed.set(('p', 'options'), asked)
    oc.verify_edits(ed)
    ed.doc = Document('{"p": {"options": %s}}' % found)
    assert refusal(oc.verify_edits, ed) == 'internal check failed after editing p.options; the file was left unchanged'


# --------------------------------------------------------------------------- text a UTF-8 file can hold
@pytest.mark.parametrize('kwargs, message', [
    ({'models': ['gpt-4o', 'gpt-4\ud800']}, 'models[1] holds U+D800'),
    ({'models': [{'id': 'a', 'name': 'A\udcff'}]}, "models[0]['name'] holds U+DCFF"),
    ({'models': [{'id': 'a', 'limit': {'\udfff': 1}}]}, "models[0]['limit'] key holds U+DFFF"),
    ({'model_labels': {'gpt-4o': 'GPT\ud83d'}}, "model_labels['gpt-4o'] holds U+D83D"),
    ({'display_name': 'Omni\udc80'}, 'display_name holds U+DC80'),
    ({'api_key': 'sk-\udc80'}, 'api_key holds U+DC80'),
    ({'models': ['gpt-4o'], 'model': 'gpt-4o\ud800'}, 'model holds U+D800'),
    ({'models': ['gpt-4o'], 'small_model': 'gpt-4o\ud800'}, 'small_model holds U+D800'),
    ({'base_url': 'http://h/\ud800'}, 'base_url holds U+D800'),
])
def test_a_lone_surrogate_in_any_option_is_refused_by_name_not_a_traceback(kwargs, message):
    # JSON module arguments can carry "\ud800", which no UTF-8 file can hold: refused before planning.
    assert refusal(oc.Spec, **kwargs) == message + (
        ', a lone surrogate: not text that a UTF-8 file can hold (an escape such as "\\ud800" in the variable?)')


def test_text_outside_the_basic_plane_is_text():
    # A real character beyond U+FFFF (one code point in Python, a pair only in UTF-16) is fine.
    spec = oc.Spec(models=['gpt-4o'], model_labels={'gpt-4o': u'GPT \U0001F600'}, display_name=u'Omni \U0001F600')
    assert spec.models == [('gpt-4o', {'name': u'GPT \U0001F600'})]
    assert oc.lone_surrogate([u'\U0001F600', {'a': (u'b', u'c')}], 'x') is None
    assert oc.lone_surrogate({'a': (u'b', u'\ud800')}, 'x') == ("x['a'][1]", 0xD800)
