# -*- coding: utf-8 -*-
"""The role's report filters: rows from registered users results, Markdown, summary."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.omniroute.opencode.plugins.filter import report as rp

KEY = 'sk-report-unit-0123456789abcdef'


def verify(**over):
    out = dict(url='https://gw.example/v1/models', reachable=True, status=200, key_accepted=True,
               offered=['a', 'b'], offered_chat=['a', 'b'], missing=[], opencode='/usr/bin/opencode',
               opencode_version='1.18.33', layers=[], ready=True, cause=None)
    out.update(over)
    return out


def user(**over):
    out = dict(changed=False, path='/home/u/.config/opencode/opencode.json', models=['a'], state='present',
               key_store='auth', warnings=[], verify=verify())
    out.update(over)
    return out


HOSTVARS = {
    'laptop1': {'_opencode_users_result': {'changed': True, 'users': {
        'alice': user(),
        'bob': user(models=['a', 'c'], verify=verify(missing=['c'], ready=False)),
        'carol': {'changed': False, 'skipped': True, 'state': 'absent', 'key_store': 'config',
                  'msg': 'no such account; nothing to remove'},
        'dan': user(verify=verify(layers=[{'path': '/etc/opencode/opencode.json', 'kind': 'managed (administrator)',
                                           'effects': ['replaces baseURL']}], ready=False)),
        'erin': user(verify=None),
    }}},
    'laptop2': {'_opencode_users_result': {'failed': True, 'msg': 'host laptop2: user \'x\': no such account'}},
    'laptop3': {},
    'laptop4': {'_opencode_users_result': {'changed': False, 'users': {
        'frank': user(verify=verify(reachable=False, status=None, key_accepted=None, ready=False,
                                    cause='unreachable: connection refused')),
        'gina': user(verify=verify(key_accepted=False, status=401, ready=False)),
    }}},
}
HOSTS = ['laptop1', 'laptop2', 'laptop3', 'laptop4']


def test_rows_one_per_host_and_user_in_order():
    rows = rp.report_rows(HOSTVARS, HOSTS)
    assert [(r['host'], r['user']) for r in rows] == [
        ('laptop1', 'alice'), ('laptop1', 'bob'), ('laptop1', 'carol'), ('laptop1', 'dan'), ('laptop1', 'erin'),
        ('laptop2', None), ('laptop3', None), ('laptop4', 'frank'), ('laptop4', 'gina')]
    by = dict(((r['host'], r['user']), r) for r in rows)
    alice = by[('laptop1', 'alice')]
    assert alice['ready'] is True and alice['key_store'] == 'auth' and alice['opencode_version'] == '1.18.33'
    assert alice['file'] == '/home/u/.config/opencode/opencode.json' and alice['models'] == ['a']
    assert by[('laptop1', 'bob')]['missing'] == ['c'] and by[('laptop1', 'bob')]['ready'] is False
    assert by[('laptop1', 'carol')]['state'] == 'absent' and by[('laptop1', 'carol')]['ready'] is None
    assert by[('laptop1', 'dan')]['layers'] == ['/etc/opencode/opencode.json (replaces baseURL)']
    assert by[('laptop1', 'erin')]['ready'] is None and by[('laptop1', 'erin')]['cause'] == 'not verified'
    assert by[('laptop2', None)]['error'] == "host laptop2: user 'x': no such account"
    assert 'did not configure' in by[('laptop3', None)]['error']
    assert by[('laptop4', 'frank')]['reachable'] is False and by[('laptop4', 'gina')]['key_accepted'] is False


def test_summary_counts_and_names_who_is_not_ready():
    s = rp.report_summary(rp.report_rows(HOSTVARS, HOSTS))
    assert (s['ready'], s['not_ready'], s['unverified'], s['removed']) == (1, 6, 1, 1)
    assert s['not_ready_users'] == [
        'bob@laptop1: models not offered to the key: c',
        'dan@laptop1: overridden by /etc/opencode/opencode.json (replaces baseURL)',
        "laptop2: host laptop2: user 'x': no such account",
        'laptop3: the role did not configure this host (unreachable, or an earlier task failed)',
        'frank@laptop4: gateway not reachable (unreachable: connection refused)',
        'gina@laptop4: key rejected',
    ]


def test_markdown_has_a_table_row_per_row_and_escapes_cells():
    hostvars = dict(HOSTVARS, laptop5={'_opencode_users_result': {'users': {
        'hal': user(warnings=['a | b\nc'])}}})
    rows = rp.report_rows(hostvars, HOSTS + ['laptop5'])
    md = rp.report_markdown(rows)
    lines = md.splitlines()
    assert lines[0] == '# OpenCode rollout report'
    assert lines[2] == '2 ready, 6 not ready, 1 not verified, 1 removed.'
    table = [line for line in lines if line.startswith('| laptop')]
    assert len(table) == len(rows) == 10
    assert all(line.count(' | ') == len(rp.COLUMNS) - 1 for line in table)
    assert 'a \\| b c' in md and '| laptop2 | (host failed) |' in md


def test_rows_carry_only_report_fields():
    # Even a result that held a key in its entry gives rows without it (only listed fields are copied).
    hostvars = {'h': {'_opencode_users_result': {'users': {'u': user(entry={'options': {'apiKey': KEY}})}}}}
    rows = rp.report_rows(hostvars, ['h'])
    text = json.dumps(rows) + rp.report_markdown(rows) + json.dumps(rp.report_summary(rows))
    assert KEY not in text and 'apiKey' not in text


def test_filters_are_registered():
    assert set(rp.FilterModule().filters()) == {'report_rows', 'report_markdown', 'report_summary'}


def test_managed_scope_user_is_not_ready_when_verify_says_so_with_its_cause():
    cause = ('user bob on laptop1: no key for provider omniroute in /home/bob/.local/share/opencode/auth.json; '
             '/etc/opencode/opencode.json sends provider.omniroute to http://other/v1, not to https://gw.example/v1')
    managed = dict(path='/etc/opencode/opencode.json', found=True, entry=True, matches=False)
    hostvars = {'laptop1': {'_opencode_users_result': {'users': {
        'alice': user(verify=verify(scope='managed', key='present', managed=dict(managed, matches=True))),
        # Gateway reachable, no layer, no missing model: only the key and the managed file are wrong.
        'bob': user(verify=verify(scope='managed', key='missing', key_accepted=None, managed=managed,
                                  ready=False, cause=cause)),
    }}}}
    rows = rp.report_rows(hostvars, ['laptop1'])
    by_user = dict((r['user'], r) for r in rows)
    assert by_user['alice']['ready'] is True and by_user['bob']['ready'] is False
    assert by_user['bob']['scope'] == 'managed' and by_user['bob']['key'] == 'missing'
    assert by_user['bob']['managed_file'] == '/etc/opencode/opencode.json'
    summary = rp.report_summary(rows)
    assert summary['ready'] == 1 and summary['not_ready'] == 1
    assert summary['not_ready_users'] == ['bob@laptop1: %s' % cause]
    assert 'bob@laptop1: user bob on laptop1: no key for provider omniroute' in rp.report_markdown(rows)


def test_rows_record_the_state_after_the_run_not_what_the_run_changed():
    """A re-run that changes nothing must give the same report bytes as the run that changed the
    files (issue 25: the report broke idempotence through a "changed" column)."""
    changed = {'laptop1': {'_opencode_users_result': {'changed': True, 'users': {'alice': user(changed=True)}}}}
    again = {'laptop1': {'_opencode_users_result': {'changed': False, 'users': {'alice': user(changed=False)}}}}
    first, second = rp.report_rows(changed, ['laptop1']), rp.report_rows(again, ['laptop1'])
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert rp.report_markdown(first) == rp.report_markdown(second)
    assert all('changed' not in row for row in first)


def test_markdown_cells_are_inert_and_the_json_rows_exact():
    hostile = '\x1b[31m<script>alert(1)</script> | [x](http://evil.invalid) ![i](y) `code` *b* _i_ ~s~ &lt; \\ \r\nz\u202e\x00'
    hostvars = {'h|1': {'_opencode_users_result': {'users': {
        '# u': user(warnings=[hostile], models=['<img src=x onerror=1>'],
                    verify=verify(ready=False, missing=['[m](javascript:x)'], cause=hostile)),
    }}}}
    rows = rp.report_rows(hostvars, ['h|1'])
    # The JSON rows are the source of truth: exactly what the module returned.
    assert rows[0]['warnings'] == [hostile] and rows[0]['cause'] == hostile
    md = rp.report_markdown(rows)
    table = [line for line in md.splitlines() if line.startswith('| h')]
    assert len(table) == 1 and table[0].count(' | ') == len(rp.COLUMNS) - 1
    for unsafe in ('<script>', '<img', '](', '`code`', '*b*', '_i_', '~s~', '\x1b', '\x00', '\u202e', '\r'):
        assert unsafe not in md.replace('\\](', 'X'), unsafe
    assert '&lt;script&gt;' in md and '\\[x\\](http://evil.invalid)' in md and '&amp;lt;' in md and '\\\\' in md
    # The "Not ready" bullet cannot become a heading.
    assert '- \\# u@h\\|1: ' in md
    summary = rp.report_summary(rows)
    assert summary['not_ready_users'][0].startswith('# u@h|1: ')
    assert not any(c in summary['not_ready_users'][0] for c in ('\x1b', '\x00', '\u202e', '\r', '\n'))
