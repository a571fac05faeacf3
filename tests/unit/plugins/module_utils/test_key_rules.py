# -*- coding: utf-8 -*-
"""The key lifecycle rules (module_utils/_keys.py), without Ansible and without a server."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from datetime import timedelta

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _keys

NOW = _keys.parse_time('2026-12-06T12:00:00Z')


def rec(rid, created, key='sk-b1490****0000', **more):
    return dict(dict(id=rid, name='opencode-alice@laptop1', key=key, createdAt=created), **more)


@pytest.mark.parametrize('text, expected', [
    ('2026-12-06T02:14:59.937Z', '2026-12-06T02:14:59Z'),
    ('2026-12-06T02:14:59Z', '2026-12-06T02:14:59Z'),
    ('2026-12-06T03:14:59+01:00', '2026-12-06T02:14:59Z'),
    ('2026-12-06 02:14', '2026-12-06T02:14:00Z'),
    ('yesterday', None), ('', None), (None, None), (12, None), ('2026-13-01T00:00:00Z', None),
    ('2026-12-06T02:14:59Z' + ' ' * 80, None),
])
def test_parse_time(text, expected):
    assert _keys.fmt(_keys.parse_time(text)) == expected


def test_the_scheme_matches_only_names_the_template_makes():
    pattern = _keys.scheme('opencode-{user}@{host}')
    assert _keys.parse_name(pattern, 'opencode-alice@laptop1.example.com') == ('alice', 'laptop1.example.com')
    assert _keys.parse_name(pattern, 'opencode-alice') is None
    assert _keys.parse_name(pattern, 'xopencode-alice@h') is None
    assert _keys.parse_name(_keys.scheme('k.{host}.{user}'), 'k.h1.bob') == ('bob', 'h1')
    assert _keys.parse_name(_keys.scheme('k.{host}.{user}'), 'kXh1.bob') is None  # dots are literal
    assert _keys.scheme('opencode-{user}') is None and _keys.scheme(None) is None
    assert _keys.key_name('opencode-{user}@{host}', 'alice', 'laptop1') == 'opencode-alice@laptop1'


def test_expiry_prefers_the_servers_and_falls_back_to_created_plus_ttl():
    assert _keys.expiry(rec('a', '2026-12-01T00:00:00Z', expiresAt='2027-01-01T00:00:00Z'), 30) == (
        _keys.parse_time('2027-01-01T00:00:00Z'), 'server')
    assert _keys.expiry(rec('a', '2026-12-01T00:00:00Z'), 30) == (
        _keys.parse_time('2026-12-31T00:00:00Z'), 'ttl enforced by the role')
    assert _keys.expiry(rec('a', '2026-12-01T00:00:00Z'), None) == (None, None)
    assert _keys.expiry(rec('a', 'garbage'), 30) == (None, None)


@pytest.mark.parametrize('record, ttl, renew, words', [
    (rec('a', '2026-10-01T00:00:00Z'), 30, 0, 'older than the ttl of 30 days (ttl enforced by the role)'),
    (rec('a', '2026-11-10T00:00:00Z'), 30, 7, 'within renew_days 7 (ttl enforced by the role)'),
    (rec('a', '2026-11-20T00:00:00Z'), 30, 7, None),
    (rec('a', '2026-12-01T00:00:00Z', expiresAt='2026-12-08T00:00:00Z'), None, 7, 'expires on 2026-12-08'),
    (rec('a', '2026-12-01T00:00:00Z', expiresAt='2026-12-05T00:00:00Z'), None, 0, 'expired on 2026-12-05'),
    (rec('a', '2026-12-01T00:00:00Z', expiresAt='2027-12-05T00:00:00Z'), 1, 7, None),
    (rec('a', '2026-12-06T11:59:00Z'), 0.0001, 0, 'older than the ttl of 0.0001 days'),
])
def test_due(record, ttl, renew, words):
    why = _keys.due(record, NOW, ttl, renew)
    assert (why is None) if words is None else (words in why)


def test_classify_by_the_installed_mask():
    old = rec('old', '2026-12-01T00:00:00Z', key='sk-b1490****1111')
    cur = rec('cur', '2026-12-02T00:00:00Z', key='sk-b1490****2222')
    new = rec('new', '2026-12-03T00:00:00Z', key='sk-b1490****3333')
    parts = _keys.classify([new, cur, old], 'sk-b1490****2222')
    assert parts['current'] is cur and parts['older'] == [old] and parts['newer'] == [new]
    assert _keys.classify([cur], None)['others'] == [cur]
    twin = rec('twin', '2026-12-04T00:00:00Z', key='sk-b1490****2222')
    assert _keys.classify([cur, twin], 'sk-b1490****2222')['ambiguous'] == [cur, twin]


def test_a_key_made_in_the_same_second_as_the_installed_one_is_older():
    """3.7.9 lists whole seconds: a tie is revoked as an old key, not taken for a lost new one
    (that would rotate the installed key again on every run)."""
    cur = rec('cur', '2026-12-02T00:00:00.000Z', key='sk-b1490****2222')
    tie = rec('tie', '2026-12-02T00:00:00.000Z', key='sk-b1490****1111')
    for order in ([cur, tie], [tie, cur]):
        parts = _keys.classify(order, 'sk-b1490****2222')
        assert parts['current'] is cur and parts['older'] == [tie] and parts['newer'] == []


def test_plan_cases():
    cur = rec('cur', '2026-12-02T00:00:00Z', key='sk-b1490****2222')
    old = rec('old', '2026-12-01T00:00:00Z', key='sk-b1490****1111')
    lost = rec('lost', '2026-12-03T00:00:00Z', key='sk-b1490****3333')
    keep = _keys.plan({}, [cur], NOW, installed_mask='sk-b1490****2222')
    assert keep['action'] == 'keep' and keep['revoke_now'] == [] and not keep['finishing']
    finish = _keys.plan({}, [old, cur], NOW, installed_mask='sk-b1490****2222')
    assert finish['action'] == 'keep' and finish['revoke_now'] == [old] and finish['finishing']
    pending = _keys.plan({}, [cur, lost], NOW, installed_mask='sk-b1490****2222')
    assert pending['action'] == 'rotate' and pending['revoke_now'] == [lost] and pending['replace'] == [cur]
    fresh = _keys.plan({}, [cur, old], NOW, installed_mask=None)
    assert fresh['action'] == 'create' and fresh['revoke_now'] == [old, cur] and fresh['replace'] == []
    foreign = _keys.plan({}, [cur], NOW, installed_mask='sk-b1490****9999')
    assert foreign['action'] == 'create' and foreign['revoke_now'] == [cur]
    asked = _keys.plan({'rotate': True}, [cur], NOW, installed_mask='sk-b1490****2222')
    assert asked['action'] == 'rotate' and asked['reasons'] == ['rotation requested']
    aged = _keys.plan({}, [cur], NOW, ttl_days=1, installed_mask='sk-b1490****2222')
    assert aged['action'] == 'rotate' and 'ttl' in aged['reasons'][0]
    gone = _keys.plan({}, [dict(cur, revokedAt='2026-12-05T00:00:00Z')], NOW, installed_mask='sk-b1490****2222')
    assert gone['action'] == 'rotate'
    unknown = _keys.plan({}, [old, cur], NOW, installed_known=False)
    assert unknown['action'] == 'keep' and unknown['current'] is cur and unknown['revoke_now'] == []


def test_policy_check_drift_and_text():
    policy = _keys.check_policy({'allowedModels': ['b', 'a', 'a'], 'noLog': True, 'maxSessions': 2,
                                 'accessSchedule': {'enabled': True, 'from': '08:00', 'until': '18:00',
                                                    'days': [5, 1], 'tz': 'UTC'}, 'isActive': True})
    assert policy['allowedModels'] == ['a', 'b'] and policy['accessSchedule']['days'] == [1, 5]
    listed = {'allowedModels': ['a', 'b'], 'noLog': True, 'maxSessions': 2, 'isActive': True,
              'accessSchedule': {'enabled': True, 'from': '08:00', 'until': '18:00', 'days': [5, 1], 'tz': 'UTC'}}
    assert _keys.policy_drift(listed, policy) == {}
    assert _keys.policy_drift(dict(listed, maxSessions=0), policy) == {'maxSessions': 2}
    assert _keys.policy_drift({}, {'isActive': True, 'noLog': False}) == {}
    assert _keys.policy_text(policy) == 'models a, b; no log; max 2 sessions; schedule UTC 08:00-18:00 days 1,5'
    assert _keys.policy_text({}) == 'default'
    assert _keys.check_policy(None) == {}
    with pytest.raises(_keys.PolicyError, match='scopes is not a setting'):
        _keys.check_policy({'scopes': ['manage']})
    with pytest.raises(_keys.PolicyError, match='must be a mapping'):
        _keys.check_policy(['noLog'])
    # A schedule the server holds in another shape is never taken as equal: one PATCH corrects it.
    assert _keys.policy_drift({'accessSchedule': {'odd': 1}}, policy)['accessSchedule'] == policy['accessSchedule']


def test_sweep_lists_orphans_and_unused():
    records = [dict(id='1', name='opencode-alice@laptop1', createdAt='2026-01-01T00:00:00Z'),
               dict(id='2', name='opencode-carol@laptop1', createdAt='2026-01-02T00:00:00Z',
                    lastUsedAt='2026-12-05T00:00:00Z'),
               dict(id='3', name='ci-deploy', createdAt='2026-01-01T00:00:00Z'),
               'not a record', dict(id='4', name=None)]
    orphans, unused = _keys.sweep(records, ['opencode-alice@laptop1'], 'opencode-{user}@{host}', 30, NOW)
    assert [o['id'] for o in orphans] == ['2'] and [u['id'] for u in unused] == ['1']
    assert _keys.sweep(records, [], 'no-placeholders') == ([], [])


def test_record_view_never_shows_the_key_or_its_mask():
    view = _keys.record_view(rec('a', '2026-12-01T00:00:00Z', key='sk-b1490****abcd', noLog=True),
                             'opencode-{user}@{host}', 30)
    assert 'sk-b1490' not in repr(view) and view['user'] == 'alice' and view['host'] == 'laptop1'
    assert view['expires_at'] == '2026-12-31T00:00:00Z' and view['expiry_source'] == 'ttl enforced by the role'
    assert view['policy'] == 'no log'
    assert _keys.fmt(NOW + timedelta(days=1)) == '2026-12-07T12:00:00Z'


# ------------------------------------------------------------------ exact messages and boundaries
# (issue 26: mutmut's survivors of _keys.py; every refusal is checked by its whole message, every
# limit on both sides.)
GOOD_SCHEDULE = {'enabled': True, 'from': '08:00', 'until': '18:00', 'days': [1], 'tz': 'UTC'}


def refusal(schedule):
    with pytest.raises(_keys.PolicyError) as caught:
        _keys.check_policy({'accessSchedule': schedule})
    return str(caught.value)


@pytest.mark.parametrize('schedule, message', [
    (['08:00'], 'key policy accessSchedule must be null or a mapping with days, enabled, from, tz, until'),
    (dict(GOOD_SCHEDULE, every='day'),
     'key policy accessSchedule needs exactly days, enabled, from, tz, until (unknown: every)'),
    (dict((k, v) for k, v in GOOD_SCHEDULE.items() if k != 'tz'),
     'key policy accessSchedule needs exactly days, enabled, from, tz, until (missing: tz)'),
    (dict(dict((k, v) for k, v in GOOD_SCHEDULE.items() if k not in ('tz', 'from')), every='day', zone='x'),
     'key policy accessSchedule needs exactly days, enabled, from, tz, until (unknown: every, zone; missing: from, tz)'),
    (dict(GOOD_SCHEDULE, enabled='yes'), 'key policy accessSchedule.enabled must be true or false'),
    (dict(GOOD_SCHEDULE, until='24:00'), 'key policy accessSchedule.until must be a time HH:MM'),
    (dict(GOOD_SCHEDULE, days=[]), 'key policy accessSchedule.days must be 1 to 7 day numbers from 0 (Sunday) to 6'),
    (dict(GOOD_SCHEDULE, tz=''), 'key policy accessSchedule.tz must be a time zone name such as Europe/Berlin'),
])
def test_each_schedule_refusal_says_exactly_what_is_wrong(schedule, message):
    assert refusal(schedule) == message


@pytest.mark.parametrize('days', [5, 'mon', [], [0, 0, 1, 2, 3, 4, 5, 6], [7], [-1], [True], [1.0]])
def test_schedule_days_refused(days):
    assert 'accessSchedule.days must be' in refusal(dict(GOOD_SCHEDULE, days=days))


@pytest.mark.parametrize('tz', [5, '', 'x' * 101])
def test_schedule_time_zone_refused(tz):
    assert 'accessSchedule.tz must be' in refusal(dict(GOOD_SCHEDULE, tz=tz))


def test_schedule_limits_accepted():
    """Sunday (0) and Saturday (6), all seven days, a one-letter and a 100-letter zone name."""
    for days, tz in (([6, 0], 'Z'), ([0, 1, 2, 3, 4, 5, 6], 'x' * 100)):
        assert _keys.check_policy({'accessSchedule': dict(GOOD_SCHEDULE, days=days, tz=tz)})['accessSchedule'] == dict(
            GOOD_SCHEDULE, days=sorted(days), tz=tz)


@pytest.mark.parametrize('ttl, renew, at, expected', [
    # TTL enforced by the role: created 2026-11-01, ttl 30 days: due on 2026-12-01 00:00.
    (30, None, '2026-11-30T23:59:59Z', None),
    (30, 0, '2026-12-01T00:00:00Z',
     'created 2026-11-01T00:00:00Z, older than the ttl of 30 days (ttl enforced by the role)'),
    (30, 2, '2026-11-28T23:59:59Z', None),
    (30, 2, '2026-11-29T00:00:00Z',
     'reaches the ttl of 30 days on 2026-12-01T00:00:00Z, within renew_days 2 (ttl enforced by the role)'),
    (0.5, None, '2026-11-01T12:00:00Z',
     'created 2026-11-01T00:00:00Z, older than the ttl of 0.5 days (ttl enforced by the role)'),
])
def test_due_by_the_roles_ttl_exactly(ttl, renew, at, expected):
    assert _keys.due(rec('a', '2026-11-01T00:00:00Z'), _keys.parse_time(at), ttl, renew) == expected


@pytest.mark.parametrize('renew, at, expected', [
    (None, '2026-12-09T23:59:59Z', None),
    (None, '2026-12-10T00:00:00Z', 'expired on 2026-12-10T00:00:00Z'),
    (3, '2026-12-06T23:59:59Z', None),
    (3, '2026-12-07T00:00:00Z', 'expires on 2026-12-10T00:00:00Z, within renew_days 3'),
    (1e-05, '2026-12-10T00:00:00Z', 'expired on 2026-12-10T00:00:00Z'),
])
def test_due_by_the_servers_expiry_exactly(renew, at, expected):
    record = rec('a', '2026-11-01T00:00:00Z', expiresAt='2026-12-10T00:00:00Z')
    assert _keys.due(record, _keys.parse_time(at), 30, renew) == expected


def test_day_counts_are_shown_as_written():
    assert (_keys._days(None), _keys._days(7), _keys._days(0.5), _keys._days(1e-05)) == (None, '7', '0.5', '1e-05')


def test_a_template_may_name_the_user_twice():
    pattern = _keys.scheme('{user}@{host}/{user}')
    assert _keys.parse_name(pattern, 'alice@h1/alice') == ('alice', 'h1')
    assert _keys.parse_name(pattern, 'alice@h1/bob') is None
    # A name is one line or more: the scheme matches across line breaks (nothing is left over).
    assert _keys.parse_name(_keys.scheme('opencode-{user}@{host}'), 'opencode-al\nice@h\n1') == ('al\nice', 'h\n1')


def test_parse_name_without_a_scheme_or_a_text_name():
    assert _keys.parse_name(None, 'opencode-alice@h1') is None
    assert _keys.parse_name(_keys.scheme('opencode-{user}@{host}'), 12) is None


def test_policy_text_of_an_inactive_key_and_a_schedule_that_is_off():
    assert _keys.policy_text({'isActive': False}) == 'inactive'
    assert _keys.policy_text({'accessSchedule': dict(GOOD_SCHEDULE, enabled=False, days=[0, 6])}) == (
        'schedule UTC 08:00-18:00 days 0,6 (off)')


def test_lacks_age_and_created_of_odd_records():
    assert _keys.lacks_age({'expiresAt': '2027-01-01T00:00:00Z'}) is False
    assert _keys.lacks_age({'createdAt': '2026-01-01T00:00:00Z'}) is False
    assert _keys.lacks_age({'expiresAt': 'soon', 'createdAt': None}) is True
    assert _keys._created('not a record') is None and _keys._created(None) is None


def test_sweep_counts_unused_days_from_the_time_given_and_not_at_the_limit():
    records = [dict(id='1', name='opencode-alice@laptop1', createdAt='2020-01-01T00:00:00Z'),
               dict(id='2', name='opencode-bob@laptop1', createdAt='2020-01-01T00:00:00Z',
                    lastUsedAt='2020-03-01T00:00:00Z')]
    at = _keys.parse_time('2020-03-31T00:00:00Z')
    owners = ['opencode-alice@laptop1', 'opencode-bob@laptop1']
    # At 2020-03-31 with 30 days: alice's last sign (created 2020-01-01) is older, bob's (used
    # exactly 30 days before) is not, and the sweep counts from `at`, not from today.
    assert _keys.sweep(records, owners, 'opencode-{user}@{host}', 30, at) == ([], [records[0]])


def test_record_view_whole():
    record = rec('k1', '2026-12-01T00:00:00.250Z', key='sk-b1490****abcd', lastUsedAt='2026-12-05T10:00:00Z',
                 expiresAt='2027-01-01T00:00:00Z', maxSessions=3)
    assert _keys.record_view(record, 'opencode-{user}@{host}', 30) == {
        'id': 'k1', 'name': 'opencode-alice@laptop1', 'created_at': '2026-12-01T00:00:00Z',
        'last_used_at': '2026-12-05T10:00:00Z', 'expires_at': '2027-01-01T00:00:00Z', 'expiry_source': 'server',
        'policy': 'max 3 sessions', 'user': 'alice', 'host': 'laptop1'}
    empty = {'id': None, 'name': None, 'created_at': None, 'last_used_at': None, 'expires_at': None,
             'expiry_source': None, 'policy': 'default'}
    assert _keys.record_view('not a record', 'opencode-{user}@{host}', 30) == empty
    assert _keys.record_view({'name': 'opencode-alice@laptop1'}) == dict(empty, name='opencode-alice@laptop1')


@pytest.mark.parametrize('text, micro', [
    ('2026-12-06T02:14:59.5Z', 500000),
    ('2026-12-06T02:14:59.1234567Z', 123456),  # more than microseconds: cut, not refused
    ('2026-12-06T02:14:59.' + '9' * 43 + 'Z', 999999),  # 64 characters: the longest taken
    ('2026-12-06T02:14:59z', 0),
])
def test_parse_time_fractions_and_limits(text, micro):
    stamp = _keys.parse_time(text)
    assert (stamp.second, stamp.microsecond) == (59, micro)
    assert _keys.parse_time('2026-12-06T02:14:59.' + '9' * 44 + 'Z') is None  # 65 characters


def test_times_are_utc_whatever_the_local_zone(monkeypatch):
    import time
    monkeypatch.setenv('TZ', 'America/New_York')
    time.tzset()
    try:
        stamp = _keys.parse_time('2026-12-06T02:14:59+01:00')
        assert stamp.utcoffset() == timedelta(0) and stamp.hour == 1
        assert _keys.fmt(stamp) == '2026-12-06T01:14:59Z'
    finally:
        monkeypatch.undo()  # TZ as it was, then the process's zone from it again
        time.tzset()


@pytest.mark.parametrize('policy, message', [
    (['noLog'], 'key policy must be a mapping of accessSchedule, allowedModels, isActive, maxSessions, noLog'),
    ({'scopes': []}, 'key policy: scopes is not a setting OmniRoute 3.7.9 accepts on a key (use accessSchedule, '
                     'allowedModels, isActive, maxSessions, noLog)'),
    ({'scopes': [], 'name': 'x'}, 'key policy: name, scopes are not a setting OmniRoute 3.7.9 accepts on a key '
                                  '(use accessSchedule, allowedModels, isActive, maxSessions, noLog)'),
    ({'allowedModels': [' ']}, 'key policy allowedModels must be a list of model ids or globs'),
    ({'allowedModels': [5]}, 'key policy allowedModels must be a list of model ids or globs'),
    ({'allowedModels': ['m%d' % i for i in range(1001)]}, 'key policy allowedModels may hold at most 1000 entries'),
    ({'noLog': 'yes'}, 'key policy noLog must be true or false'),
    ({'maxSessions': 10001}, 'key policy maxSessions must be a whole number from 0 (unlimited) to 10000'),
    ({'maxSessions': -1}, 'key policy maxSessions must be a whole number from 0 (unlimited) to 10000'),
])
def test_each_policy_refusal_says_exactly_what_is_wrong(policy, message):
    with pytest.raises(_keys.PolicyError) as caught:
        _keys.check_policy(policy)
    assert str(caught.value) == message


def test_policy_limits_accepted():
    models = ['m%04d' % i for i in range(1000)]
    assert _keys.check_policy({'allowedModels': models, 'maxSessions': 0}) == {'allowedModels': models, 'maxSessions': 0}
    assert _keys.check_policy({'maxSessions': 10000, 'allowedModels': None}) == {'maxSessions': 10000, 'allowedModels': []}
    assert _keys.check_policy({'maxSessions': 1}) == {'maxSessions': 1}


def test_policy_of_odd_listings():
    defaults = {'allowedModels': [], 'noLog': False, 'maxSessions': 0, 'accessSchedule': None, 'isActive': True}
    assert _keys.policy_of(None) == defaults and _keys.expiry(None, 30) == (None, None)
    assert _keys.policy_of({'maxSessions': 1})['maxSessions'] == 1
    assert _keys.policy_of({'accessSchedule': 'weekdays'})['accessSchedule'] is None
    assert _keys.policy_of({'accessSchedule': {'odd': 1}})['accessSchedule'] == {'unreadable': True}
    # A schedule the server holds in a shape we cannot read is corrected even to "no schedule".
    assert _keys.policy_drift({'accessSchedule': {'odd': 1}}, {'accessSchedule': None}) == {'accessSchedule': None}


def test_order_puts_keys_without_a_time_last_and_ties_by_id():
    a = dict(id='a', createdAt='2026-12-01T00:00:00Z')
    b = dict(id='b', createdAt='2026-12-01T00:00:00Z')
    untimed = dict(id='0')
    assert _keys._order([untimed, b, a]) == [a, b, untimed]


def test_classify_parts_are_always_lists():
    cur = rec('cur', '2026-12-02T00:00:00Z', key='sk-b1490****2222')
    assert _keys.classify([cur], 'sk-b1490****2222') == dict(current=cur, older=[], newer=[], ambiguous=[], others=[])
    twin = rec('twin', '2026-12-03T00:00:00Z', key='sk-b1490****2222')
    other = rec('other', '2026-12-01T00:00:00Z', key='sk-b1490****9999')
    assert _keys.classify([twin, other, cur], 'sk-b1490****2222') == dict(
        current=None, older=[], newer=[], ambiguous=[cur, twin], others=[other])


def test_plan_results_exactly():
    cur = rec('cur', '2026-10-01T00:00:00Z', key='sk-b1490****2222')
    lost = rec('lost', '2026-12-03T00:00:00Z', key='sk-b1490****3333')
    gone = dict(cur, revokedAt='2026-12-05T00:00:00Z')
    base = dict(action='keep', current=None, revoke_now=[], replace=[], reasons=[], finishing=False)
    # Nothing said about what is installed (the standalone module).
    assert _keys.plan({}, [], NOW, installed_known=False) == dict(
        base, action='create', reasons=['no key of this name on the server'])
    assert _keys.plan({'rotate': True}, [cur], NOW, ttl_days=70, renew_days=10, installed_known=False) == dict(
        base, action='rotate', current=cur, revoke_now=[cur], reasons=[
            'rotation requested', 'reaches the ttl of 70 days on 2026-12-10T00:00:00Z, within renew_days 10 '
            '(ttl enforced by the role)'])
    assert _keys.plan({}, [cur], NOW, ttl_days=80, renew_days=10, installed_known=False) == dict(base, current=cur)
    # The installed key is known.
    assert _keys.plan({}, [cur, lost], NOW, installed_mask='sk-b1490****2222') == dict(
        base, action='rotate', current=cur, revoke_now=[lost], replace=[cur], reasons=[
            'a rotation is pending: its new key existed only in a run that was cut before installing it, so '
            'that key is revoked and a new one made'])
    assert _keys.plan({}, [gone], NOW, installed_mask='sk-b1490****2222') == dict(
        base, action='rotate', current=gone, replace=[gone], reasons=['the installed key was revoked on the server'])
    twins = [rec('t%d' % i, '2026-12-0%dT00:00:00Z' % i, key='sk-b1490****2222') for i in (1, 2, 3)]
    assert _keys.plan({}, twins + [lost], NOW, installed_mask='sk-b1490****2222') == dict(
        base, action='rotate', current=twins[2], replace=twins, revoke_now=[lost], reasons=[
            "3 keys of this name share the installed key's mask, so which one is installed cannot be told"])
    assert _keys.plan({}, [cur], NOW, installed_mask=None) == dict(
        base, action='create', revoke_now=[cur], reasons=['no key is installed'])
    assert _keys.plan({}, [cur], NOW, installed_mask='sk-b1490****9999') == dict(
        base, action='create', revoke_now=[cur], reasons=['the installed key is not a key of this name on the server'])
