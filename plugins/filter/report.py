# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report of the ``opencode`` role: rows from every host's ``users`` result.

Runs on the controller only.  The rows hold what the ``users`` module returned (which never
carries a key); ``report_markdown`` and ``report_summary`` only format them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each filter is documented in its own file next to this one (report_rows.yml,
# report_markdown.yml, report_summary.yml): ansible-doc shows a filter the DOCUMENTATION of the
# file it is defined in when that file has one, so none is kept here.

import re  # noqa: E402

from ansible_collections.omniroute.opencode.plugins.module_utils._redact import clean  # noqa: E402

COLUMNS = (
    ('host', 'Host'), ('user', 'User'), ('state', 'State'), ('ready', 'Ready'), ('file', 'File'),
    ('key_store', 'Key store'), ('reachable', 'Gateway reachable'), ('key_accepted', 'Key accepted'),
    ('models', 'Models configured'), ('missing', 'Models missing'), ('opencode_version', 'OpenCode'),
    ('layers', 'Overriding layers'), ('warnings', 'Warnings'),
)


def _get(mapping, key, default=None):
    try:
        value = mapping[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def _user_row(host, name, res):
    verify = res.get('verify') if isinstance(res.get('verify'), dict) else None
    state = res.get('state') or 'present'
    row = dict(host=host, user=name, state=state, file=res.get('path'), key_store=res.get('key_store'),
               models=list(res.get('models') or []),
               warnings=list(res.get('warnings') or []), reachable=None, key_accepted=None, missing=[],
               opencode_version=None, layers=[], error=None, cause=None)
    if res.get('skipped'):
        row.update(state='absent', ready=None, error=None, cause=res.get('msg'))
        return row
    if state == 'absent':
        row['ready'] = None
        return row
    if verify is None:
        row.update(ready=None, cause='not verified')
        return row
    row.update(reachable=verify.get('reachable'), key_accepted=verify.get('key_accepted'),
               missing=list(verify.get('missing') or []), opencode_version=verify.get('opencode_version'),
               layers=[_layer_text(layer) for layer in verify.get('layers') or []],
               ready=bool(verify.get('ready')), cause=verify.get('cause'))
    if verify.get('scope') == 'managed':
        # Managed scope: the key in auth.json and the managed file count too; cause lists them all.
        row.update(scope='managed', key=verify.get('key'),
                   managed_file=(verify.get('managed') or {}).get('path') if isinstance(verify.get('managed'), dict) else None)
    return row


def _layer_text(layer):
    if isinstance(layer, dict):
        effects = layer.get('effects')
        if isinstance(effects, list):
            effects = ', '.join('%s' % e for e in effects)
        return '%s (%s)' % (layer.get('path'), effects) if effects else '%s' % layer.get('path')
    return '%s' % layer


def report_rows(hostvars, hosts, result_var='_opencode_users_result'):
    rows = []
    for host in hosts or []:
        result = _get(_get(hostvars, host, {}), result_var)
        if not isinstance(result, dict) or result.get('skipped') and not result.get('users'):
            rows.append(dict(host=host, user=None, state=None, ready=False, file=None, key_store=None,
                             models=[], missing=[], warnings=[], reachable=None,
                             key_accepted=None, opencode_version=None, layers=[],
                             error='the role did not configure this host (unreachable, or an earlier task failed)',
                             cause=None))
            continue
        users = result.get('users') or {}
        if result.get('failed') and not users:
            rows.append(dict(host=host, user=None, state=None, ready=False, file=None, key_store=None,
                             models=[], missing=[], warnings=[], reachable=None,
                             key_accepted=None, opencode_version=None, layers=[],
                             error='%s' % (result.get('msg') or 'failed'), cause=None))
            continue
        for name, res in users.items():
            row = _user_row(host, name, res if isinstance(res, dict) else {})
            if result.get('failed'):
                row['error'] = '%s' % (result.get('msg') or 'failed')
                row['ready'] = False if row['state'] == 'present' else row['ready']
            rows.append(row)
    return rows


# What a Markdown cell escapes: everything that could end the cell or the row, or render as
# markup (code, links, images, HTML, entities, emphasis).  Control, ANSI and bidi characters
# are removed first (``_redact.clean``), so nothing reaches a terminal or an editor either.
_MARKDOWN = dict((ord(c), e) for c, e in (
    ('\\', '\\\\'), ('|', '\\|'), ('`', '\\`'), ('[', '\\['), (']', '\\]'), ('*', '\\*'), ('_', '\\_'),
    ('~', '\\~'), ('<', '&lt;'), ('>', '&gt;'), ('&', '&amp;')))


def _text(value):
    """``value`` as one line of plain text: no control, ANSI or bidi characters."""
    return clean('%s' % (value,))


def _cell(value):
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, (list, tuple)):
        return '<br>'.join(_cell(v) for v in value) if value else '-'
    return _text(value).translate(_MARKDOWN)


def _not_ready(rows):
    return [r for r in rows if r.get('state') != 'absent' and (r.get('ready') is False or r.get('error'))]


def _why(row):
    if row.get('error'):
        return row['error']
    if row.get('scope') == 'managed' and row.get('cause'):
        # Names the user and every file: key store, managed file, user layers.
        return row['cause']
    reasons = []
    if row.get('reachable') is False:
        reasons.append('gateway not reachable (%s)' % row['cause'] if row.get('cause') else 'gateway not reachable')
    if row.get('key_accepted') is False:
        reasons.append('key rejected')
    if row.get('missing'):
        reasons.append('models not offered to the key: %s' % ', '.join(row['missing']))
    if row.get('layers'):
        reasons.append('overridden by %s' % '; '.join(row['layers']))
    if not reasons and row.get('cause'):
        reasons.append(row['cause'])
    return '; '.join(reasons) or 'not ready'


def _who(row):
    return '%s@%s' % (row['user'], row['host']) if row.get('user') else row['host']


def report_summary(rows):
    """Counts of users ready, not ready and not verified, and who is not ready (with why)."""
    present = [r for r in rows if r.get('state') != 'absent']
    bad = _not_ready(rows)
    ready = [r for r in present if r.get('ready') is True and not r.get('error')]
    # By identity: ``r not in bad`` compared whole rows (lazy containers on the controller), once
    # per pair of users of the play, which made the summary quadratic in the fleet (issue 22).
    counted = set(id(r) for r in bad + ready)
    unknown = [r for r in present if id(r) not in counted]
    removed = [r for r in rows if r.get('state') == 'absent']
    # The summary is printed on the console: one line per user, no terminal control sequences.
    return dict(ready=len(ready), not_ready=len(bad), unverified=len(unknown), removed=len(removed),
                not_ready_users=[_text('%s: %s' % (_who(r), _why(r))) for r in bad])


def report_markdown(rows, title='OpenCode rollout report'):
    summary = report_summary(rows)
    lines = ['# %s' % _text(title), '',
             '%d ready, %d not ready, %d not verified, %d removed.' % (
                 summary['ready'], summary['not_ready'], summary['unverified'], summary['removed']), '']
    if summary['not_ready_users']:
        # A leading '#', '+', '-', '=' or 'N.' would start a heading or a list inside the item.
        lines += ['## Not ready', ''] + ['- %s' % re.sub(r'^([#+=-]|\d+[.)])', r'\\\1', _cell(w))
                                         for w in summary['not_ready_users']] + ['']
    lines += ['## Users', '',
              '| %s |' % ' | '.join(title for _key, title in COLUMNS),
              '|%s' % ('---|' * len(COLUMNS))]
    for row in rows:
        cells = []
        for key, _title in COLUMNS:
            value = row.get(key)
            if key == 'user' and value is None:
                value = '(host failed)'
            if key == 'warnings' and row.get('error'):
                value = [row['error']] + list(value or [])
            cells.append(_cell(value))
        lines.append('| %s |' % ' | '.join(cells))
    return '\n'.join(lines) + '\n'


class FilterModule(object):
    def filters(self):
        return {
            'report_rows': report_rows,
            'report_markdown': report_markdown,
            'report_summary': report_summary,
        }
