# -*- coding: utf-8 -*-
"""The OmniRoute key column of the fleet report (issue 20): per developer the key's id, dates,
policy and state, never the key; per fleet the orphans the sweep found or revoked."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.omniroute.opencode.plugins.filter.report import (
    report_markdown, report_rows, report_summary)


def key(user, state, **more):
    return dict(dict(user=user, name='opencode-%s@l1' % user, id='id-' + user, key_state=state, action='rotated',
                     created_at='2026-12-01T00:00:00Z', expires_at='2026-12-31T00:00:00Z',
                     expiry_source='ttl enforced by the role', last_used_at=None, policy='max 2 sessions'), **more)


ALICE = {'state': 'present', 'changed': True, 'verify': {'ready': True, 'key_accepted': True}}
HOSTVARS = {
    'l1': {'_opencode_users_result': {'users': {'alice': ALICE, 'bob': {'state': 'absent', 'changed': True}}},
           'opencode_omniroute_key_report': [key('alice', 'ok'), key('bob', 'revoked')],
           '_opencode_key_session': {'sweep': {
               'mode': 'revoke', 'revoked': ['o1'], 'refused': None,
               'orphans': [dict(id='o1', name='opencode-zed@l9', user='zed', host='l9', created_at='2026-01-01T00:00:00Z'),
                           dict(id='o2', name='opencode-yan@l9 | x', user='yan', host='l9')]}}},
    # A laptop stopped mid-rotation: no users result, but its keys are known.
    'l2': {'opencode_omniroute_key_report': [key('carol', 'rotation pending', cause='the laptop could not be reached')]},
}


def test_rows_carry_the_key_and_the_orphans():
    rows = report_rows(HOSTVARS, ['l1', 'l2'])
    by = dict(((r['host'], r['user']), r) for r in rows)
    assert by[('l1', 'alice')]['omniroute_key']['state'] == 'ok'
    assert by[('l1', 'alice')]['omniroute_key']['id'] == 'id-alice'
    assert by[('l1', 'bob')]['omniroute_key']['state'] == 'revoked'
    carol = by[('l2', 'carol')]
    assert carol['omniroute_key']['state'] == 'rotation pending' and carol['error'] and carol['ready'] is False
    # The file records what is left after the run: the revoked orphan is gone, the other stays.
    assert ('l9', 'zed') not in by
    assert by[('l9', 'yan')]['state'] == 'orphan' and by[('l9', 'yan')]['omniroute_key']['state'] == 'orphan'
    json.dumps(rows)
    run = dict(((r['host'], r['user']), r) for r in report_rows(HOSTVARS, ['l1', 'l2'], run=True))
    assert run[('l9', 'zed')]['omniroute_key']['state'] == 'revoked'
    assert run[('l1', 'alice')]['omniroute_key']['action'] == 'rotated'
    assert 'action' not in by[('l1', 'alice')]['omniroute_key']


def test_the_file_is_the_same_after_a_run_that_changes_nothing():
    """Issue 25 (Wrong 1): the run after a changing run rewrites the same bytes; the last use is a
    day, and what a run did is only in the summary."""
    changing = dict(HOSTVARS, l1=dict(HOSTVARS['l1'], opencode_omniroute_key_report=[
        key('alice', 'ok', action='rotated', reasons=['rotation requested'], last_used_at='2026-12-06T08:00:01Z'),
        key('bob', 'revoked', action='revoked')]))
    quiet = dict(HOSTVARS, l1=dict(HOSTVARS['l1'], opencode_omniroute_key_report=[
        key('alice', 'ok', action='kept', last_used_at='2026-12-06T09:30:00Z'),
        key('bob', 'revoked', action='none')], _opencode_key_session={'sweep': dict(
            HOSTVARS['l1']['_opencode_key_session']['sweep'], revoked=[],
            orphans=[o for o in HOSTVARS['l1']['_opencode_key_session']['sweep']['orphans'] if o['id'] != 'o1'])}))
    assert report_markdown(report_rows(changing, ['l1', 'l2'])) == report_markdown(report_rows(quiet, ['l1', 'l2']))
    assert report_rows(changing, ['l1', 'l2']) == report_rows(quiet, ['l1', 'l2'])
    summary = report_summary(report_rows(changing, ['l1', 'l2'], run=True))
    assert summary['keys_this_run'] == ['alice@l1: rotated (rotation requested)', 'bob@l1: revoked',
                                        'carol@l2: rotated', 'opencode-zed@l9: orphan key revoked']


def test_summary_counts_orphans_and_pending_rotations_apart():
    summary = report_summary(report_rows(HOSTVARS, ['l1', 'l2']))
    assert summary['ready'] == 1 and summary['removed'] == 1 and summary['not_ready'] == 1
    assert summary['orphan_keys'] == 1 and 'orphan_keys_revoked' not in summary
    summary = report_summary(report_rows(HOSTVARS, ['l1', 'l2'], run=True))
    assert summary['orphan_keys'] == 1 and summary['orphan_keys_revoked'] == 1
    assert summary['rotation_pending'] == ['carol@l2: the laptop could not be reached']


def test_markdown_key_column_and_orphan_section():
    text = report_markdown(report_rows(HOSTVARS, ['l1', 'l2']))
    assert '| OmniRoute key |' in text
    assert 'ok<br>id id-alice<br>created 2026-12-01T00:00:00Z<br>expires 2026-12-31T00:00:00Z (ttl enforced by the role)' \
           '<br>policy max 2 sessions' in text
    assert '## Key rotation pending' in text and 'carol@l2: the laptop could not be reached' in text
    assert '## Orphan keys' in text and 'opencode-zed@l9' not in text and '| opencode-yan@l9' in text
    # Escaped through the report's one cell function.
    assert 'opencode-yan@l9 \\| x' in text
    users_table = text.split('## Users')[1].split('## Orphan keys')[0]
    assert 'opencode-zed' not in users_table


def test_a_check_mode_sweep_says_what_it_would_revoke():
    hostvars = {'l1': {'_opencode_key_session': {'sweep': {
        'mode': 'revoke', 'revoked': ['o1'], 'refused': None, 'check': True,
        'orphans': [dict(id='o1', name='opencode-zed@l9', user='zed', host='l9')]}}}}
    (row,) = [r for r in report_rows(hostvars, ['l1']) if r['state'] == 'orphan']
    assert row['omniroute_key']['state'] == 'orphan'
    assert row['omniroute_key']['cause'] == 'would be revoked (check mode)'
    assert report_summary([row])['orphan_keys'] == 1
