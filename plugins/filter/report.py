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
    ('layers', 'Overriding layers'), ('warnings', 'Warnings'), ('omniroute_key', 'OmniRoute key'),
)
# What the Key column shows of a developer's OmniRoute key (never the key itself).
# The report records the state after the run, so that a run that changes nothing rewrites the same
# bytes: the last use is a day, and what the run did (action, reasons) is only in the summary.
KEY_FIELDS = (('id', 'id %s'), ('replaces', 'replaces %s (still valid until the new key is installed)'),
              ('created_at', 'created %s'), ('expires_at', 'expires %s'),
              ('last_used', 'last used %s'), ('policy', 'policy %s'), ('cause', '%s'))


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


def _key_view(entry, run=False):
    """The report's view of one key entry of the role's key report (no key in it); with ``run``
    also what this run did to it (the summary's, not the file's)."""
    fields = ('id', 'name', 'created_at', 'expires_at', 'expiry_source', 'policy', 'cause')
    view = dict((k, entry.get(k)) for k in fields)
    view['replaces'] = list(entry.get('replaces') or [])
    view['state'] = entry.get('key_state')
    view['last_used'] = entry.get('last_used_at')[:10] if isinstance(entry.get('last_used_at'), str) else None
    if run:
        view.update(action=entry.get('action'), reasons=list(entry.get('reasons') or []))
    return view


def _host_failed_rows(host, error, keys, run=False):
    if not keys:
        return [dict(host=host, user=None, state=None, ready=False, file=None, key_store=None,
                     models=[], missing=[], warnings=[], reachable=None,
                     key_accepted=None, opencode_version=None, layers=[], error=error, cause=None)]
    # The host's users result is missing, but its keys are known: one row per developer's key,
    # so that a laptop cut off mid-rotation still shows each developer's "rotation pending".
    return [dict(host=host, user=name, state=entry.get('state') or 'present', ready=False, file=None,
                 key_store=None, models=[], missing=[], warnings=[], reachable=None,
                 key_accepted=None, opencode_version=None, layers=[], error=error, cause=None,
                 omniroute_key=_key_view(entry, run)) for name, entry in keys.items()]


def _orphan_rows(hostvars, hosts, sweep_var, run=False):
    for host in hosts or []:
        sweep = _get(_get(_get(hostvars, host, {}), sweep_var, {}), 'sweep')
        if isinstance(sweep, dict):
            break
    else:
        return []
    revoked = set(sweep.get('revoked') or [])
    rows = []
    for orphan in sweep.get('orphans') or []:
        if not isinstance(orphan, dict):
            continue
        view = dict((k, orphan.get(k)) for k in ('id', 'name', 'created_at'))
        view['last_used'] = orphan['last_used_at'][:10] if isinstance(orphan.get('last_used_at'), str) else None
        view['state'] = 'revoked' if orphan.get('id') in revoked and not sweep.get('check') else 'orphan'
        if view['state'] == 'revoked' and not run:
            continue  # gone after the run: the summary says so, the file records what is left
        if orphan.get('id') in revoked and sweep.get('check'):
            view['cause'] = 'would be revoked (check mode)'
        elif view['state'] == 'orphan' and sweep.get('refused') and sweep.get('mode') == 'revoke':
            view['cause'] = 'not revoked: %s' % sweep['refused']
        rows.append(dict(host=orphan.get('host'), user=orphan.get('user'), state='orphan', ready=None, file=None,
                         key_store=None, models=[], missing=[], warnings=[], reachable=None,
                         key_accepted=None, opencode_version=None, layers=[], error=None, cause=None,
                         omniroute_key=view))
    return rows


def report_rows(hostvars, hosts, result_var='_opencode_users_result', keys_var='opencode_omniroute_key_report',
                sweep_var='_opencode_key_session', run=False):
    rows = []
    for host in hosts or []:
        result = _get(_get(hostvars, host, {}), result_var)
        keys = dict((e.get('user'), e) for e in _get(_get(hostvars, host, {}), keys_var, [])
                    if isinstance(e, dict) and e.get('user'))
        if not isinstance(result, dict) or result.get('skipped') and not result.get('users'):
            rows.extend(_host_failed_rows(
                host, 'the role did not configure this host (unreachable, or an earlier task failed)', keys, run))
            continue
        users = result.get('users') or {}
        if result.get('failed') and not users:
            rows.extend(_host_failed_rows(host, '%s' % (result.get('msg') or 'failed'), keys, run))
            continue
        for name, res in users.items():
            row = _user_row(host, name, res if isinstance(res, dict) else {})
            if name in keys:
                row['omniroute_key'] = _key_view(keys[name], run)
            if result.get('failed'):
                row['error'] = '%s' % (result.get('msg') or 'failed')
                row['ready'] = False if row['state'] == 'present' else row['ready']
            rows.append(row)
    return rows + _orphan_rows(hostvars, hosts, sweep_var, run)


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


def _key_cell(key):
    """The Key column: state, then id, dates, policy and cause, one per line (never the key)."""
    if not isinstance(key, dict):
        return None
    lines = [key.get('state') or '-']
    for field, text in KEY_FIELDS:
        value = key.get(field)
        if value:
            if field == 'replaces':
                value = ', '.join('%s' % v for v in value)
            if field == 'expires_at' and key.get('expiry_source') and key['expiry_source'] != 'server':
                value = '%s (%s)' % (value, key['expiry_source'])
            lines.append(text % value)
    return lines


def _item(value):
    """A list item's text: a cell, and a leading '#', '+', '-', '=' or 'N.' escaped (it would
    start a heading or a list inside the item)."""
    return re.sub(r'^([#+=-]|\d+[.)])', r'\\\1', _cell(value))


def _not_ready(rows):
    return [r for r in rows if r.get('state') not in ('absent', 'orphan')
            and (r.get('ready') is False or r.get('error'))]


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
    present = [r for r in rows if r.get('state') not in ('absent', 'orphan')]
    bad = _not_ready(rows)
    ready = [r for r in present if r.get('ready') is True and not r.get('error')]
    # By identity: ``r not in bad`` compared whole rows (lazy containers on the controller), once
    # per pair of users of the play, which made the summary quadratic in the fleet (issue 22).
    counted = set(id(r) for r in bad + ready)
    unknown = [r for r in present if id(r) not in counted]
    removed = [r for r in rows if r.get('state') == 'absent']
    orphans = [r for r in rows if r.get('state') == 'orphan']
    pending = [r for r in rows if (r.get('omniroute_key') or {}).get('state') == 'rotation pending']
    # The summary is printed on the console: one line per user, no terminal control sequences.
    out = dict(ready=len(ready), not_ready=len(bad), unverified=len(unknown), removed=len(removed),
               not_ready_users=[_text('%s: %s' % (_who(r), _why(r))) for r in bad])
    if pending:
        out['rotation_pending'] = [_text('%s: %s' % (_who(r), r['omniroute_key'].get('cause') or 'rotation pending'))
                                   for r in pending]
    left = [r for r in orphans if r['omniroute_key'].get('state') == 'orphan']
    gone = [r for r in orphans if r['omniroute_key'].get('state') == 'revoked']
    if left:
        out['orphan_keys'] = len(left)
    if gone:
        out['orphan_keys_revoked'] = len(gone)
    # With report_rows(..., run=true): what this run did to the keys.
    done = ['%s: %s%s' % (_who(r), r['omniroute_key']['action'],
                          ' (%s)' % '; '.join(r['omniroute_key']['reasons']) if r['omniroute_key'].get('reasons') else '')
            for r in rows if (r.get('omniroute_key') or {}).get('action') not in (None, 'kept', 'none')]
    done += ['%s: orphan key revoked' % r['omniroute_key'].get('name') for r in orphans
             if r['omniroute_key'].get('state') == 'revoked']
    if done:
        out['keys_this_run'] = [_text(d) for d in done]
    return out


def report_markdown(rows, title='OpenCode rollout report'):
    summary = report_summary(rows)
    lines = ['# %s' % _text(title), '',
             '%d ready, %d not ready, %d not verified, %d removed.' % (
                 summary['ready'], summary['not_ready'], summary['unverified'], summary['removed']), '']
    if summary['not_ready_users']:
        lines += ['## Not ready', ''] + ['- %s' % _item(w) for w in summary['not_ready_users']] + ['']
    if summary.get('rotation_pending'):
        lines += ['## Key rotation pending (the old key stays valid; the next run finishes it)', '']
        lines += ['- %s' % _item(w) for w in summary['rotation_pending']] + ['']
    lines += ['## Users', '',
              '| %s |' % ' | '.join(title for _key, title in COLUMNS),
              '|%s' % ('---|' * len(COLUMNS))]
    for row in rows:
        if row.get('state') == 'orphan':
            continue
        cells = []
        for key, _title in COLUMNS:
            value = row.get(key)
            if key == 'user' and value is None:
                value = '(host failed)'
            if key == 'warnings' and row.get('error'):
                value = [row['error']] + list(value or [])
            if key == 'omniroute_key':
                value = _key_cell(value)
            cells.append(_cell(value))
        lines.append('| %s |' % ' | '.join(cells))
    orphans = [r for r in rows if r.get('state') == 'orphan']
    if orphans:
        lines += ['', '## Orphan keys (the role named them; no developer of the inventory holds them)', '',
                  '| Name | Key |', '|---|---|']
        for row in orphans:
            lines.append('| %s | %s |' % (_cell(row['omniroute_key'].get('name')), _cell(_key_cell(row['omniroute_key']))))
    return '\n'.join(lines) + '\n'


class FilterModule(object):
    def filters(self):
        return {
            'report_rows': report_rows,
            'report_markdown': report_markdown,
            'report_summary': report_summary,
        }
