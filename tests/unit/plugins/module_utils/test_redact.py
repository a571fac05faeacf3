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
    ('https://deploy:p@ss@gw.corp.test/v1', 'https://gw.corp.test/v1'),
    ('https://@gw.corp.test/v1', 'https://gw.corp.test/v1'),
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


# --------------------------------------------------------------------------- the Redactor
KEY = 'sk-redact-unit-0a1b2c3d4e5f6789'


def runs(secret):
    return [secret[i:i + rd.MIN_RUN] for i in range(len(secret) - rd.MIN_RUN + 1)]


def test_every_run_of_eight_characters_is_scrubbed_plain_and_json_escaped():
    quoted = 'sk-"quoted\\key\n-0123456789'
    red = rd.Redactor([KEY, quoted])
    for start in range(0, len(KEY) - 7, 3):
        for stop in range(start + 8, len(KEY) + 1, 5):
            out = red.text('before %s after' % KEY[start:stop])
            assert not any(run in out for run in runs(KEY)), (start, stop)
            assert out.startswith('before ') and out.endswith(' after')
    out = red.text(json.dumps({'echo': quoted}))
    assert not any(run in out for run in runs(json.dumps(quoted)[1:-1]))
    # Seven characters are not a run: ordinary words stay readable.
    assert red.text('sk-reda') == 'sk-reda'


def test_secrets_are_scrubbed_before_the_text_is_cut():
    red = rd.Redactor([KEY])
    text = 'x' * 190 + KEY + ' tail'
    for limit in (195, 200, 210, 220):
        out = red.text(text, limit)
        assert len(out) <= limit and not any(run in out for run in runs(KEY))


def test_control_ansi_and_bidi_characters_are_removed():
    red = rd.Redactor([KEY])
    out = red.text('a\x1b[31mred\x1b[0m b\x1b]0;title\x07 c\x07d\x00e \u202egnp.exe\u2066 zero\u200bwidth\r\nnext\tcol')
    assert out == 'ared b cde gnp.exe zerowidth  next col'
    assert red.text('one\r\ntwo\x1b[1m', multiline=True) == 'one\ntwo'
    assert red.text('a\tb\rc\nd', multiline=True) == 'a b c\nd'
    # A secret split by an injected control character is joined, then scrubbed.
    assert not any(run in red.text(KEY[:10] + '\x00' + KEY[10:]) for run in runs(KEY))


def test_references_and_the_placeholder_are_never_secrets():
    red = rd.Redactor(['{env:OMNIROUTE_API_KEY}', '{file:~/.omr}', 'sk_omniroute', KEY])
    text = 'apiKey {env:OMNIROUTE_API_KEY} or {file:~/.omr}, default sk_omniroute'
    assert red.text(text) == text


def test_json_scrubs_keys_and_values_deeply_and_keeps_the_shape():
    red = rd.Redactor([KEY])
    value = {'a': [KEY, {'k-' + KEY: 'x\x1b[2Jy', 'n': 5, 'b': None}], 'c': ('t', KEY[2:12])}
    out = red.json(value)
    assert out == {'a': ['********', {'k-********': 'xy', 'n': 5, 'b': None}], 'c': ['t', '********']}


def test_args_hide_secret_options_and_url_credentials():
    red = rd.Redactor([KEY])
    shown = red.args({'api_key': KEY, 'password': 'pw-1234567890', 'base_url': 'http://u:p@gw/v1?t=q',
                      'url': 'https://a:b@h/', 'name': 'omniroute', 'models': ['x ' + KEY], 'key_env': '{env:K}',
                      'management_key': None})
    assert shown['api_key'] == rd.NO_LOG and shown['password'] == rd.NO_LOG
    assert shown['base_url'] == 'http://gw/v1' and shown['url'] == 'https://h/'
    assert shown['models'] == ['x ********'] and shown['name'] == 'omniroute' and shown['management_key'] is None


@pytest.mark.parametrize('key, problem', [
    (KEY, None), ('{env:K}', None), ('', None), (None, None), ('sk_omniroute', None),
    (KEY + '\n', 'line break'), (KEY + '\r\n', 'line break'), ('\t' + KEY, 'line break'),
    (KEY + ' ', 'blank'), (KEY[:5] + '\n' + KEY[5:], 'inside'), (KEY[:5] + '\u202e' + KEY[5:], 'inside'),
    (KEY + '\u00e9', 'outside printable ASCII'), (['a'], 'not a string'),
])
def test_key_problem_names_the_fault_never_the_key(key, problem):
    found = rd.key_problem(key)
    if problem is None:
        assert found is None
    else:
        assert problem in found and KEY[:8] not in found


@pytest.mark.parametrize('name, secret', [
    ('apiKey', True), ('api_key', True), ('X-Api-Key', True), ('Authorization', True), ('X-Auth-Token', True),
    ('GITHUB_TOKEN', True), ('password', True), ('client_secret', True), ('Cookie', True), ('session', True),
    ('sessionToken', True), ('key', True), ('credentials', True),
    ('keybinds', False), ('max_tokens', False), ('monkey', False), ('tokenizer', False), ('oauth', False),
    ('username', False), ('name', False), ('', False), (None, False), (3, False),
])
def test_looks_secret_name(name, secret):
    assert rd.looks_secret_name(name) is secret


@pytest.mark.parametrize('value, secret', [
    ('sk-abcdef0123456789', True), ('key_0123456789', True), ('Bearer abcdefghij', True),
    ('ghp_' + 'a' * 36, True), ('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig', True), ('AKIA' + 'A' * 16, True),
    ('sk-short', False), ('hello world', False), ('{env:K}', False), (None, False),
])
def test_looks_secret_value(value, secret):
    assert rd.looks_secret_value(value) is secret


def test_pick_key_precedence_and_origin():
    entry = {'name': 'alice'}
    maps = [None, {'alice': ''}, {'alice': 'sk-second'}, {'alice': 'sk-third'}]
    assert rd.find_key(dict(entry, api_key='sk-own'), maps) == ('sk-own', 'api_key')
    assert rd.find_key(entry, maps) == ('sk-second', 'key_maps[2]')
    assert rd.find_key(dict(entry, api_key='sk-own'), maps, own_keys=False) == ('sk-second', 'key_maps[2]')
    assert rd.pick_key({'name': 'bob'}, maps) is None and rd.find_key(None, None) == (None, None)


def test_per_model_headers_are_credentials_by_position():
    entry = {'options': {'apiKey': '{env:OMNIROUTE_API_KEY}'},
             'models': {'m': {'name': 'm', 'headers': {'X-Plain': 'hdr-model-5151'}, 'limit': {'context': 1}},
                        'n': {'headers': 'X-Whole: hdr-model-5252'}}}
    masked = rd.mask(entry, rd.entry_secret)
    assert masked['models']['m']['headers'] == {'X-Plain': '********'}
    assert masked['models']['n']['headers'] == '********'
    assert masked['models']['m']['limit'] == {'context': 1} and masked['models']['m']['name'] == 'm'
    # A reference names where the key is: it is shown, never masked.
    assert masked['options']['apiKey'] == '{env:OMNIROUTE_API_KEY}'


def test_a_diff_shows_an_env_reference_as_it_is():
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
    spec = oc.Spec(name='omniroute', api_key='{env:OMNIROUTE_API_KEY}', models=['auto'])
    new = oc.plan_present('{}', spec).new_text
    change = cfg.Change('/x/opencode.json', '/x/opencode.json', '{}', new, False, ['added'], 'config', 'omniroute')
    diff = cfg.diff_views([change], ['{env:OMNIROUTE_API_KEY}', KEY])
    assert '"apiKey": "{env:OMNIROUTE_API_KEY}"' in diff[0]['after']


# --------------------------------------------------------------------------- found by mutation testing
@pytest.mark.parametrize('key, message', [
    (['a'], 'is not a string (it is a list)'),
    (42, 'is not a string (it is a int)'),
    (KEY + '\n', 'ends (or starts) with a line break or another control character, as a value copied '
                 'from a vault or a file often does; remove it (the key is not shown)'),
    (' ' + KEY, 'starts or ends with a blank; remove it (the key is not shown)'),
    (KEY[:5] + '\t' + KEY[5:],
     'has a control character inside it (a line break, a tab or an invisible mark); the key is not shown'),
    (KEY + '\u00e9', 'has characters outside printable ASCII, which cannot be sent in an HTTP header; '
                     'the key is not shown'),
])
def test_key_problem_messages_read_after_the_key_and_name_its_type(key, message):
    """The message follows "the key of <user> " in every caller, word for word."""
    assert rd.key_problem(key) == message


@pytest.mark.parametrize('reference', [' {env:OMNIROUTE_API_KEY}', '{file:~/.clés/omniroute}\n'])
def test_key_problem_leaves_a_reference_to_opencode(reference):
    """A reference names a variable or a file (any name, blanks around it): OpenCode resolves it,
    so it is never judged as a key."""
    assert rd.is_reference(reference) and rd.key_problem(reference) is None


def test_a_key_added_by_a_change_is_masked_not_marked_changed():
    """A credential with nothing on the other side is new, not replaced: shown as the mask alone."""
    before, after = {'options': {}}, {'options': {'apiKey': 'sk-added-3131'}}
    assert rd.mask(after, rd.entry_secret, before) == {'options': {'apiKey': '********'}}
    assert rd.mask(after, rd.entry_secret, {}) == {'options': {'apiKey': '********'}}


def test_a_list_that_grew_is_shown_item_by_item():
    before = {'disabled_providers': ['corp']}
    after = {'disabled_providers': ['corp', 'gw', 'other']}
    assert rd.mask(after, rd.config_secret('gw'), before) == after


@pytest.mark.parametrize('path', [('options', 'headers'), ('models', 'm', 'headers')])
def test_a_header_holding_an_object_is_masked_whole(path):
    """A header value that is an object (a user's mistake, or a plugin's format) hides even its
    shape: its field names can be secrets too."""
    value = {'X-Token': {'hdr-field-4141': 'hdr-value-4242'}}
    entry = {}
    node = entry
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    masked = rd.mask(entry, rd.entry_secret)
    node = masked
    for key in path:
        node = node[key]
    assert node == {'X-Token': '********'}


def test_models_option_headers_are_masked_in_echoed_arguments():
    """``models`` as the modules take it: each model's ``headers`` is a credential, a mapping
    value by value (an object value whole), anything else whole."""
    shown = rd.Redactor().args({'models': [
        'auto', {'id': 'a', 'headers': 'X-Key: hdr-string-5353'},
        {'id': 'b', 'headers': {'X-Key': 'hdr-plain-5454', 'X-Obj': {'hdr-field-5555': 'v'}}}]})
    assert shown['models'] == ['auto', {'id': 'a', 'headers': '********'},
                               {'id': 'b', 'headers': {'X-Key': '********', 'X-Obj': '********'}}]


def test_args_show_a_key_reference_and_plain_strings_as_given():
    """A secret option holding a reference shows where the key is; a string that is no URL is
    echoed whole, with its ``@``, ``?``, ``#`` and line breaks."""
    shown = rd.Redactor([KEY]).args({'api_key': '{env:OMNIROUTE_API_KEY}', 'display_name': 'Team @ Corp? #1',
                                     'note': 'one\ntwo'})
    assert shown == {'api_key': '{env:OMNIROUTE_API_KEY}', 'display_name': 'Team @ Corp? #1', 'note': 'one\ntwo'}


@pytest.mark.parametrize('name', ['url', 'base_url'])
def test_args_drop_the_query_of_an_address_without_a_scheme(name):
    """An address option loses its query and fragment even when the scheme is missing
    or mistyped (where a URL in free text would not be recognised)."""
    shown = rd.Redactor().args({name: 'gw.corp.test:8443/v1?token=q-6262#f'})
    assert shown == {name: 'gw.corp.test:8443/v1'}


def test_a_key_inside_a_list_is_marked_changed_only_when_it_changed():
    """The other side of a diff is followed into lists too (a misplaced key a user put in one)."""
    before = {'options': {'fallbacks': [{'url': 'http://a/v1'}, {'apiKey': 'sk-list-7171'}]}}
    same = rd.mask(before, rd.entry_secret, before)
    assert same['options']['fallbacks'] == [{'url': 'http://a/v1'}, {'apiKey': '********'}]
    after = {'options': {'fallbacks': [{'url': 'http://a/v1'}, {'apiKey': 'sk-list-7272'}]}}
    changed = rd.mask(after, rd.entry_secret, before)
    assert changed['options']['fallbacks'][1] == {'apiKey': '******** (changed)'}


@pytest.mark.parametrize('wrap, unwrap', [(lambda v: [v], lambda v: v[0]), (lambda v: {'k': v}, lambda v: v['k'])])
def test_json_shows_values_nested_up_to_max_depth(wrap, unwrap):
    value = 'deep-value'
    for _level in range(rd.MAX_DEPTH):
        value = wrap(value)
    shown = rd.Redactor().json(value)
    for _level in range(rd.MAX_DEPTH):
        shown = unwrap(shown)
    assert shown == 'deep-value'
    too_deep = rd.Redactor().json(wrap(value))
    for _level in range(rd.MAX_DEPTH + 1):
        too_deep = unwrap(too_deep)
    assert too_deep == '(nested too deeply to show)'


def test_json_keeps_keys_that_are_not_text_and_line_breaks():
    assert rd.Redactor([KEY]).json({1: 'a', None: 'b', 'two\nlines ' + KEY: 'c\r\nd'}) == {
        1: 'a', None: 'b', 'two\nlines ********': 'c\nd'}


@pytest.mark.parametrize('ensure_ascii', [True, False])
def test_a_secret_is_scrubbed_whole_as_json_escapes_it(ensure_ascii):
    """Not one character of a key is left around its mask, in any JSON escaping of it (a key
    may hold any character; one starting or ending with an escaped character is the hard case)."""
    secret = u'ü"-0123456789abcdé"'
    text = json.dumps({'k': secret, 'n': 1}, ensure_ascii=ensure_ascii)
    assert rd.Redactor([secret]).text(text) == '{"k": "********", "n": 1}'


def test_short_secrets_are_scrubbed_whole_the_longest_first():
    """A secret of MIN_WHOLE to MIN_RUN - 1 characters (a short password) is masked where it
    appears whole; when one secret holds another, the longer one goes first, so no part of it
    is left beside the mask."""
    red = rd.Redactor(['pw12', 'cdef', 'abcdefg'])
    assert red.text('login pw12 ok') == 'login ******** ok'
    assert red.text('x abcdefg y') == 'x ******** y'
    assert rd.Redactor(['abc']).text('abc') == 'abc'  # shorter than MIN_WHOLE: an ordinary word


def test_bytes_are_shown_as_utf8_text_scrubbed():
    out = rd.Redactor([KEY]).text(b'caf\xc3\xa9 \xff ' + KEY.encode('ascii'))
    assert out == u'café \ufffd ********'


class _Hostile:
    def __str__(self):
        raise RuntimeError('sk-hostile-8181')


def test_any_value_is_shown_as_text_and_a_hostile_one_by_its_type():
    red = rd.Redactor()
    assert red.text(42) == '42' and red.text(ValueError('Odd fault')) == 'Odd fault'
    assert red.text(_Hostile()) == '(_Hostile)'


def test_a_text_of_exactly_one_run_is_scrubbed():
    assert rd.Redactor([KEY]).text(KEY[:rd.MIN_RUN]) == '********'
    assert rd.Redactor([KEY]).text(KEY[3:3 + rd.MIN_RUN]) == '********'


def test_user_info_without_a_scheme_goes_without_a_trace():
    assert rd.message('tried ops:pw-5151@old.corp.test now') == 'tried old.corp.test now'


@pytest.mark.parametrize('text, limit, shown', [
    ('abcdefghij', 10, 'abcdefghij'),  # exactly the limit: not cut
    ('abcdefghijk', 10, 'abcdefg...'),
    ('abc    defghijk', 10, 'abc...'),  # no blank before the mark
])
def test_a_cut_text_fits_the_limit_with_its_mark(text, limit, shown):
    assert rd.Redactor().text(text, limit) == shown


def test_a_cleared_redactor_holds_nothing_of_its_secrets():
    # A forked user's process clears the parent's redactor (users' forget_others).
    secret = 'sk-cleared-redactor-4f1a9c'
    redactor = rd.Redactor([secret, 'tiny'])
    assert secret not in redactor.text('key ' + secret) and not redactor.empty
    redactor.clear()
    assert redactor.empty and redactor.text('key ' + secret + ' tiny') == 'key ' + secret + ' tiny'
    # Nothing left in it: not the secrets, nor the runs of their characters it scrubs.
    assert [item for value in vars(redactor).values() for item in value] == []
