# -*- coding: utf-8 -*-
"""The JSONC engine: parsing, errors with positions, and byte-preserving edits."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import sys

import json5
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import (
    Document, JSONCError, _clean, parse)


def assert_fresh(doc):
    """An edited Document re-cleans only a window; it must equal a clean of the whole text."""
    assert (doc.clean, doc.comments, doc.trailing_commas) == _clean(doc.text)

# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize('text, expected', [
    ('{}', {}),
    ('{"a": 1,}', {'a': 1}),
    ('[1, 2,]', [1, 2]),
    ('{"a": [1, {"b": null,},],}', {'a': [1, {'b': None}]}),
    ('// lead\n{"a": /* in */ 1 // tail\n}', {'a': 1}),
    ('{"url": "http://x//y", "c": "/* not a comment */"}',
     {'url': 'http://x//y', 'c': '/* not a comment */'}),
    ('{"q": "say \\"hi\\" // still string"}', {'q': 'say "hi" // still string'}),
    ('{"a": 1, // comma then comment\n}', {'a': 1}),
    ('{"a": 1 /* c */ , /* c */ }', {'a': 1}),
    ('{"dup": 1, "dup": 2}', {'dup': 2}),
    ('\r\n{\r\n\t"a": "\u00e9\u4e2d"\r\n}\r\n', {'a': u'\u00e9\u4e2d'}),
    ('', None),
    ('  // only a comment\n', None),
])
def test_parse_accepts_what_opencode_accepts(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize('text, line, column, words', [
    ('{"a": 1,,}', 1, 9, 'property name'),
    ('[,]', 1, 2, 'expected a value'),
    ('{\n  "a": 1\n  "b": 2\n}', 3, 3, "expected ','"),
    ('{"a": /* open', 1, 7, 'unterminated block comment'),
    ('{"a": / 1}', 1, 7, "unexpected '/'"),
    ('{"a": NaN}', 1, 7, 'NaN'),
    ('{"a": "line\nbreak"}', 1, 12, 'control character'),
    ('{"a": "open', 1, 7, 'unterminated string'),
    ("{'a': 1}", 1, 2, 'property name'),
    ('{"a": 1} {}', 1, 10, 'after the end'),
    ('{a: 1}', 1, 2, 'property name'),
])
def test_errors_name_line_and_column(text, line, column, words):
    with pytest.raises(JSONCError) as err:
        parse(text)
    assert (err.value.line, err.value.column) == (line, column)
    assert words in str(err.value)
    assert 'line %d, column %d' % (line, column) in str(err.value)


def test_escaped_surrogate_pairs_decode_like_json():
    text = '{"\\ud83d\\ude00": "\\u00e9"}'
    assert parse(text) == json.loads(text) == {u'\U0001F600': u'\u00e9'}


def test_byte_order_mark_is_read_and_kept_by_edits():
    # OpenCode loads a file that starts with a UTF-8 BOM; the engine reads it and keeps it.
    assert parse(u'\ufeff{"theme": "dusk"}') == {'theme': 'dusk'}
    doc = Document(u'\ufeff// team\n{"theme": "dusk"}\n')
    edited = doc.set(('model',), 'gw/fast', first=True)
    edited.validate()
    assert edited.text == u'\ufeff// team\n{"model": "gw/fast", "theme": "dusk"}\n'
    only_bom = Document(u'\ufeff').set(('a',), 1)
    assert only_bom.text.startswith(u'\ufeff') and only_bom.value() == {'a': 1}


# --------------------------------------------------------------------------- deep nesting
@pytest.mark.parametrize('depth', [1500, 7000])
def test_deep_nesting_is_read_and_edited_without_recursion_error(depth):
    # Deeper than Python's recursion limit; OpenCode's parser loads such documents.
    deep = '{"lvl": ' * depth + '"bottom"' + '}' * depth
    text = '{\n  "mcp": {"nested": ' + deep + '},\n  "list": ' + '[' * depth + ']' * depth + '\n}\n'
    doc = Document(text)
    edited = doc.set(('provider',), {'gw': {'npm': 'x'}})
    edited.validate()
    assert edited.get(('provider', 'gw', 'npm')) == 'x'
    assert edited.text.startswith(text[:-3] + ",")


@pytest.mark.parametrize('tail, words, column', [
    (']' * 1999 + '}', "expected ',' or a closing bracket", 1 + 6 + 2000 + 1999),
    ('tru' + ']' * 2000 + '}', 'expected a value', 1 + 6 + 2000),
    (']' * 2000 + ' "x"}', "expected ',' or a closing bracket", 1 + 6 + 4000 + 1),
])
def test_deep_nesting_errors_keep_their_position(tail, words, column):
    with pytest.raises(JSONCError) as err:
        Document('{"a": ' + '[' * 2000 + tail)
    assert words in str(err.value) and err.value.column == column and err.value.line == 1


def test_a_deep_value_that_must_be_decoded_fails_cleanly_or_decodes():
    """How deep the C decoder reads depends on the Python: up to 3.11 it stops at the recursion
    limit (a clean JSONCError with the value's position), 3.13 reads 5000 levels. Never a
    RecursionError, never a wrong value. (The modules cap the managed entry at 100 levels.)"""
    deep = '[' * 5000 + ']' * 5000
    doc = Document('{"provider": {"gw": ' + deep + '}}')
    if sys.version_info < (3, 12):
        with pytest.raises(JSONCError) as err:
            doc.get(('provider', 'gw'))
        assert str(err.value) == 'this value is nested too deeply to be read here at line 1, column 21'
        return
    try:
        value = doc.get(('provider', 'gw'))
    except JSONCError as err:
        assert sys.version_info < (3, 13) and str(err) == 'this value is nested too deeply to be read here at line 1, column 21'
        return
    depth = 0
    while isinstance(value, list):
        depth += 1
        assert len(value) <= 1
        value = value[0] if value else None
    assert depth == 5000


# --------------------------------------------------------------------------- arrays
@pytest.mark.parametrize('text, index, expected', [
    ('{"d": ["x", "gw", "y"]}', 1, '{"d": ["x", "y"]}'),
    ('{"d": ["gw"]}', 0, '{"d": []}'),
    ('{"d": ["x", "gw"]}', 1, '{"d": ["x"]}'),
    ('{\n  "d": [\n    "x", // KEEP x\n    /* note */\n    "gw", // gone with it\n    "y"\n  ]\n}\n', 1,
     '{\n  "d": [\n    "x", // KEEP x\n    /* note */\n    "y"\n  ]\n}\n'),
    ('{\r\n\t"d": [\r\n\t\t"x", // KEEP\r\n\t\t"gw",\r\n\t],\r\n}', 1,
     '{\r\n\t"d": [\r\n\t\t"x", // KEEP\r\n\t],\r\n}'),
])
def test_array_remove_is_surgical(text, index, expected):
    new = Document(text).array_remove(('d',), index)
    new.validate()
    assert new.text == expected


@pytest.mark.parametrize('text, expected', [
    ('{"d": []}', '{"d": ["gw"]}'),
    ('{"d": ["x"]}', '{"d": ["x", "gw"]}'),
    ('{"d": [ /* none yet */ ]}', '{"d": [ /* none yet */  "gw"]}'),
    ('{\n  "d": [\n    "x" // KEEP x\n  ]\n}', '{\n  "d": [\n    "x", // KEEP x\n    "gw"\n  ]\n}'),
    ('{\r\n\t"d": [\r\n\t\t"x", // KEEP\r\n\t],\r\n}',
     '{\r\n\t"d": [\r\n\t\t"x", // KEEP\r\n\t\t"gw",\r\n\t],\r\n}'),
])
def test_array_append_is_surgical(text, expected):
    new = Document(text).array_append(('d',), 'gw')
    new.validate()
    assert new.text == expected


def test_array_edit_on_something_else_fails_with_position():
    with pytest.raises(JSONCError, match='"d" is not an array at line 1, column 7'):
        Document('{"d": {}}').array_append(('d',), 'gw')


def test_shadowed_duplicates_are_found_and_removed():
    text = ('{"provider": {"gw": {"k": "one"}, "x": 1}, '
            '"provider": {"gw": {"k": "two"}, "y": 2, "gw": {"k": "three"}}}')
    doc = Document(text)
    assert [doc.value(m.value_start) for _o, m in doc.shadowed(('provider', 'gw'))] == [
        {'k': 'one'}, {'k': 'two'}]
    new = doc.delete_shadowed(('provider', 'gw'))
    new.validate()
    assert new.text == '{"provider": {"x": 1}, "provider": {"y": 2, "gw": {"k": "three"}}}'
    assert new.shadowed(('provider', 'gw')) == []


# --------------------------------------------------------------------------- editing

SEED_LIKE = '''{
  // Global OpenCode settings
  "$schema": "https://opencode.ai/config.json",
  "provider": {
    /* the team's direct key */
    "anthropic": {
      "options": { "apiKey": "{env:ANTHROPIC_API_KEY}" }, // inline comment
    },
  },
  "theme": "dark",
}
'''


def test_insert_keeps_every_other_byte_and_indents_like_neighbours():
    doc = Document(SEED_LIKE).set(('provider', 'omniroute', 'options', 'baseURL'), 'http://h/v1')
    expected = SEED_LIKE.replace('''    },
  },
  "theme"''', '''    },
    "omniroute": {
      "options": {
        "baseURL": "http://h/v1",
      },
    },
  },
  "theme"''')
    assert doc.text == expected


def test_replace_keeps_a_single_line_value_on_one_line():
    text = '{\n  "list": ["a", "b"], // why\n  "x": 1\n}\n'
    assert Document(text).set(('list',), ['b']).text == '{\n  "list": ["b"], // why\n  "x": 1\n}\n'


def test_setting_an_equal_value_keeps_the_users_formatting():
    text = '{"a": {  "b" : [1,2 ,3] }}'
    doc = Document(text)
    assert doc.set(('a', 'b'), [1, 2, 3]) is doc


def test_delete_member_with_its_line_and_trailing_comment():
    text = '{\n  "a": 1,\n  "b": 2, // about b\n  // about c\n  "c": 3\n}\n'
    assert Document(text).delete(('b',)).text == '{\n  "a": 1,\n  // about c\n  "c": 3\n}\n'


def test_delete_last_member_drops_the_previous_comma_in_strict_json():
    text = '{\n  "a": 1,\n  "b": 2\n}\n'
    assert Document(text).delete(('b',)).text == '{\n  "a": 1\n}\n'
    assert json.loads(Document(text).delete(('b',)).text) == {'a': 1}


def test_delete_last_member_with_trailing_comma():
    text = '{\n  "a": 1,\n  "b": 2,\n}\n'
    assert Document(text).delete(('b',)).text == '{\n  "a": 1,\n}\n'


def test_delete_on_one_line():
    assert Document('{"a": 1, "b": 2, "c": 3}').delete(('b',)).text == '{"a": 1, "c": 3}'
    assert Document('{"a": 1, "b": 2}').delete(('b',)).text == '{"a": 1}'
    assert Document('{"a": 1}').delete(('a',)).text == '{}'


def test_delete_only_member_keeps_comments_inside():
    text = '{\n  "p": {\n    // keep\n    "x": 1\n  }\n}'
    assert Document(text).delete(('p', 'x')).text == '{\n  "p": {\n    // keep\n  }\n}'


def test_crlf_and_tabs_are_detected_and_used():
    text = '{\r\n\t"a": {\r\n\t\t"b": 1\r\n\t}\r\n}\r\n'
    new = Document(text).set(('a', 'c'), {'d': [1]}).text
    assert new == '{\r\n\t"a": {\r\n\t\t"b": 1,\r\n\t\t"c": {\r\n\t\t\t"d": [\r\n\t\t\t\t1\r\n\t\t\t]\r\n\t\t}\r\n\t}\r\n}\r\n'
    assert '\n' not in new.replace('\r\n', '')


def test_four_space_indent_and_no_final_newline_are_kept():
    text = '{\n    "a": 1\n}'
    assert Document(text).set(('b',), 2).text == '{\n    "a": 1,\n    "b": 2\n}'


def test_insert_first_goes_after_the_opening_brace():
    text = '{ // top comment\n  "a": 1\n}\n'
    new = Document(text).set(('$schema',), 'u', first=True).text
    assert new == '{ // top comment\n  "$schema": "u",\n  "a": 1\n}\n'


def test_empty_objects_and_empty_documents():
    assert Document('{}').set(('a',), 1).text == '{\n  "a": 1\n}'
    assert Document('{\n}\n').set(('a',), 1).text == '{\n  "a": 1\n}\n'
    assert Document('').set(('a', 'b'), 1).text == '{\n  "a": {\n    "b": 1\n  }\n}\n'
    assert Document('// hello\n').set(('a',), 1).text == '// hello\n{\n  "a": 1\n}\n'


def test_walking_through_a_non_object_is_an_error_with_a_position():
    with pytest.raises(JSONCError) as err:
        Document('{\n  "provider": []\n}').set(('provider', 'x'), 1)
    assert '"provider" is not an object' in str(err.value)
    assert (err.value.line, err.value.column) == (2, 15)


def test_top_level_must_be_an_object():
    with pytest.raises(JSONCError, match='top level is not an object'):
        Document('[1]').set(('a',), 1)


# --------------------------------------------------------------------------- properties

_key = st.lists(st.sampled_from(list(u'ab/*"\\ \u00e9\u4e2d\U0001F600,:{}\t') + ['//', '/*', '*/']),
                max_size=5).map(''.join)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6),
                    st.floats(allow_nan=False, allow_infinity=False, width=32), _key)
_value = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_key, inner, max_size=4)), max_leaves=12)
_document = st.dictionaries(_key, _value, max_size=5)


def _render(value, draw, indent, depth=0):
    """Render ``value`` as JSONC with random comments, blanks and trailing commas."""
    def gap():
        return draw(st.sampled_from(['', ' ', '\n' + indent * (depth + 1), ' /* c// */ ',
                                     ' // c "x" /* \n' + indent * (depth + 1), '\t']))
    if isinstance(value, dict):
        if not value:
            return '{' + gap() + '}'
        parts = []
        for key, item in value.items():
            parts.append(gap() + json.dumps(key, ensure_ascii=False) + gap() + ':' + gap()
                         + _render(item, draw, indent, depth + 1) + gap())
        trailing = ',' + gap() if draw(st.booleans()) else ''
        return '{' + ','.join(parts) + trailing + '\n' + indent * depth + '}'
    if isinstance(value, list):
        if not value:
            return '[' + gap() + ']'
        parts = [gap() + _render(item, draw, indent, depth + 1) + gap() for item in value]
        trailing = ',' if draw(st.booleans()) else ''
        return '[' + ','.join(parts) + trailing + ']'
    return json.dumps(value, ensure_ascii=False)


@st.composite
def jsonc_documents(draw):
    value = draw(_document)
    indent = draw(st.sampled_from(['  ', '    ', '\t']))
    text = draw(st.sampled_from(['', '// head\n', '/* head */ '])) + _render(value, draw, indent) \
        + draw(st.sampled_from(['', '\n', ' // tail\n']))
    if draw(st.booleans()):
        text = text.replace('\n', '\r\n')
    return value, text


def _set_in(value, path, new):
    for key in path[:-1]:
        if not isinstance(value.get(key), dict):
            value[key] = {}
        value = value[key]
    value[path[-1]] = new


def _changed_region(old, new):
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    return prefix, len(old) - suffix


def _examples():
    """200 examples per property, or the number in tests/unit/hypothesis-examples: the Makefile
    writes that file (25) into the tree copies of the Python and ansible-core matrix, where the
    point is that the code runs there; the full search runs once, in make test-unit. (A file,
    because ansible-test passes the tests no environment variable but HOME.)"""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'hypothesis-examples')
    if os.path.exists(path):
        with open(path) as handle:
            return int(handle.read())
    return 200


_PROFILE = settings(max_examples=_examples(), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROFILE
@given(jsonc_documents())
def test_parse_agrees_with_json5_and_the_source_value(case):
    value, text = case
    assert parse(text) == value
    assert json5.loads(text) == value


@_PROFILE
@given(jsonc_documents(), st.lists(_key, min_size=1, max_size=3), _value)
def test_set_changes_only_the_target_span_and_means_what_it_says(case, path, new_value):
    value, text = case
    path = tuple(path)
    doc = Document(text)
    # Walking through a non-object is refused; that is covered by its own test.
    node = value
    for key in path[:-1]:
        if key not in node:
            break
        assume(isinstance(node[key], dict))
        node = node[key]
    objects, member = doc.locate(path)
    new = doc.set(path, new_value)
    assert_fresh(new)
    expected = copy.deepcopy(value)
    _set_in(expected, path, new_value)
    assert parse(new.text) == expected
    assert json5.loads(new.text) == expected
    if new.text == text:
        # Only setting a member to the value it already has leaves the text as it was.
        assert member is not None and parse(text) == expected
    else:
        start, end = _changed_region(text, new.text)
        if member is not None:
            # A replacement touches nothing outside the old value.
            assert member.value_start <= start and end <= member.value_end
        else:
            parent = objects[-1]
            assert parent.open < start and end <= parent.close + 1


@_PROFILE
@given(jsonc_documents(), st.data())
def test_delete_then_merge_round_trip(case, data):
    value, text = case
    assume(value)
    key = data.draw(st.sampled_from(sorted(value)))
    doc = Document(text)
    gone = doc.delete((key,))
    assert_fresh(gone)
    expected = dict(value)
    del expected[key]
    assert parse(gone.text) == expected
    assert json5.loads(gone.text) == expected
    back = gone.set((key,), value[key])
    assert_fresh(back)
    assert parse(back.text) == value
    again = back.set((key,), value[key])
    assert again.text == back.text
    # Comments outside the deleted member survive the round trip.
    assert back.text.count('/* head */') == text.count('/* head */')


# --------------------------------------------------------------------------- regressions

_GUARD = '''
import sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
blank = ' ' * 5000 + '\\n' + '\\t' * 5000
assert parse('{"a": [1,' + blank + '2,' + blank + '],' + blank + '"b": 1' + blank + '}') == {'a': [1, 2], 'b': 1}
'''


def test_long_blank_runs_after_commas_do_not_backtrack():
    """Once, a lookahead split runs of blanks exponentially: 20 KB took 45 s. Now linear."""
    import os
    import subprocess
    import sys
    here = os.path.abspath(__file__)
    root = here[:here.index(os.sep + 'tests' + os.sep + 'unit' + os.sep)]
    collections = os.path.join(root, '.build', 'collections')
    # A bounded subprocess, so a regression fails here instead of hanging the suite.
    subprocess.run([sys.executable, '-c', _GUARD, collections], check=True, timeout=60)
