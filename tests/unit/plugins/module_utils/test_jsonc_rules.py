# -*- coding: utf-8 -*-
"""The exact rules of _jsonc.py that mutation testing showed no test pinned: every syntax error
as a whole message with its line, column and offset (the json module's wording and the iterative
validator of documents nested deeper than the recursion limit), when a comma before a closing
bracket is a trailing comma (comments between, at the start of a re-cleaned window), the bytes an
insert, a delete, a reorder or an array edit writes (one-line objects, empty objects holding
blanks or comments, comments that go with a member or stay), the indentation taken from the
first line of a document or of a sub-document, the style and base indentation an edited
document keeps, the order edits are applied in, and what ``shadowed``, ``delete``, ``reorder``,
``set``, ``set_value_text`` and ``value_span`` answer at their edges. Every text is compared whole."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import (
    Document, JSONCError, Style, _clean, parse)

# Deeper than Python's recursion limit: the json module gives up and the engine's own validator runs.
DEEP = 2000
OPEN = '[' * DEEP
CLOSE = ']' * DEEP


def error_of(text):
    """Everything a JSONCError for ``text`` carries: its words, message, line, column and offset."""
    with pytest.raises(JSONCError) as caught:
        Document(text)
    err = caught.value
    return str(err), err.msg, err.line, err.column, err.offset


def fresh(doc):
    """The clean copy an edit re-cleaned in a window equals a clean of the whole text."""
    return (doc.clean, doc.comments, doc.trailing_commas) == _clean(doc.text)


# --------------------------------------------------------------------------- error messages
@pytest.mark.parametrize('text, msg, line, column, offset', [
    # The json module's wording, made the engine's; one it has no wording for is lower-cased.
    ('{"a": "\\x"}', 'invalid \\escape', 1, 8, 7),
    ('{"a": NaN}', 'NaN is not valid JSON', 1, 7, 6),
    ('{"a": -Infinity}', '-Infinity is not valid JSON', 1, 7, 6),
    (' \n -Infinity', '-Infinity is not valid JSON', 2, 2, 3),
    ('{"a": /* open', 'unterminated block comment', 1, 7, 6),
    ('{"a": / 1}', "unexpected '/' (comments start with // or /*)", 1, 7, 6),
    # Lines and columns count from a newline at the very start of the text.
    ('\n{"a": }', 'expected a value', 2, 7, 7),
    ('\n\n  {"a" 1}', "expected ':'", 3, 8, 9),
], ids=['unknown-wording', 'nan', 'infinity', 'top-level-infinity', 'open-comment', 'lone-slash', 'leading-newline', 'two-leading-newlines'])
def test_a_syntax_error_is_one_whole_message_with_its_position(text, msg, line, column, offset):
    assert error_of(text) == ('invalid JSONC: %s at line %d, column %d' % (msg, line, column),
                              'invalid JSONC: ' + msg, line, column, offset)


def test_an_error_without_a_position_is_its_message_alone():
    err = JSONCError('cannot do that')
    assert (str(err), err.msg, err.line, err.column, err.offset) == ('cannot do that', 'cannot do that', None, None, None)


# --------------------------------------------------------------------------- deep documents
@pytest.mark.parametrize('tail, msg, column', [
    ('', 'expected a value', DEEP + 1),
    ('1', "expected ',' or a closing bracket", DEEP + 2),
    ('1 2' + CLOSE, "expected ',' or a closing bracket", DEEP + 3),
    (CLOSE[1:] + '}', "expected ',' or a closing bracket", 2 * DEEP),
    (CLOSE + ' {}', 'unexpected content after the end of the document', 2 * DEEP + 2),
    ('{1: 2}' + CLOSE, 'expected a property name in double quotes', DEEP + 2),
    ('{"k" 1}' + CLOSE, "expected ':'", DEEP + 6),
    ('XML' + CLOSE, 'expected a value', DEEP + 1),
    ('{}' + CLOSE[1:], "expected ',' or a closing bracket", 2 * DEEP + 2),
    ('"\\x"' + CLOSE, 'invalid \\escape', DEEP + 2),
    ('"open', 'unterminated string', DEEP + 1),
    ('"a\nb"' + CLOSE, 'control character in a string', DEEP + 3),
], ids=['end-expecting-a-value', 'end-expecting-a-comma', 'no-comma', 'wrong-bracket', 'after-the-end', 'bare-key',
        'no-colon', 'bare-word', 'empty-object-then-missing-bracket', 'bad-escape', 'open-string', 'newline-in-string'])
def test_a_deep_document_has_the_same_errors_with_exact_positions(tail, msg, column):
    """Past the recursion limit the engine validates on its own; its errors read like the others."""
    assert error_of(OPEN + tail) == ('invalid JSONC: %s at line 1, column %d' % (msg, column),
                                     'invalid JSONC: ' + msg, 1, column, column - 1)


@pytest.mark.parametrize('tail', ['{"a": [], ', '{', '{"a": 1', '[1, ', '['],
                         ids=['after-a-comma-in-an-object', 'open-object', 'after-a-member', 'after-a-comma-in-an-array',
                              'open-array'])
def test_a_text_that_ends_too_soon_has_the_same_error_deep_or_not(tail):
    """At the end of the text, the engine's own validator says what the json module says of the
    same text nested shallowly (a property name after a comma in an object, not "a value")."""
    words, msg, line, column, offset = error_of(tail)
    assert error_of(OPEN + tail) == (words.replace('column %d' % column, 'column %d' % (column + DEEP)), msg, line,
                                     column + DEEP, offset + DEEP)


@pytest.mark.parametrize('inner', ['1, 2', '{}', '{"k":1}', '{"k": 1, "l": [], "m": {}}', 'true, false, null',
                                   '"", 1', '"a\\"b", -1.5e3'],
                         ids=['two-values', 'empty-object', 'no-blank-after-colon', 'members', 'literals',
                              'empty-string', 'escaped-quote'])
def test_a_deep_document_that_is_valid_is_accepted(inner):
    text = '{"a": ' + OPEN + inner + CLOSE + ', "b": 1}'
    assert Document(text).get(('b',)) == 1


# --------------------------------------------------------------------------- trailing commas
@pytest.mark.parametrize('text, msg, line, column', [
    ('[/*a*/,]', 'expected a value', 1, 7),
    ('[/*a*/ /*b*/,]', 'expected a value', 1, 13),
    ('[//X\n,]', 'expected a value', 2, 1),
    ('{/*a*/,}', 'expected a property name in double quotes', 1, 7),
    (' ,]', 'expected a value', 1, 2),
], ids=['block-comment', 'two-comments', 'line-comment', 'object', 'document-start'])
def test_a_comma_after_an_opener_is_an_error_whatever_comments_stand_between(text, msg, line, column):
    assert error_of(text)[2:4] == (line, column)
    assert error_of(text)[1] == 'invalid JSONC: ' + msg


@pytest.mark.parametrize('text, expected', [
    ('[1/*a*/,]', [1]),
    ('[1 /*a*/ /*b*/ ,]', [1]),
    ('{"a": 1 // a\n/* b */,}', {'a': 1}),
], ids=['comment-touching-the-value', 'two-comments', 'line-and-block-comment'])
def test_a_comma_after_a_value_and_comments_is_a_trailing_comma(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize('text, start, before, commas', [
    (' ,]', 0, '[', []),
    (' ,]', 0, '{', []),
    (' ,]', 0, '1', [1]),
    (' ,]', 0, '', []),
    ('[2,]', 1, '[', [2]),
    ('[ /*c*/ ,]', 1, '[', []),
], ids=['after-bracket', 'after-brace', 'after-value', 'document-start', 'value-at-window-start', 'comment-then-comma'])
def test_a_window_judges_its_first_comma_by_what_precedes_it(text, start, before, commas):
    """``_clean`` of a window: ``before`` is the last meaningful character ahead of it."""
    assert _clean(text, start, None, before)[2] == commas


@pytest.mark.parametrize('text, clean', [
    ('[1 /* a\nb */]', '[1 ' + ' ' * 4 + '\n' + ' ' * 4 + ']'),
    ('[1 /* a\r\nb */]', '[1 ' + ' ' * 4 + '\r\n' + ' ' * 4 + ']'),
    ('[1 /* a\rb */]', '[1 ' + ' ' * 4 + '\r' + ' ' * 4 + ']'),
    ('[1 // a\r\n]', '[1 ' + ' ' * 4 + '\r\n]'),
    ('[1, /**/ ]', '[1' + ' ' * 7 + ']'),
], ids=['lf', 'crlf', 'cr', 'line-comment', 'trailing-comma'])
def test_the_clean_copy_blanks_comments_and_trailing_commas_and_keeps_newlines(text, clean):
    assert _clean(text)[0] == clean


def test_a_trailing_comma_left_after_an_array_edit_stays_blanked():
    new = Document('{"d": [1, 2,]}').array_remove(('d',), 0)
    assert new.text == '{"d": [2,]}' and fresh(new) and new.get(('d',)) == [2]


# --------------------------------------------------------------------------- inserting
@pytest.mark.parametrize('text, path, value, expected', [
    # A one-line object whose last member has a trailing comma: the new one goes after it, with one.
    ('{"a": 1,}', ('b',), 2, '{"a": 1, "b": 2,}'),
    # After the last member: past every comment on its line, however many.
    ('{\n  "a": 1 /* x */ /* y */\n}', ('b',), 2, '{\n  "a": 1, /* x */ /* y */\n  "b": 2\n}'),
    ('{\n  "a": 1 /* x *//* y */\n}', ('b',), 2, '{\n  "a": 1, /* x *//* y */\n  "b": 2\n}'),
    # An empty object holding blanks: they are replaced.
    ('{"x": { }}', ('x', 'a'), 1, '{"x": {\n  "a": 1\n}}'),
    # An empty object holding a comment: it stays, the member goes on a new line, then the brace.
    ('{"x": { /* c */ }}', ('x', 'a'), 1, '{"x": { /* c */ \n  "a": 1\n}}'),
    # An empty object over two lines: its closing line is kept as it is.
    ('{\n  "x": {\n      }\n}', ('x', 'a'), 1, '{\n  "x": {\n    "a": 1\n      }\n}'),
    # A file with trailing commas gets one after a member written into an empty object.
    ('{\n  "x": {},\n}', ('x', 'a'), 1, '{\n  "x": {\n    "a": 1,\n  },\n}'),
    # Indentation comes from the line of the brace, also the first line, also after an empty line.
    ('  {}', ('a',), 1, '  {\n    "a": 1\n  }'),
    ('\n  {}', ('a',), 1, '\n  {\n    "a": 1\n  }'),
    # Keys and strings are written as they are, not as \\u escapes.
    ('{"a": 1}', (u'\u00e9',), u'\u00fc', u'{"a": 1, "\u00e9": "\u00fc"}'),
], ids=['one-line-trailing-comma', 'two-comments', 'touching-comments', 'empty-with-blanks', 'empty-with-comment', 'empty-over-two-lines',
        'empty-trailing-style', 'first-line-indent', 'after-empty-line', 'non-ascii'])
def test_insert_writes_exactly_these_bytes(text, path, value, expected):
    new = Document(text).set(path, value)
    assert new.text == expected and fresh(new)


@pytest.mark.parametrize('text, path, value, expected', [
    ('{\n  "a": 1\n}', ('b',), {'c': 1}, '{\n  "b": {\n    "c": 1\n  },\n  "a": 1\n}'),
    ('{"a": 1}', (u'\u00e9',), u'\u00fc', u'{"\u00e9": "\u00fc", "a": 1}'),
], ids=['multi-line', 'non-ascii'])
def test_insert_first_writes_exactly_these_bytes(text, path, value, expected):
    assert Document(text).set(path, value, first=True).text == expected


def test_a_sub_document_indents_its_first_line_from_its_base_indent():
    """``plan_present`` edits a provider entry as a document of its own, indented like its line."""
    assert Document('{}', '    ').set(('a',), 1).text == '{\n      "a": 1\n    }'


@pytest.mark.parametrize('text, path, value, expected', [
    # A value over several lines stays over several lines, indented from its member's line.
    ('{\n  "a": {\n    "b": [\n      1\n    ]\n  }\n}', ('a', 'b'), [2, 3],
     '{\n  "a": {\n    "b": [\n      2,\n      3\n    ]\n  }\n}'),
    ('{"a": 1}', ('a',), u'\u00fc', u'{"a": "\u00fc"}'),
], ids=['multi-line', 'non-ascii'])
def test_replace_writes_exactly_these_bytes(text, path, value, expected):
    assert Document(text).set(path, value).text == expected


def test_an_empty_string_value_is_located_whole():
    assert Document('{"a": "", "b": 1}').set(('a',), 'x').text == '{"a": "x", "b": 1}'


@pytest.mark.parametrize('text, path, message', [
    ('[1]', ('a',), 'the top level is not an object at line 1, column 1'),
    ('{"a": {"b": [], "c": 1}}', ('a', 'b', 'c'), '"a.b" is not an object at line 1, column 13'),
    ('{"a": 1}', ('a', 'b'), '"a" is not an object at line 1, column 7'),
], ids=['top-level', 'second-level', 'first-level'])
def test_walking_through_something_else_than_an_object_names_the_path(text, path, message):
    with pytest.raises(JSONCError) as caught:
        Document(text).set(path, 1)
    assert str(caught.value) == message


def test_the_whole_document_cannot_be_replaced():
    with pytest.raises(JSONCError) as caught:
        Document('{"a": 1}').set((), 1)
    assert (str(caught.value), caught.value.line) == ('cannot replace the whole document', None)


@pytest.mark.parametrize('text, expected', [
    ('// c\r', '// c\r{\n  "a": 1\n}\n'),
    ('// c\n', '// c\n{\n  "a": 1\n}\n'),
    ('// c', '// c\n{\n  "a": 1\n}\n'),
], ids=['cr', 'lf', 'no-newline'])
def test_an_empty_document_gets_its_object_on_a_line_of_its_own(text, expected):
    assert Document(text).set(('a',), 1).text == expected


def test_an_empty_document_keeps_the_style_it_was_given():
    """The style given is used for later edits too, not detected again from the new text."""
    doc = Document('  // c\n', style=Style(unit='\t')).set(('a',), 1)
    assert doc.text == '  // c\n{\n\t"a": 1\n}\n'
    assert doc.set(('b',), {'c': 1}).text == '  // c\n{\n\t"a": 1,\n\t"b": {\n\t\t"c": 1\n\t}\n}\n'


def test_an_emptied_document_can_be_edited_again():
    doc = Document('').set(('a',), 1).delete(('a',))
    assert doc.text == '{}\n'
    assert doc.set(('b',), 1).text == '{\n  "b": 1\n}\n'


# --------------------------------------------------------------------------- removing
@pytest.mark.parametrize('text, path, expected', [
    # In a one-line object a comment after the member goes with it...
    ('{"a": 1, /* about a */ "b": 2}', ('a',), '{"b": 2}'),
    # ...unless it touches the next member: then it is that one's.
    ('{"a": 1,/* b */"b": 2}', ('a',), '{/* b */"b": 2}'),
    # The only member: an empty object, unless a comment outside the member stays.
    ('{\n  "a": /* c */ 1\n}', ('a',), '{}'),
    ('{\n  "a": 1/* c */\n}', ('a',), '{\n}'),
    ('{\n  "a": /* c */ 1 // d\n}', ('a',), '{\n}'),
    ('{\n  // keep\n  "a": 1\n}', ('a',), '{\n  // keep\n}'),
], ids=['inline-comment-goes', 'touching-comment-stays', 'comment-inside', 'comment-after', 'comments-inside-and-after',
        'comment-before'])
def test_delete_removes_exactly_these_bytes(text, path, expected):
    new = Document(text).delete(path)
    assert new.text == expected and fresh(new)


@pytest.mark.parametrize('text, index, expected', [
    ('{"d": [1,\t2]}', 0, '{"d": [2]}'),
    ('{"d": [1, /* about 2 */ 2]}', 0, '{"d": [/* about 2 */ 2]}'),
], ids=['tab', 'comment-stays'])
def test_array_remove_takes_the_blanks_after_the_comma_not_the_comments(text, index, expected):
    assert Document(text).array_remove(('d',), index).text == expected


def test_delete_in_an_empty_document_is_no_change():
    doc = Document('// nothing\n')
    assert doc.delete(('a',)) is doc and doc.delete(()) is doc


def test_a_value_after_a_deleted_container_is_found_where_it_now_is():
    """Value ends known before an edit are carried over only where the edit cannot have moved them."""
    doc = Document('{"b": {}, "c": [1,2], "d": 1}')
    assert doc.get(('b',)) == {}
    assert doc.delete(('b',)).set(('c',), [3]).text == '{"c": [3], "d": 1}'


def test_the_members_of_a_replaced_object_are_found_anew():
    doc = Document('{"x": {"a": {}}}')
    assert doc.get(('x', 'a')) == {}
    new = doc.set(('x',), {'a': [1], 'b': 22})
    assert new.text == '{"x": {"a": [1], "b": 22}}'
    assert (new.get(('x', 'a')), new.get(('x', 'b'))) == ([1], 22)


@pytest.mark.parametrize('text, edit, expected', [
    # The comma before the edit is judged again from the value ahead of it (one character long).
    ('{"d": [1, 2,]}', lambda doc: doc.array_remove(('d',), 1), '{"d": [1,]}'),
    # A comma after the edit is judged by the bracket after it, past blanks or a comment.
    ('{"a": 1 ,}', lambda doc: doc.set(('a',), 2), '{"a": 2 ,}'),
    ('{"a": 1,/* c */}', lambda doc: doc.set(('a',), 2), '{"a": 2,/* c */}'),
    # Comments just outside the window: one ending where it starts, one starting where it stops.
    ('{"a": 1/* c */, "b": 2,}', lambda doc: doc.delete(('b',)), '{"a": 1/* c */,}'),
    ('{"a": 1}// end\n', lambda doc: doc.set(('a',), 2), '{"a": 2}// end\n'),
    # A trailing comma right after the window.
    ('{"x": {"a": 1},}', lambda doc: doc.set(('x', 'a'), 2), '{"x": {"a": 2},}'),
    # Comma-first layout: the window starts right after the string before the comment, not inside it.
    ('{\n  "a": "xy"/* "q" */\n  , "b": 1\n}', lambda doc: doc.delete(('b',)), '{\n  "a": "xy"/* "q" */\n  \n}'),
], ids=['comma-before', 'blank-then-comma', 'comma-then-comment', 'comment-ending-at-start', 'comment-at-stop',
        'trailing-comma-at-stop', 'comma-first'])
def test_an_edit_recleans_a_window_that_equals_a_clean_of_the_whole_text(text, edit, expected):
    new = edit(Document(text))
    assert new.text == expected and fresh(new)
    new.validate()


# --------------------------------------------------------------------------- arrays
def test_append_to_an_empty_array_over_two_lines_writes_a_line():
    assert Document('{"d": [\n]}').array_append(('d',), 'gw').text == '{"d": [\n  "gw"\n]}'


@pytest.mark.parametrize('text, path, message', [
    ('{"x": 1}', ('a', 'd'), '"a.d" is not an array at line 1, column 1'),
    ('{"a": {"d": 1}}', ('a', 'd'), '"a.d" is not an array at line 1, column 13'),
], ids=['missing', 'a-number'])
def test_an_array_edit_where_there_is_no_array_names_the_path_and_a_position(text, path, message):
    with pytest.raises(JSONCError) as caught:
        Document(text).array_append(path, 1)
    assert str(caught.value) == message


# --------------------------------------------------------------------------- reorder
@pytest.mark.parametrize('text, keys, expected', [
    ('{ "b": 1, "a": 2 }', ['a', 'b'], '{ "a": 2, "b": 1 }'),
    # Members the keys do not name follow, in their order; no trailing comma appears.
    ('{"c": 1, "b": 2, "a": 3}', ['a'], '{"a": 3, "c": 1, "b": 2}'),
    # A trailing comma stays at the end.
    ('{\n  "b": 1,\n  "a": 2,\n}', ['a'], '{\n  "a": 2,\n  "b": 1,\n}'),
    # Comments on the lines before a member and after it on its line move with it.
    ('{\n  // about b\n  "b": 1, // b\n  /* about a */\n  "a": 2\n}\n', ['a'],
     '{\n  /* about a */\n  "a": 2,\n  // about b\n  "b": 1 // b\n}\n'),
], ids=['blanks-inside-braces', 'unnamed-follow', 'trailing-comma', 'comments'])
def test_reorder_of_the_top_level_writes_exactly_these_bytes(text, keys, expected):
    assert Document(text).reorder((), keys).text == expected


@pytest.mark.parametrize('text, path', [
    ('{"b": 1, "a": 2, "b": 3}', ()),
    ('{"x": 1}', ('y',)),
    ('{"x": [2, 1]}', ('x',)),
], ids=['duplicate-keys', 'missing', 'not-an-object'])
def test_reorder_leaves_alone_what_it_cannot_order(text, path):
    doc = Document(text)
    assert doc.reorder(path, ['a']) is doc


def test_reorder_keeps_the_base_indent_and_the_style():
    """A reordered document is edited on like the one it came from (``plan_present``'s sub-documents)."""
    assert Document('{"b": {}, "a": 1}').reorder((), ['a']).set(('b', 'x'), 1).text == '{"a": 1, "b": {\n  "x": 1\n}}'
    sub = Document('{\n  "b": {},\n  "a": 1\n}', '  ', Style(trailing=True))
    assert sub.reorder((), ['a']).set(('b', 'x'), 1).text == '{\n  "a": 1,\n  "b": {\n    "x": 1,\n  }\n}'


# --------------------------------------------------------------------------- edges
def test_shadowed_is_empty_without_an_object_at_the_top():
    assert (Document('[1]').shadowed(('a',)), Document('').shadowed(('a',))) == ([], [])


def test_set_value_text_of_a_missing_member_raises_key_error_with_the_path():
    with pytest.raises(KeyError) as caught:
        Document('{"a": 1}').set_value_text(('b',), '1')
    assert caught.value.args == (('b',),)


def test_value_span_gives_the_indentation_of_the_members_line():
    text = '{\n  "a": {\n    "b": [\n      1\n    ]\n  }\n}'
    assert Document(text).value_span(('a', 'b')) == (text.index('['), text.index(']') + 1, '    ')


@pytest.mark.parametrize('edits', [
    [(14, 15, '22'), (6, 7, '11')],
    [(6, 7, '11'), (14, 15, '22')],
], ids=['backwards', 'forwards'])
def test_edits_apply_in_any_order_they_are_listed(edits):
    assert Document('{"a": 1, "b": 2}')._apply(edits).text == '{"a": 11, "b": 22}'


def test_of_two_edits_at_one_offset_the_one_listed_first_ends_up_first():
    assert Document('{"a": 1, "b": 2}')._apply([(15, 15, ', "c"'), (15, 15, ': 3')]).text == '{"a": 1, "b": 2, "c": 3}'


# --------------------------------------------------------------------------- style
def _lines(*leads):
    return '{\n' + ''.join('%s"k%d": %d,\n' % (lead, i, i) for i, lead in enumerate(leads)) + '"z": 0\n}\n'


@pytest.mark.parametrize('text, newline', [
    ('{\r\n"a": 1\n}', '\r\n'),
    ('{\r\n"a": 1,\n"b": 2\n}', '\n'),
    ('{\r\n"a": 1,\r\n"b": 2\n}', '\r\n'),
    # The only CRLF has its '\r' as the 65536th character: it is not counted.
    ('{\n"a": "' + 'x' * (65535 - 9) + '"\r\n}', '\n'),
], ids=['half-crlf', 'a-third-crlf', 'two-thirds-crlf', 'crlf-past-64-kb'])
def test_newlines_are_crlf_when_at_least_half_of_the_first_64_kb_use_it(text, newline):
    assert Style.detect(text, False).newline == newline


@pytest.mark.parametrize('text, unit', [
    (_lines('\t', '  '), '  '),
    (_lines('\t', '\t', '  '), '\t'),
    (_lines('    ', ' \t'), '    '),
    ('\t{"a": 1}', '\t'),
    (_lines(*(['\t', '  '] * 32 + ['\t'] * 3)), '  '),
    ('{\n  "a": "' + 'x' * 8200 + '",\n' + '\t"b": 1,\n' * 3 + '"c": 1\n}', '  '),
    # A tab-indented line starting at the 8192nd character: its first token lies past 8 KB.
    ('{\n"a": "' + 'x' * (8191 - 11) + '",\n\t"b": 1\n}', '  '),
], ids=['one-tab-one-space', 'more-tabs', 'mixed-lead-ignored', 'first-line', 'first-64-lines', 'first-8-kb',
        'line-at-8-kb'])
def test_the_indent_unit_is_read_from_the_first_64_indented_lines_of_the_first_8_kb(text, unit):
    assert Style.detect(text, False).unit == unit
    assert Document(text).set(('new',), {'x': 1}).style.unit == unit


def test_a_style_made_with_defaults_is_two_spaces_newline_and_no_trailing_comma():
    style = Style()
    assert (style.unit, style.newline, style.trailing) == ('  ', '\n', False)
    assert style.dump({'a': [1]}, '') == '{\n  "a": [\n    1\n  ]\n}'
