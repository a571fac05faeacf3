# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A JSONC engine for OpenCode configs: parse, then edit surgically.

Private to the collection; standard library only (it runs on managed hosts, Python 3.8+).

The grammar is what OpenCode's own parser accepts (Microsoft's jsonc-parser with trailing
commas allowed): strict JSON plus ``//`` and ``/* */`` comments and trailing commas.

How it works: one regular-expression pass produces a *clean* copy of the text, the same
length, with comments and trailing commas turned into spaces (newlines kept).  Offsets, lines
and columns therefore mean the same thing in both copies, and the C-accelerated ``json``
module can validate the clean copy and decode any value inside it.  Edits are computed on the
clean copy and applied to the original text, so every byte outside an edited span is kept.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bisect
import json
import re

# A block comment ends at the first "*/" and a line comment at the end of its line, even where
# the regex engine could backtrack (a "/*" inside a "//" comment starts nothing).
_BLOCK = r'/\*[^*]*\*+(?:[^*/][^*]*\*+)*/'
_LINE = r'//[^\r\n]*(?=[\r\n]|\Z)'
_COMMENT = re.compile(_LINE + '|' + _BLOCK)
# What follows a trailing comma: blanks and comments, then a closing bracket.
# Each alternative starts with its own character and matches in exactly one way, so a failing
# lookahead cannot backtrack through exponentially many splits of a long run of blanks.
_TO_CLOSE = r'(?:[ \t\r\n]|' + _LINE + '|' + _BLOCK + r')*[}\]]'
# Everything that needs no attention: plain text, whole strings, commas that are not trailing.
# The regex engine consumes it in one call, so Python only sees comments and trailing commas.
_QUIET = re.compile(
    r'[^"/,]*(?:(?:"[^"\\\r\n]*(?:\\.[^"\\\r\n]*)*"|,(?!' + _TO_CLOSE + r'))[^"/,]*)*'
)
_NOT_NEWLINE = re.compile(r'[^\r\n]')
_BLANKS = re.compile(r'[ \t]*')
_WS = re.compile(r'[ \t\r\n]*')
_INDENTED_LINE = re.compile(r'^([ \t]+)[^ \t\r\n]', re.M)
_DECODER = json.JSONDecoder()
BOM = u'\ufeff'
# Deep nesting: the json module recurses, so past Python's recursion limit the engine falls back
# to the iterative scanners below.  OpenCode itself loads documents nested thousands deep.
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_NUMBER = re.compile(r'-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?')
_LITERAL = re.compile(r'true|false|null')
_CONSTANT = re.compile(r'[:\[,][ \t\r\n]*(-?(?:NaN|Infinity))\b')


def _reject_constant(name):
    raise ValueError('%s is not valid JSON' % name)


_STRICT = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=len)
# Finds where a value ends without keeping what it decodes: objects collapse to their size.
_SKIPPER = json.JSONDecoder(object_pairs_hook=len)
_skip_once = _SKIPPER.scan_once
_scanstring = json.decoder.scanstring


class JSONCError(ValueError):
    """Invalid JSONC, or an edit that cannot be made safely. Carries a 1-based position."""

    def __init__(self, msg, line=None, column=None, offset=None):
        self.msg = msg
        self.line = line
        self.column = column
        self.offset = offset
        if line is not None:
            msg = '%s at line %d, column %d' % (msg, line, column)
        super(JSONCError, self).__init__(msg)


def position(text, offset):
    """Return the 1-based (line, column) of ``offset`` in ``text``."""
    line = text.count('\n', 0, offset) + 1
    column = offset - (text.rfind('\n', 0, offset) + 1) + 1
    return line, column


def _error_at(text, offset, msg):
    line, column = position(text, offset)
    return JSONCError(msg, line, column, offset)


def _clean(text, start=0, end=None, before=''):
    """Return (clean_text, comment_spans, trailing_comma_offsets) for ``text[start:end]``.

    Offsets are absolute.  ``before`` is the last meaningful character ahead of ``start``
    (for a window re-cleaned after an edit; '' at the start of a document).
    """
    if end is None:
        end = len(text)
    pieces = []
    comments = []
    commas = []
    last = pos = start
    quiet = _QUIET.match
    while True:
        pos = quiet(text, pos, end).end()
        if pos >= end:
            break
        ch = text[pos]
        if ch == '/':
            m = _COMMENT.match(text, pos, end)
            if m is None:
                pos += 1  # a lone '/' or an unterminated comment: JSON reports it
                continue
            pieces.append(text[last:pos])
            comment = m.group(0)
            if '\n' in comment or '\r' in comment:
                pieces.append(_NOT_NEWLINE.sub(' ', comment))
            else:
                pieces.append(' ' * len(comment))
            comments.append((pos, m.end()))
            pos = last = m.end()
        elif ch == ',' and _value_before(text, pos, comments, start, before):
            pieces.append(text[last:pos])
            pieces.append(' ')
            commas.append(pos)
            pos = last = pos + 1
        else:
            pos += 1  # an unterminated string, or a comma after an opener: JSON reports it
    if not pieces:
        return text[start:end], comments, commas
    pieces.append(text[last:end])
    return ''.join(pieces), comments, commas


def _value_before(text, pos, comments, floor=0, before=''):
    """True when what precedes ``pos`` (blanks and comments aside) ends a value."""
    k = len(comments) - 1
    j = pos - 1
    while j >= floor:
        if text[j] in ' \t\r\n':
            j -= 1
        elif k >= 0 and comments[k][1] == j + 1:
            j = comments[k][0] - 1
            k -= 1
        else:
            return text[j] not in '[{,'
    return before != '' and before not in '[{,'


# The json module's wording, and how this engine says it.
_WORDING = (
    ('Expecting property name', 'expected a property name in double quotes'),
    ('Expecting value', 'expected a value'),
    ("Expecting ','", "expected ',' or a closing bracket"),
    ("Expecting ':'", "expected ':'"),
    ('Extra data', 'unexpected content after the end of the document'),
    ('Unterminated string', 'unterminated string'),
    ('Invalid control character', 'control character in a string'),
)


def _describe(msg):
    """Turn the json module's wording into the engine's."""
    for prefix, wording in _WORDING:
        if msg.startswith(prefix):
            return wording
    return msg[:1].lower() + msg[1:]


class Member:
    """One ``"key": value`` of an object, located in the document."""

    __slots__ = ('key', 'key_start', 'value_start', 'value_end', 'comma', 'trailing')

    def __init__(self, key, key_start, value_start, value_end, comma, trailing):
        self.key = key
        self.key_start = key_start
        self.value_start = value_start
        self.value_end = value_end
        self.comma = comma          # offset of the comma after the value, or None
        self.trailing = trailing    # True when that comma is a trailing comma


class ObjectSpan:
    """An object located in the document: its braces and its members."""

    __slots__ = ('open', 'close', 'members')

    def __init__(self, open_, close, members):
        self.open = open_
        self.close = close
        self.members = members

    def find(self, key):
        """The member for ``key`` (the last one, as JSON parsers keep the last duplicate)."""
        found = None
        for member in self.members:
            if member.key == key:
                found = member
        return found


class Document:
    """A parsed JSONC text that can be queried and edited without disturbing other bytes."""

    def __init__(self, text, base_indent='', style=None, validate=True, _known=None, _cleaned=None):
        self.text = text
        self.base_indent = base_indent
        self._objects = {}
        # Value ends already known from the document this one was edited from.
        self._known = _known or {}
        self.clean, self.comments, self.trailing_commas = _cleaned or _clean(text)
        if text.startswith(BOM) and self.clean.startswith(BOM):
            # A UTF-8 byte order mark, which OpenCode accepts: kept in the text, a blank here.
            self.clean = ' ' + self.clean[1:]
        self._comment_starts = [c[0] for c in self.comments]
        start = _WS.match(self.clean).end()
        self.empty = start == len(self.clean)
        self.root_start = start
        if validate:
            self.validate()
        if style is None:
            style = Style.detect(text, bool(self.trailing_commas))
        self.style = style

    def validate(self):
        """Raise JSONCError unless the whole text is valid JSONC."""
        if self.empty:
            return
        try:
            _STRICT.decode(self.clean)
        except RecursionError:
            self._validate_deep()
        except json.JSONDecodeError as exc:
            raise self._syntax_error(exc.pos, _describe(exc.msg))
        except ValueError as exc:
            m = _CONSTANT.search(self.clean)
            raise _error_at(self.text, m.start(1) if m else self.root_start, 'invalid JSONC: ' + str(exc))

    def _validate_deep(self):
        """``validate`` for a document nested deeper than the json module can recurse."""
        clean, pos, stack, expect = self.clean, self.root_start, [], 'value'
        n = len(clean)
        while True:
            pos = _WS.match(clean, pos).end()
            if pos >= n:
                if expect == 'end':
                    return
                # (At the end of the text, the words the json module gives a shallow document.)
                raise self._syntax_error(pos, "expected ',' or a closing bracket" if expect == 'next' else
                                         'expected a property name in double quotes' if expect in ('key', 'key?') else
                                         'expected a value')
            ch = clean[pos]
            if expect == 'end':
                raise self._syntax_error(pos, 'unexpected content after the end of the document')
            if expect == 'next':
                close = '}' if stack[-1] == '{' else ']'
                if ch == ',':
                    expect = 'key' if stack[-1] == '{' else 'value'
                elif ch == close:
                    stack.pop()
                    expect = 'next' if stack else 'end'
                else:
                    raise self._syntax_error(pos, "expected ',' or a closing bracket")
                pos += 1
            elif expect in ('key', 'key?'):
                if ch == '}' and expect == 'key?':
                    stack.pop()
                    pos += 1
                    expect = 'next' if stack else 'end'
                    continue
                if ch != '"':
                    raise self._syntax_error(pos, 'expected a property name in double quotes')
                pos = self._deep_string(pos)
                pos = _WS.match(clean, pos).end()
                if clean[pos:pos + 1] != ':':
                    raise self._syntax_error(pos, "expected ':'")
                pos += 1
                expect = 'value'
            else:  # a value, or (just after '[') the end of the array
                if ch == ']' and expect == 'value?':
                    stack.pop()
                    pos += 1
                elif ch in '{[':
                    stack.append(ch)
                    pos += 1
                    expect = 'key?' if ch == '{' else 'value?'
                    continue
                elif ch == '"':
                    pos = self._deep_string(pos)
                else:
                    m = _NUMBER.match(clean, pos) or _LITERAL.match(clean, pos)
                    if m is None:
                        raise self._syntax_error(pos, 'expected a value')
                    pos = m.end()
                expect = 'next' if stack else 'end'

    def _deep_string(self, pos):
        try:
            return _scanstring(self.clean, pos + 1)[1]
        except json.JSONDecodeError as exc:
            raise self._syntax_error(exc.pos, _describe(exc.msg))

    def _value_ends(self):
        """Every value end this document has located, by value start."""
        ends = {}
        for obj in self._objects.values():
            for member in obj.members:
                ends[member.value_start] = member.value_end
        return ends

    def _syntax_error(self, offset, msg):
        if self.clean.startswith('/*', offset):
            msg = 'unterminated block comment'
        elif self.clean.startswith('/', offset):
            msg = "unexpected '/' (comments start with // or /*)"
        return _error_at(self.text, offset, 'invalid JSONC: ' + msg)

    # ----------------------------------------------------------------- reading
    @property
    def root_is_object(self):
        return not self.empty and self.clean[self.root_start] == '{'

    def value(self, start=None):
        """Decode the value starting at ``start`` (default: the root)."""
        if self.empty:
            return None
        if start is None:
            start = self.root_start
        try:
            return _DECODER.raw_decode(self.clean, start)[0]
        except RecursionError:
            raise _error_at(self.text, start, 'this value is nested too deeply to be read here')

    def object_at(self, start):
        """Locate the members of the object whose ``{`` is at ``start`` (cached: immutable)."""
        found = self._objects.get(start)
        if found is None:
            found = self._objects[start] = self._scan_object(start)
        return found

    def _scan_object(self, start):
        clean = self.clean
        i = _WS.match(clean, start + 1).end()
        members = []
        while clean[i] != '}':
            key_start = i
            key, i = _scanstring(clean, i + 1)
            i = _WS.match(clean, i).end() + 1            # past ':'
            value_start = _WS.match(clean, i).end()
            value_end = self._known.get(value_start) or _skip_value(clean, value_start)
            i, comma, trailing = self._after_value(value_end)
            members.append(Member(key, key_start, value_start, value_end, comma, trailing))
        return ObjectSpan(start, i, members)

    def _after_value(self, value_end):
        """``(next, comma, trailing)`` after a member or element ending at ``value_end``: where the
        next one (or the closing bracket) starts, the offset of its comma (None when there is
        none) and whether that comma is a trailing one (blanked in the clean copy)."""
        clean = self.clean
        i = _WS.match(clean, value_end).end()
        if clean[i] == ',':
            return _WS.match(clean, i + 1).end(), i, False
        k = bisect.bisect_left(self.trailing_commas, value_end)
        if k < len(self.trailing_commas) and self.trailing_commas[k] < i:
            return i, self.trailing_commas[k], True
        return i, None, False

    def array_at(self, start):
        """Locate the elements of the array whose ``[`` is at ``start``.

        Returns an ObjectSpan whose members have no key (``key`` None, ``key_start`` is where
        the element starts), so the member editing helpers work on elements too.
        """
        found = self._objects.get(start)
        if found is None:
            found = self._objects[start] = self._scan_array(start)
        return found

    def _scan_array(self, start):
        clean = self.clean
        i = _WS.match(clean, start + 1).end()
        members = []
        while clean[i] != ']':
            value_start = i
            value_end = self._known.get(value_start) or _skip_value(clean, value_start)
            i, comma, trailing = self._after_value(value_end)
            members.append(Member(None, value_start, value_start, value_end, comma, trailing))
        return ObjectSpan(start, i, members)

    def _array(self, path):
        member = self.locate(path)[1]
        if member is None or self.clean[member.value_start] != '[':
            raise _error_at(self.text, member.value_start if member else self.root_start,
                            '"%s" is not an array' % '.'.join(path))
        return self.array_at(member.value_start)

    def array_append(self, path, value):
        """Return a new Document with ``value`` added at the end of the array at ``path``.

        Only that element is written: comments and the other elements keep their bytes.
        """
        arr = self._array(path)
        if not arr.members and '\n' not in self.text[arr.open:arr.close]:
            inside = self.text[arr.open + 1:arr.close]
            if not self._has_comment(arr.open, arr.close):
                return self._apply([(arr.open + 1, arr.close, self.style.dump_inline(value))])
            return self._apply([(arr.close, arr.close, inside and ' ' + self.style.dump_inline(value))])
        return self._apply(self._insert(arr, None, value))

    def array_remove(self, path, index):
        """Return a new Document without element ``index`` of the array at ``path``."""
        arr = self._array(path)
        return self._apply(self._remove(arr, arr.members[index], keep_inline_comments=True))

    def array_values(self, path):
        """The decoded elements of the array at ``path``, with their indexes kept in step."""
        arr = self._array(path)
        return [self.value(m.value_start) for m in arr.members]

    def shadowed(self, path):
        """Every ``(object, member)`` at ``path`` that a JSON reader ignores.

        A reader keeps the last of duplicate keys, so an earlier ``"omniroute"`` under
        ``provider`` (or one under an earlier duplicate ``"provider"``) is dead text; it may
        still hold an old key.  The effective member itself is not listed.
        """
        if self.empty or not self.root_is_object:
            return []
        found = []

        def walk(obj, depth, effective):
            same = [m for m in obj.members if m.key == path[depth]]
            for index, member in enumerate(same):
                live = effective and index == len(same) - 1
                if depth == len(path) - 1:
                    if not live:
                        found.append((obj, member))
                elif self.clean[member.value_start] == '{':
                    walk(self.object_at(member.value_start), depth + 1, live)

        walk(self.object_at(self.root_start), 0, True)
        return found

    def delete_shadowed(self, path):
        """Return a new Document without any of the members ``shadowed`` lists."""
        doc = self
        while True:
            found = doc.shadowed(path)
            if not found:
                return doc
            doc = doc._apply(doc._remove(*found[0]))

    def locate(self, path):
        """Walk ``path`` (a tuple of keys) from the root.

        Returns ``(objects, member)``: the objects passed through (root first) and the member
        at the end of the path, or None when the path stops early.  ``len(objects)`` tells how
        far the walk got.  Raises JSONCError when a step is not an object.
        """
        if not self.root_is_object:
            raise _error_at(self.text, self.root_start, 'the top level is not an object')
        obj = self.object_at(self.root_start)
        objects = [obj]
        for depth, key in enumerate(path):
            member = obj.find(key)
            if member is None or depth == len(path) - 1:
                return objects, member
            if self.clean[member.value_start] != '{':
                raise _error_at(
                    self.text, member.value_start,
                    '"%s" is not an object' % '.'.join(path[:depth + 1]))
            obj = self.object_at(member.value_start)
            objects.append(obj)
        return objects, None

    def get(self, path, default=None):
        """The decoded value at ``path``, or ``default`` when it is missing."""
        if self.empty:
            return default
        if not path:
            return self.value()
        member = self.locate(path)[1]
        if member is None:
            return default
        return self.value(member.value_start)

    def has(self, path):
        return not self.empty and self.locate(path)[1] is not None

    # ----------------------------------------------------------------- editing
    def set(self, path, value, first=False):
        """Return a new Document with ``value`` at ``path`` (inserting parents as needed).

        A new member goes after the last member of its object, or before the first one when
        ``first`` is true.  A replaced value keeps its place, and stays on one line if it was.
        """
        if self.empty:
            return self._replace_empty(_nest(path, value))
        if not path:
            raise JSONCError('cannot replace the whole document')
        objects, member = self.locate(path)
        if member is not None:
            if self.value(member.value_start) == value:
                return self
            if '\n' in self.text[member.value_start:member.value_end]:
                new = self.style.dump(value, self._line_indent(member.key_start))
            else:
                new = self.style.dump_inline(value)
            return self._apply([(member.value_start, member.value_end, new)])
        depth = len(objects) - 1
        obj, key, value = objects[-1], path[depth], _nest(path[depth + 1:], value)
        if first and obj.members:
            return self._apply(self._insert_first(obj, key, value))
        return self._apply(self._insert(obj, key, value))

    def delete(self, path):
        """Return a new Document without the member at ``path`` (unchanged if missing)."""
        if self.empty or not path:
            return self
        objects, member = self.locate(path)
        if member is None:
            return self
        return self._apply(self._remove(objects[-1], member))

    def reorder(self, path, keys):
        """Return a new Document whose object at ``path`` lists its members in ``keys``' order.

        Members ``keys`` does not name follow, in their current order.  Each member moves with
        its own text: the comments on the lines before it, its value (comments inside kept) and
        the comment after it on its line.  The layout stays where it is: the blanks that start
        each slot, the separators, the text before the closing brace, a trailing comma.  An
        object with duplicate keys is left as it is (which copy is meant is not ours to say).
        """
        if self.empty:
            return self
        if path:
            member = self.locate(path)[1]
            if member is None or self.clean[member.value_start] != '{':
                return self
            obj = self.object_at(member.value_start)
        else:
            obj = self.object_at(self.root_start)
        members = obj.members
        names = [m.key for m in members]
        if len(members) < 2 or len(set(names)) != len(names):
            return self
        rank = dict((key, index) for index, key in enumerate(keys))
        order = sorted(range(len(members)), key=lambda i: (rank.get(names[i], len(rank)), i))
        if order == list(range(len(members))):
            return self
        text = self.text
        slot_lead, slot_gap, own = [], [], []
        start = obj.open + 1
        for m in members:
            lead = text[start:m.key_start]
            blank = len(lead) - len(lead.lstrip(' \t\r\n'))
            slot_lead.append(lead[:blank])
            if m.comma is None:
                before, after_comma = '', m.value_end
            else:
                before, after_comma = text[m.value_end:m.comma], m.comma + 1
            end = self._after_same_line_comments(after_comma, obj.close)
            after = text[after_comma:end]
            if after.strip(' \t'):
                slot_gap.append('')
            else:  # only blanks: a separator, which belongs to the slot
                slot_gap.append(after)
                after = ''
            own.append((lead[blank:] + text[m.key_start:m.value_end] + before, after))
            start = end
        trailing = members[-1].comma is not None
        out = [text[:obj.open + 1]]
        for slot, index in enumerate(order):
            body, after = own[index]
            comma = ',' if slot < len(order) - 1 or trailing else ''
            out.append(slot_lead[slot] + body + comma + after + slot_gap[slot])
        out.append(text[start:])
        return Document(''.join(out), self.base_indent, self.style)

    def set_value_text(self, path, new_text):
        """Replace the value at ``path`` (which must exist) with ready-made text."""
        member = self.locate(path)[1]
        if member is None:
            raise KeyError(path)
        if self.text[member.value_start:member.value_end] == new_text:
            return self
        return self._apply([(member.value_start, member.value_end, new_text)])

    def value_span(self, path):
        """(start, end) of the value at ``path``, and the indentation of its line."""
        member = self.locate(path)[1]
        if member is None:
            return None
        return member.value_start, member.value_end, self._line_indent(member.key_start)

    def _apply(self, edits):
        """Apply non-overlapping ``(start, end, new)`` edits; returns an unvalidated Document.

        Value ends located in this document carry over where an edit cannot have moved them:
        values before the first edit, values after the last one (shifted), and containers that
        hold every edit (their end shifts).  Big sibling values are then not decoded again.
        """
        text = self.text
        # From the end backwards; of two edits at one offset, the one listed first ends up first.
        order = sorted(range(len(edits)), key=lambda i: (edits[i][0], i), reverse=True)
        for i in order:
            start, end, new = edits[i]
            text = text[:start] + new + text[end:]
        low = min(e[0] for e in edits)
        high = max(e[1] for e in edits)
        delta = len(text) - len(self.text)
        known = {}
        for value_start, value_end in self._value_ends().items():
            if value_end <= low:
                known[value_start] = value_end
            elif value_start >= high:
                known[value_start + delta] = value_end + delta
            elif value_start < low and value_end > high and self.clean[value_end - 1] in '}]':
                known[value_start] = value_end + delta
        return Document(text, self.base_indent, self.style, validate=False, _known=known,
                        _cleaned=self._reclean(text, low, high, delta))

    def _next_meaningful(self, q, starts):
        """The offset of the first character at or after ``q`` that is not blank or comment."""
        old = self.text
        while q < len(old):
            if old[q] in ' \t\r\n':
                q += 1
            elif q in starts:
                q = starts[q]
            else:
                break
        return q

    def _prev_meaningful(self, p, ends):
        """The offset of the last character at or before ``p`` that is not blank or comment."""
        old = self.text
        while p >= 0:
            if p + 1 in ends:  # first: a comment may end in a blank
                p = ends[p + 1] - 1
            elif old[p] in ' \t\r\n':
                p -= 1
            else:
                break
        return p

    def _reclean(self, text, low, high, delta):
        """The clean copy of ``text`` (this document edited in ``[low, high)``), re-cleaning
        only a window from the last meaningful character before the edit to the first one
        after it: the only commas whose trailing status can change live there."""
        old = self.text
        ends = dict((b, a) for a, b in self.comments)
        starts = dict(self.comments)
        p = self._prev_meaningful(low - 1, ends)
        if p >= 0 and old[p] == ',':
            # That comma is followed by the edit now: judge it again, from what precedes it.
            start = p
            p = self._prev_meaningful(p - 1, ends)
        else:
            start = p + 1
        before = old[p] if p >= 0 else ''
        q = self._next_meaningful(high, starts)
        if q < len(old) and old[q] == ',':
            # A comma right after the edit is judged by what follows it: include that too.
            q = self._next_meaningful(q + 1, starts)
        stop = min(q + 1, len(old))
        clean, comments, commas = _clean(text, start, stop + delta, before)
        return (self.clean[:start] + clean + self.clean[stop:],
                [c for c in self.comments if c[1] <= start] + comments
                + [(a + delta, b + delta) for a, b in self.comments if a >= stop],
                [c for c in self.trailing_commas if c < start] + commas
                + [c + delta for c in self.trailing_commas if c >= stop])

    def _replace_empty(self, obj):
        """Write an object into a document that holds only blanks and comments."""
        text = self.text
        nl = self.style.newline
        body = self.style.dump(obj, self.base_indent)
        if text and not text.endswith(('\n', '\r')):
            text += nl
        return Document(text + body + nl, self.base_indent, self.style)

    # Layout helpers ---------------------------------------------------------
    def _line_indent(self, offset):
        """The leading blanks of the line holding ``offset``."""
        line_start = self.text.rfind('\n', 0, offset) + 1
        if line_start == 0:
            prefix = self.base_indent
            line_start = 0
        else:
            prefix = ''
        m = _BLANKS.match(self.text, line_start)
        return prefix + m.group(0)

    def _after_same_line_comments(self, pos, limit):
        """Skip blanks and comments that start on this line; stop at a newline or token."""
        text = self.text
        while pos < limit:
            ch = text[pos]
            if ch in ' \t':
                pos += 1
                continue
            k = bisect.bisect_left(self._comment_starts, pos)
            if k < len(self.comments) and self.comments[k][0] == pos:
                pos = self.comments[k][1]
                continue
            break
        return pos

    def _newline_at(self, pos):
        if self.text.startswith('\r\n', pos):
            return 2
        if self.text.startswith('\n', pos):
            return 1
        return 0

    def _insert(self, obj, key, value):
        text = self.text
        multiline = '\n' in text[obj.open:obj.close]
        style = self.style
        key_text = '' if key is None else json.dumps(key, ensure_ascii=False) + ': '
        if obj.members:
            last = obj.members[-1]
            if not multiline:
                member = key_text + style.dump_inline(value)
                if last.comma is not None:
                    return [(last.comma + 1, last.comma + 1, ' ' + member + ',')]
                return [(last.value_end, last.value_end, ', ' + member)]
            indent = self._line_indent(last.key_start)
            member = key_text + style.dump(value, indent)
            edits = []
            if last.comma is None:
                edits.append((last.value_end, last.value_end, ','))
                pos = last.value_end
                tail = ''
            else:
                pos = last.comma + 1
                tail = ','
            pos = self._after_same_line_comments(pos, obj.close)
            edits.append((pos, pos, style.newline + indent + member + tail))
            return edits
        # An empty object.
        outer = self._line_indent(obj.open)
        indent = outer + style.unit
        member = key_text + style.dump(value, indent) + (',' if style.trailing else '')
        inside = text[obj.open + 1:obj.close]
        if not inside.strip(' \t'):
            return [(obj.open + 1, obj.close, style.newline + indent + member + style.newline + outer)]
        pos = self._after_same_line_comments(obj.open + 1, obj.close)
        new = style.newline + indent + member
        if '\n' not in text[pos:obj.close]:
            new += style.newline + outer
        return [(pos, pos, new)]

    def _insert_first(self, obj, key, value):
        """Insert a member right after the object's ``{`` (and any comment on that line)."""
        first = obj.members[0]
        key_text = json.dumps(key, ensure_ascii=False)
        if '\n' in self.text[obj.open:first.key_start]:
            indent = self._line_indent(first.key_start)
            member = key_text + ': ' + self.style.dump(value, indent)
            pos = self._after_same_line_comments(obj.open + 1, first.key_start)
            return [(pos, pos, self.style.newline + indent + member + ',')]
        return [(first.key_start, first.key_start, key_text + ': ' + self.style.dump_inline(value) + ', ')]

    def _remove(self, obj, member, keep_inline_comments=False):
        """Edits that take ``member`` (or an array element) out of ``obj``.

        A comment after the member on its own line goes with it; one that follows it inside a
        one-line object goes too, unless ``keep_inline_comments`` (array elements: a comment
        between two elements may well be about the next one).
        """
        text = self.text
        index = obj.members.index(member)
        is_last = index == len(obj.members) - 1
        edits = []
        line_start = text.rfind('\n', 0, member.key_start) + 1
        own_line = not text[line_start:member.key_start].strip(' \t')
        end = member.value_end if member.comma is None else member.comma + 1
        if is_last and not member.trailing and index > 0:
            prev = obj.members[index - 1]
            edits.append((prev.comma, prev.comma + 1, ''))
        if index == 0 and is_last and not self._has_comment(obj.open, obj.close, (member.key_start, end)):
            return [(obj.open + 1, obj.close, '')]  # the only member: leave an empty object
        if own_line:
            end = self._after_same_line_comments(end, len(text))
            nl = self._newline_at(end)
            if nl:
                return edits + [(line_start, end + nl, '')]
            return edits + [(member.key_start, end, '')]
        start = member.key_start
        if is_last:
            start = len(text[:start].rstrip(' \t'))
        else:
            if keep_inline_comments:
                while text[end:end + 1] in (' ', '\t'):
                    end += 1
            else:
                end = self._after_same_line_comments(end, obj.close) if self.text[end:end + 1] in ' \t' else end
        return edits + [(start, end, '')]

    def _has_comment(self, start, end, exclude=None):
        for c_start, c_end in self.comments:
            if start < c_start < end:
                if exclude and exclude[0] <= c_start < exclude[1]:
                    continue
                return True
        return False


def _skip_value(clean, start):
    """Offset just past the JSON value starting at ``start`` (clean text, already valid)."""
    if clean[start] == '"':
        return _scanstring(clean, start + 1)[1]
    try:
        return _skip_once(clean, start)[1]
    except RecursionError:
        return _skip_deep(clean, start)


def _skip_deep(clean, start):
    """``_skip_value`` for a container nested deeper than the json module can recurse."""
    depth = 0
    for m in _BRACKETS.finditer(clean, start):
        ch = m.group(0)
        if ch in '[{':
            depth += 1
        elif ch in ']}':
            depth -= 1
            if depth == 0:
                return m.end()
    raise ValueError('unbalanced brackets')  # the text was validated: cannot happen


def _nest(path, value):
    for key in reversed(path):
        value = {key: value}
    return value


class Style:
    """How a file is laid out: indentation unit, newline, trailing commas."""

    __slots__ = ('unit', 'newline', 'trailing')

    def __init__(self, unit='  ', newline='\n', trailing=False):
        self.unit = unit
        self.newline = newline
        self.trailing = trailing

    @classmethod
    def detect(cls, text, trailing):
        sample = text[:65536]  # newline style: the first 64 KB; indentation: the first 8 KB
        crlf = sample.count('\r\n')
        newline = '\r\n' if crlf and crlf * 2 >= sample.count('\n') else '\n'
        tabs = 0
        spaces = []
        for count, m in enumerate(_INDENTED_LINE.finditer(sample, 0, 8192)):
            if count == 64:
                break
            lead = m.group(1)
            if lead.startswith('\t'):
                tabs += 1
            elif ' ' in lead and '\t' not in lead:
                spaces.append(len(lead))
        if tabs > len(spaces):
            unit = '\t'
        elif spaces:
            unit = ' ' * min(spaces)
        else:
            unit = '  '
        return cls(unit, newline, trailing)

    def dump(self, value, indent):
        """Serialise ``value`` for a line indented by ``indent``."""
        out = json.dumps(value, indent=self.unit, ensure_ascii=False, separators=(',', ': '))
        if '\n' not in out:
            return out
        if self.trailing:
            out = re.sub(r'(?<=[^\[{])\n(?=[ \t]*[}\]])', ',\n', out)
        return out.replace('\n', self.newline + indent)

    @staticmethod
    def dump_inline(value):
        return json.dumps(value, ensure_ascii=False, separators=(', ', ': '))


def parse(text):
    """Parse JSONC ``text`` into Python values (None for an empty document)."""
    return Document(text).value()
