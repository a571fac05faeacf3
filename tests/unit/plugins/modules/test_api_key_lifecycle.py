# -*- coding: utf-8 -*-
"""The key lifecycle of api_key (issue 20) against the offline OmniRoute fake.

The fake answers as OmniRoute 3.7.9 does (omniroute_fake.py); what 3.7.9 cannot show (a server
that stores an expiry, one that lists no dates) is a named mode. make test-omniroute runs the
same lifecycle against the real 3.7.9 (tests/integration/targets/api_key/rotation.yml).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
from datetime import timedelta

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _keys, _redact
from ansible_collections.omniroute.opencode.plugins.modules import api_key
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import run_module
from ansible_collections.omniroute.opencode.tests.support.results import warnings_of
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.omniroute_fake import (
    PASSWORD, FakeOmniRoute, mask)

NAME = 'opencode-alice@laptop1'


@pytest.fixture
def newer():
    made = []

    def make(*modes):
        srv = FakeOmniRoute(newer=modes)
        made.append(srv)
        return srv
    yield make
    for srv in made:
        srv.close()


def run(capsys, tmp_path, srv, check=False, diff=False, **args):
    args.setdefault('url', srv.url)
    if 'session' not in args and 'management_key' not in args:
        args.setdefault('password', PASSWORD)
    args.setdefault('lock_dir', str(tmp_path))
    rc, res, out = run_module(api_key.main, capsys, args, check, diff)
    assert PASSWORD not in out
    for key in srv.issued:  # every key the server gave out, revoked ones too
        assert key not in json.dumps(res.get('results', [])) and key not in json.dumps(res.get('diff', ''))
        # (An installed key handed back in keys_by_label is released from Ansible's masking:
        # the module's own copy of the option must then hold the mask, not the key.)
        assert key not in json.dumps(res.get('invocation', {}))
    return rc, res, out


def session_value(session):
    import base64
    assert session.startswith('omniroute-session-v1:')
    return json.loads(base64.urlsafe_b64decode(session.split(':', 1)[1]))['value']


def ago(days):
    return _keys.fmt(_keys.now() - timedelta(days=days))


def changing(srv):
    return [c for c in srv.calls if c[0] in ('POST', 'PATCH', 'DELETE') and c[1] != '/api/auth/login']


def entry(installed=None, **more):
    return dict(dict(label='alice', name=NAME, installed_key=installed), **more)


def of_name(srv, name=NAME):
    return [k for k in srv.keys if k['name'] == name]


# --------------------------------------------------------------------------- two-phase rotation
def test_rotation_makes_the_new_key_and_keeps_the_old_one_valid_until_it_is_installed(capsys, tmp_path, server):
    old = server.add(NAME, createdAt=ago(3))
    rc, res, out = run(capsys, tmp_path, server, rotate=True, keys=[entry(old['key'])])
    assert rc == 0 and res['changed']
    (r,) = res['results']
    assert r['rotated'] and r['new_key'] and r['replaces'] == [old['id']] and r['revoked'] == []
    assert r['key_state'] == 'rotation pending'
    new_key = res['keys_by_label']['alice']
    assert new_key != old['key'] and len(of_name(server)) == 2
    # Both keys work: nobody is without a key between the phases.
    assert server.by_key(old['key']) and server.by_key(new_key)
    # Phase two, once the new key is installed and verified: only the replaced key goes.
    rc, res2, out = run(capsys, tmp_path, server, diff=True,
                        keys=[dict(label='alice', name=NAME, revoke_ids=r['replaces'])])
    assert rc == 0 and res2['changed'] and res2['results'][0]['revoked'] == [old['id']]
    assert res2['results'][0]['finished'] and not res['results'][0]['finished']
    # Phase two lists nothing: its diff says the key of the name stays and the replaced one goes
    # (before, it showed the key as absent before and after).
    assert res2['diff'] == [{'before': {'state': 'present', 'replaced': [old['id']]},
                             'after': {'state': 'present', 'replaced': []},
                             'before_header': NAME, 'after_header': NAME}]
    assert [k['key'] for k in of_name(server)] == [new_key]
    assert ('GET', '/api/keys') not in server.calls[-3:]  # phase two lists nothing


def test_a_run_cut_after_the_new_key_was_made_is_finished_by_the_next_run(capsys, tmp_path, server):
    """Cut after phase one: the new key's value is lost. The next run revokes it, makes another,
    and never holds more than one spare key of the name."""
    old = server.add(NAME, createdAt=ago(3))
    run(capsys, tmp_path, server, rotate=True, keys=[entry(old['key'])])
    lost = [k for k in of_name(server) if k['id'] != old['id']][0]
    server.calls[:] = []
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(old['key'])])  # rotate no longer asked
    (r,) = res['results']
    assert r['rotated'] and r['revoked'] == [lost['id']] and r['replaces'] == [old['id']]
    assert any('rotation is pending' in why for why in r['reasons'])
    # The lost key went before the new one was made: never two spares at once.
    assert changing(server)[0] == ('DELETE', '/api/keys/' + lost['id'])
    assert changing(server)[1] == ('POST', '/api/keys')
    assert len(of_name(server)) == 2 and server.by_key(old['key'])


def test_a_run_cut_after_the_install_is_finished_without_a_new_key(capsys, tmp_path, server):
    """Cut after phase two: the new key is installed, the old one not revoked yet."""
    old = server.add(NAME, createdAt=ago(3))
    rc, res, out = run(capsys, tmp_path, server, rotate=True, keys=[entry(old['key'])])
    new_key = res['keys_by_label']['alice']
    server.calls[:] = []
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(new_key)])
    (r,) = res['results']
    assert r['kept'] and r['finished'] and not r['new_key'] and r['revoked'] == [old['id']]
    assert r['key_state'] == 'ok' and res['changed'] and res['keys_by_label'] == {'alice': new_key}
    assert changing(server) == [('DELETE', '/api/keys/' + old['id'])]
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(new_key)])
    assert not res['changed'] and res['results'][0]['kept']


def test_the_replacement_carries_the_old_keys_policy_in_one_patch(capsys, tmp_path, server):
    old = server.add(NAME, noLog=True, maxSessions=2, allowedModels=['openai/*'])
    # Check mode's diff already shows the new key with the old key's settings and the wanted ones.
    rc, res, out = run(capsys, tmp_path, server, check=True, diff=True, rotate=True, keys=[entry(old['key'])],
                       policy={'maxSessions': 3})
    after = res['diff'][0]['after']
    assert (after['name'], after['noLog'], after['maxSessions'], after['allowedModels']) == (
        NAME, True, 3, ['openai/*']) and changing(server) == []
    assert res['results'][0]['policy_changed'] and res['results'][0]['key_state'] == 'ok'
    rc, res, out = run(capsys, tmp_path, server, rotate=True, keys=[entry(old['key'])],
                       policy={'maxSessions': 3})
    assert res['results'][0]['policy_changed'] and res['results'][0]['key_state'] == 'rotation pending'
    new = server.by_key(res['keys_by_label']['alice'])
    assert (new['noLog'], new['maxSessions'], new['allowedModels']) == (True, 3, ['openai/*'])
    assert [c for c in changing(server) if c[0] == 'PATCH'] == [('PATCH', '/api/keys/' + new['id'])]


def test_a_new_key_never_shares_the_mask_of_another_key_of_its_name():
    """The next run tells the keys of a name apart by their masks: a clash is made again."""
    values = iter(['sk-b1490c2d-000000-00009999', 'sk-b1490c2d-111111-1111abcd'])
    deleted = []

    class Client(object):
        def create_key(self, name, scopes=None):
            value = next(values)
            return {'id': 'id-' + value[-4:], 'key': value}

        def delete_key(self, key_id):
            deleted.append(key_id)

    other = {'id': 'old', 'key': mask('sk-b1490c2d-999999-99999999')}
    req = api_key.KeyRequest('alice', NAME, 'present', False, None, True, None, None, None, None, False, [])
    rec = api_key.create_new(api_key.Run(Client(), False, None), req, [other])
    assert rec['id'] == 'id-abcd' and deleted == ['id-9999']


def test_a_server_that_keeps_giving_the_same_mask_is_given_up_on_and_nothing_is_left(capsys, tmp_path, server):
    old = server.add(NAME)
    real = server.answer
    made = []

    def answer(method, path, body, headers):
        status, reply, cookie = real(method, path, body, headers)
        if method == 'POST' and path == '/api/keys':
            rec = server.find(reply['id'])
            rec['key'] = reply['key'] = old['key'][:8] + 'clash%06d' % len(made) + old['key'][-4:]
            server.issued.append(rec['key'])
            made.append(rec['id'])
        return status, reply, cookie

    server.answer = answer
    rc, res, out = run(capsys, tmp_path, server, rotate=True, keys=[entry(old['key'])])
    assert rc == 1 and res['error_kind'] == 'api'
    assert res['msg'] == 'alice: key alice: %d new keys in a row had the mask of another key of the name' % (
        api_key.MASK_RETRIES)
    assert len(made) == api_key.MASK_RETRIES and [k['id'] for k in server.keys] == [old['id']]
    # One named key (O(name)): the error's kind is the result's.
    made[:] = []
    rc, res, out = run(capsys, tmp_path, server, name=NAME, rotate=True)
    assert rc == 1 and res['error_kind'] == 'api' and res['msg'].endswith('new keys in a row had the mask of another key of the name')
    assert [k['id'] for k in server.keys] == [old['id']]


def test_ambiguous_masks_rotate_and_replace_every_candidate(capsys, tmp_path, server):
    first = server.add(NAME, createdAt=ago(2))
    second = server.add(NAME, createdAt=ago(1), key=first['key'][:8] + 'x' * 23 + first['key'][-4:])
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(first['key'])])
    (r,) = res['results']
    assert r['rotated'] and sorted(r['replaces']) == sorted([first['id'], second['id']])
    assert 'share the installed key\'s mask' in r['reasons'][0]


# --------------------------------------------------------------------------- expiry and the TTL
def test_ttl_on_379_is_enforced_from_created_at(capsys, tmp_path, server):
    young = server.add('opencode-bob@laptop1', createdAt=ago(1))
    aged = server.add(NAME, createdAt=ago(40))
    rc, res, out = run(capsys, tmp_path, server, ttl=30, renew_days=0,
                       keys=[entry(aged['key']), dict(label='bob', name='opencode-bob@laptop1', installed_key=young['key'])])
    alice, bob = res['results']
    assert bob['kept'] and not bob['changed']
    assert alice['rotated'] and alice['replaces'] == [aged['id']]
    assert 'older than the ttl of 30 days (ttl enforced by the role)' in alice['reasons'][0]
    # 3.7.9 refuses expiresAt (400): the TTL stays the role's, said so in the key's info.
    assert alice['key_info']['expiry_source'] == 'ttl enforced by the role'
    assert alice['key_info']['expires_at'] is not None
    assert server.by_key(res['keys_by_label']['alice'])['expiresAt'] is None


def test_ttl_where_the_server_stores_an_expiry_sets_it_on_each_new_key(capsys, tmp_path, newer):
    srv = newer('expiry')
    rc, res, out = run(capsys, tmp_path, srv, ttl=30, keys=[entry(), dict(label='bob', name='opencode-bob@laptop1')])
    assert rc == 0 and [r['created'] for r in res['results']] == [True, True]
    for r in res['results']:
        assert r['key_info']['expiry_source'] == 'server'
    for rec in srv.keys:
        assert _keys.parse_time(rec['expiresAt']) > _keys.now() + timedelta(days=29)
    assert len([c for c in srv.calls if c[0] == 'PATCH']) == 2


def test_an_expiry_asked_for_is_set_on_the_new_key_where_the_server_stores_one(capsys, tmp_path, newer):
    srv = newer('expiry')
    when = '2031-01-31T00:00:00Z'
    rc, res, out = run(capsys, tmp_path, srv, check=True, diff=True, keys=[entry(expires_at=when)])
    assert rc == 0 and res['diff'][0]['after']['expiresAt'] == when and changing(srv) == []
    rc, res, out = run(capsys, tmp_path, srv, diff=True, keys=[entry(expires_at=when)])
    assert rc == 0 and res['results'][0]['created'] and res['diff'][0]['after']['expiresAt'] == when
    assert _keys.parse_time(srv.keys[0]['expiresAt']) == _keys.parse_time(when)
    assert [c for c in changing(srv) if c[0] == 'PATCH'] == [('PATCH', '/api/keys/%s' % srv.keys[0]['id'])]
    assert res['results'][0]['key_info']['expires_at'] == when
    # The module's expires_at is the default of every entry that gives none.
    rc, res, out = run(capsys, tmp_path, srv, expires_at=when, keys=[dict(label='bob', name='opencode-bob@laptop1')])
    assert rc == 0 and _keys.parse_time(of_name(srv, 'opencode-bob@laptop1')[0]['expiresAt']) == _keys.parse_time(when)


def test_check_mode_shows_a_changed_expiry_of_a_kept_key_and_sends_nothing(capsys, tmp_path, newer):
    srv = newer('expiry')
    rec = srv.add(NAME, expiresAt='2030-01-31T00:00:00Z')
    when = '2031-01-31T00:00:00Z'
    rc, res, out = run(capsys, tmp_path, srv, check=True, diff=True, keys=[entry(rec['key'], expires_at=when)])
    (r,) = res['results']
    assert rc == 0 and r['kept'] and r['policy_changed'] and res['changed']
    assert res['diff'][0]['before']['expiresAt'] == '2030-01-31T00:00:00Z'
    assert res['diff'][0]['after']['expiresAt'] == when
    assert changing(srv) == [] and rec['expiresAt'] == '2030-01-31T00:00:00Z'
    # The same run for real: one PATCH of the expiry.
    rc, res, out = run(capsys, tmp_path, srv, keys=[entry(rec['key'], expires_at=when)])
    assert rc == 0 and changing(srv) == [('PATCH', '/api/keys/%s' % rec['id'])]
    assert _keys.parse_time(rec['expiresAt']) == _keys.parse_time(when)


def test_a_new_key_whose_policy_is_the_servers_default_is_not_patched(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(policy={'noLog': False, 'maxSessions': 0, 'isActive': True})])
    assert rc == 0 and res['results'][0]['created'] and changing(server) == [('POST', '/api/keys')]


def test_an_expiry_refused_for_a_new_key_fails_that_key_with_a_clear_message(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(expires_at='2031-01-31T00:00:00Z')])
    assert rc == 1 and res['error_kind'] == 'api' and 'keys_by_label' not in res
    assert res['msg'] == (
        'alice: key alice: this OmniRoute server does not accept a key expiry (PATCH expiresAt refused with HTTP '
        '400); omit expires_at for it (OmniRoute 3.7.9 has no expiry in its key API - use ttl, which the module '
        "then enforces from each key's createdAt)")


def test_a_key_rotated_for_its_age_is_not_probed_first(capsys, tmp_path, server):
    aged = server.add(NAME, createdAt=ago(40))
    rc, res, out = run(capsys, tmp_path, server, ttl=30, verify_installed=True, keys=[entry(aged['key'])])
    (r,) = res['results']
    assert rc == 0 and r['rotated'] and r['replaces'] == [aged['id']] and len(r['reasons']) == 1
    assert 'older than the ttl of 30 days' in r['reasons'][0], r['reasons']
    assert not [c for c in server.calls if c[1] == '/v1/models']


def test_a_server_error_that_quotes_the_installed_key_is_scrubbed(capsys, tmp_path, server):
    old = server.add(NAME)
    real = server.answer

    def answer(method, path, body, headers):
        if method == 'POST' and path == '/api/keys':
            return 500, {'error': 'cannot replace %s right now' % old['key']}, None
        return real(method, path, body, headers)

    server.answer = answer
    rc, res, out = run(capsys, tmp_path, server, rotate=True, keys=[entry(old['key'])])
    assert rc == 1 and 'cannot replace' in res['msg']
    assert old['key'] not in out and old['key'][:8] not in out.replace(_redact.MASK, '')


def test_ttl_on_379_asks_for_an_expiry_once_per_run(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, ttl=30, keys=[entry(), dict(label='bob', name='opencode-bob@laptop1')])
    assert rc == 0 and len([c for c in server.calls if c[0] == 'PATCH']) == 1


def test_renew_days_rotate_a_key_whose_server_expiry_is_near(capsys, tmp_path, newer):
    srv = newer('expiry')
    soon = srv.add(NAME, expiresAt=_keys.fmt(_keys.now() + timedelta(days=3)))
    later = srv.add('opencode-bob@laptop1', expiresAt=_keys.fmt(_keys.now() + timedelta(days=30)))
    rc, res, out = run(capsys, tmp_path, srv, renew_days=7, keys=[
        entry(soon['key']), dict(label='bob', name='opencode-bob@laptop1', installed_key=later['key'])])
    alice, bob = res['results']
    assert alice['rotated'] and 'within renew_days 7' in alice['reasons'][0] and bob['kept']


def test_check_mode_shows_a_key_within_renew_days_as_expiring(capsys, tmp_path, newer):
    srv = newer('expiry')
    soon = srv.add(NAME, expiresAt=_keys.fmt(_keys.now() + timedelta(days=3)))
    rc, res, out = run(capsys, tmp_path, srv, check=True, renew_days=7, keys=[entry(soon['key'])])
    (r,) = res['results']
    assert r['rotated'] and r['key_state'] == 'expiring' and changing(srv) == []


def test_check_mode_shows_an_expiring_key_and_changes_nothing(capsys, tmp_path, server):
    aged = server.add(NAME, createdAt=ago(40))
    rc, res, out = run(capsys, tmp_path, server, check=True, ttl=30, keys=[entry(aged['key'])])
    (r,) = res['results']
    assert r['rotated'] and r['key_state'] == 'expiring' and r['replaces'] == [aged['id']]
    assert res['keys_by_label'] == {'alice': api_key.CHECK_MODE_KEY}
    assert changing(server) == [] and of_name(server) == [aged]
    # Nothing installed yet: check mode says so; a new key without a policy changes no policy.
    rc, res, out = run(capsys, tmp_path, server, check=True, keys=[dict(label='bob', name='opencode-bob@laptop1')])
    (r,) = res['results']
    assert r['created'] and r['key_state'] == 'not installed' and not r['policy_changed']


def test_a_server_without_key_dates_is_refused_before_any_change(capsys, tmp_path, newer):
    srv = newer('no_key_dates')
    rec = srv.add(NAME)
    rc, res, out = run(capsys, tmp_path, srv, ttl=30, keys=[entry(), entry(rec['key'], label='al2')])
    assert rc == 1 and res['error_kind'] == 'refused'
    assert 'neither expiresAt nor createdAt' in res['msg'] and 'nothing was changed' in res['msg']
    assert changing(srv) == []


# --------------------------------------------------------------------------- policy
def test_policy_drift_is_corrected_with_one_patch_then_nothing(capsys, tmp_path, server):
    rec = server.add(NAME, noLog=False, maxSessions=0)
    policy = {'noLog': True, 'maxSessions': 2, 'isActive': True, 'allowedModels': ['b', 'a'],
              'accessSchedule': {'enabled': True, 'from': '08:00', 'until': '18:00', 'days': [5, 1, 2], 'tz': 'UTC'}}
    rc, res, out = run(capsys, tmp_path, server, diff=True, keys=[entry(rec['key'], policy=policy)])
    (r,) = res['results']
    assert r['policy_changed'] and r['kept'] and res['changed']
    patches = [c for c in server.calls if c[0] == 'PATCH']
    assert patches == [('PATCH', '/api/keys/' + rec['id'])]
    assert (rec['noLog'], rec['maxSessions'], rec['allowedModels']) == (True, 2, ['a', 'b'])
    assert rec['accessSchedule']['days'] == [1, 2, 5]
    assert 'models a, b' in r['key_info']['policy'] and 'max 2 sessions' in r['key_info']['policy']
    server.calls[:] = []
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(rec['key'], policy=policy)])
    assert not res['changed'] and [c for c in server.calls if c[0] == 'PATCH'] == []


def test_module_policy_is_merged_under_each_keys_policy(capsys, tmp_path, server):
    rec = server.add(NAME)
    rc, res, out = run(capsys, tmp_path, server, policy={'noLog': True, 'maxSessions': 4},
                       keys=[entry(rec['key'], policy={'maxSessions': 1})])
    assert (rec['noLog'], rec['maxSessions']) == (True, 1)


@pytest.mark.parametrize('policy, words', [
    ({'expiresAt': 'x'}, 'expiresAt is not a setting OmniRoute 3.7.9 accepts'),
    ({'maxSessions': 10001}, 'maxSessions must be a whole number'),
    ({'maxSessions': True}, 'maxSessions must be a whole number'),
    ({'noLog': 'yes'}, 'noLog must be true or false'),
    ({'accessSchedule': {'enabled': True, 'from': '8:00', 'until': '18:00', 'days': [1], 'tz': 'UTC'}},
     'accessSchedule.from must be a time HH:MM'),
    ({'accessSchedule': {'enabled': True, 'from': '08:00', 'until': '18:00', 'days': [7], 'tz': 'UTC'}},
     'accessSchedule.days'),
    ({'accessSchedule': {'enabled': True}}, 'missing: days, from, tz, until'),
    ({'allowedModels': 'gpt'}, 'allowedModels must be a list'),
])
def test_a_policy_3_7_9_would_refuse_is_refused_before_any_change(capsys, tmp_path, server, policy, words):
    rec = server.add(NAME)
    # bob comes first and needs a key: nothing is made for him either.
    rc, res, out = run(capsys, tmp_path, server, keys=[dict(label='bob', name='opencode-bob@laptop1'),
                                                       entry(rec['key'], policy=policy)])
    assert rc == 1 and words in res['msg'] and 'alice' in res['msg']
    assert changing(server) == []


def test_an_inactive_key_by_policy_is_not_rotated_for_being_refused(capsys, tmp_path, server):
    rec = server.add(NAME, isActive=False)
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(rec['key'], policy={'isActive': False})],
                       verify_installed=True)
    assert res['results'][0]['kept'] and not res['changed']


@pytest.mark.parametrize('server_says, policy', [(False, None), (True, {'isActive': False})],
                         ids=['inactive-on-the-server', 'made-inactive-by-the-policy'])
def test_a_key_inactive_on_the_server_or_by_the_policy_is_never_rotated_for_being_refused(
        capsys, tmp_path, server, server_says, policy):
    # Either one alone is enough; GET /v1/models is not even asked.
    rec = server.add(NAME, isActive=server_says)
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(rec['key'], policy=policy)], verify_installed=True)
    assert rc == 0 and res['results'][0]['kept'] and not res['results'][0]['rotated']
    assert ('GET', '/v1/models') not in server.calls and len(server.keys) == 1


def test_an_installed_key_the_gateway_refuses_is_rotated_and_says_why(capsys, tmp_path, server):
    rec = server.add(NAME)
    # The key was changed on the server since it was installed: the installed one has the mask but not the key.
    installed = rec['key'][:8] + 'x' * (len(rec['key']) - 12) + rec['key'][-4:]
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(installed)], verify_installed=True)
    (r,) = res['results']
    assert rc == 0 and r['rotated'] and r['replaces'] == [rec['id']]
    assert 'the installed key is refused by GET /v1/models' in r['reasons'] and installed not in out


def test_an_installed_key_that_cannot_go_into_a_header_is_rotated_not_sent(capsys, tmp_path, server):
    """A tab inside the installed key (its mask still matches the server's): it is never sent to
    /v1/models; a new key replaces it, and the reason says why without showing the key."""
    old = server.add(NAME, createdAt=ago(1))
    broken = old['key'][:12] + '\t' + old['key'][12:]
    assert mask(broken) == mask(old['key'])
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(broken)], verify_installed=True)
    (r,) = res['results']
    assert rc == 0 and r['rotated'] and r['replaces'] == [old['id']]
    assert r['reasons'] == ['the installed key ' + _redact.key_problem(broken)] and 'control character' in r['reasons'][0]
    assert old['key'] not in out and broken not in out
    assert not [c for c in server.calls if c[1] == '/v1/models']


# --------------------------------------------------------------------------- sweep
def sweep(**more):
    return dict(dict(template='opencode-{user}@{host}', owners=[NAME, 'opencode-bob@laptop1']), **more)


def test_the_sweep_finds_exactly_the_orphans_and_never_other_keys(capsys, tmp_path, server):
    server.add(NAME)
    server.add('opencode-bob@laptop1')
    gone = server.add('opencode-carol@laptop1', createdAt=ago(10))
    retired = server.add('opencode-alice@laptop9')
    server.add('ci-deploy')  # not the role's
    server.add('opencode-alice')  # no host part: not the scheme
    rc, res, out = run(capsys, tmp_path, server, keys=[], sweep=sweep())
    assert rc == 0 and not res['changed']
    names = [o['name'] for o in res['sweep']['orphans']]
    assert names == ['opencode-carol@laptop1', 'opencode-alice@laptop9']
    assert res['sweep']['orphans'][0]['user'] == 'carol' and res['sweep']['orphans'][0]['host'] == 'laptop1'
    assert res['sweep']['revoked'] == [] and changing(server) == []
    rc, res, out = run(capsys, tmp_path, server, check=True, keys=[], sweep=sweep(mode='revoke'))
    assert res['changed'] and sorted(res['sweep']['revoked']) == sorted([gone['id'], retired['id']])
    assert changing(server) == []
    rc, res, out = run(capsys, tmp_path, server, keys=[], sweep=sweep(mode='revoke'))
    assert res['changed'] and sorted(k['name'] for k in server.keys) == sorted(
        [NAME, 'opencode-bob@laptop1', 'ci-deploy', 'opencode-alice'])


def test_a_refused_revoke_sweep_revokes_nothing_and_says_why(capsys, tmp_path, server):
    server.add('opencode-carol@laptop1')
    rc, res, out = run(capsys, tmp_path, server, keys=[],
                       sweep=sweep(mode='revoke', refuse='the run is limited (--limit laptop1)'))
    assert rc == 0 and not res['changed'] and res['sweep']['revoked'] == []
    assert res['sweep']['refused'] == 'the run is limited (--limit laptop1)'
    assert len(res['sweep']['orphans']) == 1 and changing(server) == []
    assert 'the orphan sweep revoked nothing: the run is limited (--limit laptop1)' in warnings_of(res)


def test_a_template_without_user_and_host_sweeps_nothing(capsys, tmp_path, server):
    server.add('opencode-shared')
    rc, res, out = run(capsys, tmp_path, server, keys=[], sweep=sweep(template='opencode-shared', mode='revoke'))
    assert res['sweep']['refused'] == (
        "the key name template 'opencode-shared' does not contain both {user} and {host}, so the role's keys "
        "cannot be told from other keys; nothing is swept") and changing(server) == []


def test_unused_keys_are_listed(capsys, tmp_path, server):
    server.add(NAME, createdAt=ago(90), lastUsedAt=ago(60))
    server.add('opencode-bob@laptop1', createdAt=ago(90), lastUsedAt=ago(1))
    server.add('opencode-dave@laptop2', createdAt=ago(45))  # never used
    rc, res, out = run(capsys, tmp_path, server, keys=[], sweep=sweep(unused_days=30))
    assert [u['name'] for u in res['sweep']['unused']] == [NAME, 'opencode-dave@laptop2']
    assert (res['sweep']['unused'][0]['user'], res['sweep']['unused'][0]['host']) == ('alice', 'laptop1')
    assert ('2 key(s) of the scheme opencode-{user}@{host} unused for 30 days or more: %s, opencode-dave@laptop2'
            % NAME) in warnings_of(res)


def test_the_sweep_result_is_every_documented_field(capsys, tmp_path, server):
    gone = server.add('opencode-carol@laptop1', createdAt=ago(10))
    view = [_keys.record_view(gone, 'opencode-{user}@{host}')]
    assert (view[0]['user'], view[0]['host']) == ('carol', 'laptop1')
    rc, res, out = run(capsys, tmp_path, server, keys=[], sweep=sweep())
    assert res['sweep'] == dict(mode='report', template='opencode-{user}@{host}', orphans=view, revoked=[],
                                refused=None, unused=[], check=False)
    rc, res, out = run(capsys, tmp_path, server, check=True, keys=[], sweep=sweep(mode='revoke'))
    assert res['sweep'] == dict(mode='revoke', template='opencode-{user}@{host}', orphans=view,
                                revoked=[gone['id']], refused=None, unused=[], check=True)
    rc, res, out = run(capsys, tmp_path, server, keys=[], sweep=sweep(template='opencode-shared', mode='revoke'))
    assert dict(res['sweep'], refused=None) == dict(mode='revoke', template='opencode-shared', orphans=[], revoked=[],
                                                    refused=None, unused=[], check=False)


def test_a_reason_to_refuse_is_reported_whether_or_not_there_was_anything_to_revoke(capsys, tmp_path, server):
    why = 'the run is limited (--limit laptop1)'
    rc, res, out = run(capsys, tmp_path, server, keys=[], sweep=sweep(mode='revoke', refuse=why))
    assert res['sweep']['orphans'] == [] and res['sweep']['refused'] == why
    server.add('opencode-carol@laptop1')
    rc, res, out = run(capsys, tmp_path, server, keys=[], sweep=sweep(refuse=why))
    assert res['sweep']['mode'] == 'report' and len(res['sweep']['orphans']) == 1 and res['sweep']['refused'] == why
    assert changing(server) == []


def test_the_listing_handed_on_after_a_revoke_sweep_has_no_revoked_key(capsys, tmp_path, server):
    server.add(NAME)
    server.add('opencode-carol@laptop1')
    for check in (True, False):
        rc, res, out = run(capsys, tmp_path, server, check=check, keys=[], keep_session=True, sweep=sweep(mode='revoke'))
        assert rc == 0 and len(res['sweep']['revoked']) == 1
        assert [r['name'] for r in res['records']] == [NAME]


def test_a_revoke_sweep_holds_each_orphans_lock_while_it_revokes_it(capsys, tmp_path, server):
    gone = server.add('opencode-carol@laptop1')
    held = []
    real = server.answer

    def answer(method, path, body, headers):
        if method == 'DELETE':
            held.extend(held_locks(str(tmp_path), server, [server.find(path.rsplit('/', 1)[1])['name']]))
        return real(method, path, body, headers)

    server.answer = answer
    rc, res, out = run(capsys, tmp_path, server, keys=[], sweep=sweep(mode='revoke'))
    assert rc == 0 and res['sweep']['revoked'] == [gone['id']]
    assert held == ['opencode-carol@laptop1'] and os.listdir(str(tmp_path)) == []


# --------------------------------------------------------------------------- one login per run
def test_one_login_and_one_listing_serve_every_later_call(capsys, tmp_path, server):
    rec = server.add(NAME)
    rc, first, out = run(capsys, tmp_path, server, keys=[], keep_session=True)
    assert first['session'] and first['records'][0]['key'] == mask(rec['key'])
    token = session_value(first['session'])
    assert token and token not in json.dumps(first.get('invocation'))
    server.calls[:] = []
    rc, res, out = run(capsys, tmp_path, server, session=first['session'], records=first['records'], verify_installed=False,
                       keys=[entry(rec['key']), dict(label='bob', name='opencode-bob@laptop1')])
    assert rc == 0 and [r['created'] for r in res['results']] == [False, True]
    assert server.calls == [('POST', '/api/keys')]  # no login, no listing: one call per change
    assert token not in out


def test_the_listing_handed_on_keeps_the_servers_masks_with_a_management_key(capsys, tmp_path, newer):
    """Every key of a server starts with sk-<machineId>-, the management key too: the listing
    handed on must keep the masks (a scrub of the login secrets would blank them all)."""
    srv = newer('management_keys')
    mgmt = srv.add('fleet-automation', scopes=['manage'])['key']
    rec = srv.add(NAME)
    rc, first, out = run(capsys, tmp_path, srv, management_key=mgmt, keys=[], keep_session=True)
    assert rc == 0 and mask(rec['key']) in [r['key'] for r in first['records']] and mgmt not in out
    rc, res, out = run(capsys, tmp_path, srv, management_key=mgmt, records=first['records'],
                       verify_installed=False, keys=[entry(rec['key'])])
    assert rc == 0 and res['results'][0]['kept'] and not res['changed'] and mgmt not in out


def test_a_session_the_server_no_longer_takes_is_replaced_by_one_login(capsys, tmp_path, server):
    rc, first, out = run(capsys, tmp_path, server, keys=[], keep_session=True)
    server.sessions.clear()
    server.calls[:] = []
    rc, res, out = run(capsys, tmp_path, server, session=first['session'], keys=[entry()])
    assert rc == 1 and res['error_kind'] == 'auth' and server.keys == []  # no password to log in with
    server.calls[:] = []
    rc, res, out = run(capsys, tmp_path, server, session=first['session'], password=PASSWORD, keys=[entry()])
    assert rc == 0 and res['results'][0]['created']
    assert [c for c in server.calls if c[1] == '/api/auth/login'] == [('POST', '/api/auth/login')]


def test_a_session_that_is_not_one_is_refused_without_showing_it(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, session='not-a-session-77aa', keys=[entry()])
    assert rc == 1 and res['error_kind'] == 'auth' and 'not-a-session-77aa' not in out


def test_a_session_whose_cookie_cannot_go_into_a_header_is_refused_before_any_call(capsys, tmp_path, server):
    import base64
    forged = 'omniroute-session-v1:' + base64.urlsafe_b64encode(
        json.dumps({'value': 'abc\r\nX-Evil: 1'}).encode('utf-8')).decode('ascii')
    rc, res, out = run(capsys, tmp_path, server, session=forged, keys=[entry()])
    assert rc == 1 and res['error_kind'] == 'auth' and 'X-Evil' not in out and forged not in out
    assert server.calls == []


# --------------------------------------------------------------------------- standalone and locks
def test_without_installed_files_an_existing_key_is_kept_as_it_is(capsys, tmp_path, server):
    """The documented standalone example: run twice, nothing rotates (issue 25, Wrong 6)."""
    rc, res, out = run(capsys, tmp_path, server, name=NAME, policy={'allowedModels': ['openai/gpt-4o*']})
    assert res['created'] and res['key'] and res['changed']
    rc, res2, out = run(capsys, tmp_path, server, name=NAME, policy={'allowedModels': ['openai/gpt-4o*']})
    assert not res2['changed'] and not res2['rotated'] and 'key' not in res2 and res2['id'] == res['id']
    assert len(server.keys) == 1


def held_locks(lock_dir, srv, names):
    """Which of ``names`` have their key lock (in ``lock_dir``) held by someone right now."""
    import errno
    import fcntl
    held = []
    for name in names:
        lock = api_key.KeyLock(lock_dir, srv.url, name).path
        if not os.path.exists(lock):
            continue
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            assert exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
            held.append(name)
        finally:
            os.close(fd)
    return held


def test_every_key_of_a_run_is_locked_while_the_server_is_asked(capsys, tmp_path, server):
    names = [NAME, 'opencode-bob@laptop1']
    seen = []
    real = server.answer

    def answer(method, path, body, headers):
        if path.startswith('/api/keys'):
            seen.append((method, held_locks(str(tmp_path), server, names)))
        return real(method, path, body, headers)

    server.answer = answer
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(), dict(label='bob', name=names[1])])
    assert rc == 0 and seen == [('GET', names), ('POST', names), ('POST', names)]


def test_a_key_that_fails_does_not_stop_the_others(capsys, tmp_path, server):
    real = server.answer

    def answer(method, path, body, headers):
        if method == 'POST' and path == '/api/keys' and (body or {}).get('name') == 'opencode-bob@laptop1':
            # (A server that echoes what it was sent: the login password never reaches the result.)
            return 500, {'error': {'message': 'database is busy (login %s)' % PASSWORD}}, None
        return real(method, path, body, headers)

    server.answer = answer
    keys = [entry(), dict(label='bob', name='opencode-bob@laptop1'), dict(label='carol', name='opencode-carol@laptop1')]
    rc, res, out = run(capsys, tmp_path, server, keys=keys)
    assert rc == 1 and res['failed'] and 'keys_by_label' not in res
    assert [(r['label'], r['created'], r.get('failed', False)) for r in res['results']] == [
        ('alice', True, False), ('bob', False, True), ('carol', True, False)]
    bob = res['results'][1]
    assert bob['msg'] and bob['msg'] in res['msg'] and res['msg'].startswith('bob: ')
    # A failed key's entry has every field of the others, and says nothing was done.
    assert set(bob) == (set(res['results'][0]) | {'failed', 'msg'}) - {'id', 'key_info', 'key_masked'}
    assert dict((k, v) for k, v in bob.items() if k not in ('msg', 'elapsed')) == dict(
        label='bob', user='bob', state='present', name='opencode-bob@laptop1', failed=True, changed=False,
        created=False, rotated=False, kept=False, revoked=[], replaces=[], policy_changed=False, key_state='ok',
        reasons=[], new_key=False, finished=False)
    # A key made where none was replaced is in use at once; nothing waits for a second phase.
    assert [r['key_state'] for r in res['results']] == ['ok', 'ok', 'ok']
    assert sorted(k['name'] for k in server.keys) == [NAME, 'opencode-carol@laptop1']


@pytest.mark.parametrize('kind', ['unreachable', 'auth'])
def test_a_server_gone_or_a_login_lost_in_the_middle_stops_the_run(capsys, tmp_path, server, kind):
    # Unlike one key's failure, these are the whole run's: the keys after bob are not tried.
    from ansible_collections.omniroute.opencode.tests.support.http_server import Raw
    route = server.server.default

    def bob_breaks(req):
        if req.method == 'POST' and b'opencode-bob@laptop1' in (req.body or b''):
            if kind == 'unreachable':
                return Raw(b'', reset=True)
            return route(req._replace(headers={}))  # no session: 401
        return route(req)

    server.server.default = bob_breaks
    keys = [entry(), dict(label='bob', name='opencode-bob@laptop1'), dict(label='carol', name='opencode-carol@laptop1')]
    rc, res, out = run(capsys, tmp_path, server, keys=keys)
    assert rc == 1 and res['error_kind'] == kind and 'results' not in res
    assert [k['name'] for k in server.keys] == [NAME]


def test_texts_the_server_sends_back_are_scrubbed_of_the_login_password_and_controls(capsys, tmp_path, server):
    # A key's policy as the server lists it comes back in key_info and the diff: a server may put
    # anything there, the login password or terminal escapes included.
    rec = server.add(NAME, allowedModels=['openai/%s' % PASSWORD, 'x/\x1b[31mred'])
    rc, res, out = run(capsys, tmp_path, server, diff=True, verify_installed=False, keys=[entry(rec['key'])])
    assert rc == 0 and res['results'][0]['kept'] and 'openai/' in res['results'][0]['key_info']['policy']
    assert PASSWORD not in out and '\x1b' not in json.loads(out).__repr__() and '\\u001b' not in out


def test_diff_mode_shows_each_key_under_its_name(capsys, tmp_path, server):
    old = server.add('opencode-bob@laptop1')
    rc, res, out = run(capsys, tmp_path, server, diff=True,
                       keys=[entry(), dict(label='bob', name='opencode-bob@laptop1', state='absent')])
    assert rc == 0 and len(res['diff']) == 2
    alice, bob = res['diff']
    assert sorted(alice) == ['after', 'after_header', 'before', 'before_header']
    assert (alice['before_header'], alice['after_header'], bob['before_header'], bob['after_header']) == (
        NAME, NAME, 'opencode-bob@laptop1', 'opencode-bob@laptop1')
    assert alice['before'] == {'state': 'absent'} and '*' in alice['after']['key']
    assert bob['before']['id'] == old['id'] and bob['after'] == {'state': 'absent'}
    assert (bob['before']['name'], bob['before']['key'], bob['before']['state']) == (
        'opencode-bob@laptop1', mask(old['key']), 'present') and 'expiresAt' in bob['before']
    # The server's mask of the old key may show; the key never.
    assert old['key'] not in out


def test_the_diff_shows_the_installed_key_before_when_the_name_has_several(capsys, tmp_path, server):
    installed = server.add(NAME, createdAt=ago(3))
    server.add(NAME, createdAt=ago(1))
    for check in (True, False):
        rc, res, out = run(capsys, tmp_path, server, check=check, diff=True, verify_installed=False,
                           keys=[entry(installed['key'])])
        assert rc == 0 and res['diff'][0]['before']['id'] == installed['id']
        assert res['diff'][0]['before']['key'] == mask(installed['key'])


def test_a_listing_that_shows_whole_keys_never_puts_them_in_a_result_or_diff(capsys, tmp_path, server):
    # A server that lists keys unmasked, or with more than its mask around the stars: run()
    # greps results and diffs for every key the server holds.
    alice = server.add(NAME)
    bob = server.add('opencode-bob@laptop1')
    shown = {alice['id']: alice['key'], bob['id']: bob['key'][:10] + '****' + bob['key'][10:]}
    real = server.masked
    server.masked = lambda rec: dict(real(rec), key=shown.get(rec['id'], real(rec)['key']))
    for check in (True, False):
        rc, res, out = run(capsys, tmp_path, server, check=check, diff=True, verify_installed=False,
                           keys=[entry(alice['key']), dict(label='bob', name='opencode-bob@laptop1', state='absent')])
        assert rc == 0 and [d['before'].get('key') for d in res['diff']] == [None, None]


def test_check_mode_hands_on_a_stand_in_only_for_a_key_it_would_make(capsys, tmp_path, server):
    rec = server.add(NAME)
    rc, res, out = run(capsys, tmp_path, server, check=True, verify_installed=False,
                       keys=[entry(rec['key']), dict(label='bob', name='opencode-bob@laptop1')])
    assert rc == 0 and res['changed'] and changing(server) == []
    assert res['keys_by_label'] == {'alice': rec['key'], 'bob': api_key.CHECK_MODE_KEY}
    # A key to remove: nothing to hand on.
    rc, res, out = run(capsys, tmp_path, server, check=True, keys=[entry(state='absent')])
    assert res['keys_by_label'] == {} and res['changed'] and changing(server) == []


def test_the_invocation_shows_an_installed_key_as_a_mask(capsys, tmp_path, server):
    rec = server.add(NAME)
    rc, res, out = run(capsys, tmp_path, server, verify_installed=False, keys=[entry(rec['key'])])
    assert rc == 0 and res['keys_by_label'] == {'alice': rec['key']}
    assert res['invocation']['module_args']['keys'][0]['installed_key'] == '********'


def test_a_key_to_remove_is_removed_whatever_its_policy_says(capsys, tmp_path, server):
    # A policy only matters for a key that stays: a wrong one does not hold up a removal.
    rec = server.add(NAME)
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(state='absent', policy={'noLog': 'yes'})])
    assert rc == 0, res.get('msg')
    assert res['changed'] and res['results'][0]['revoked'] == [rec['id']] and of_name(server) == []


def test_the_run_reports_each_call_it_made_and_how_long_it_took(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, keys=[entry()])
    assert [(t['method'], t['path'], t['status']) for t in res['timings']] == [
        ('POST', '/api/auth/login', 200), ('GET', '/api/keys', 200), ('POST', '/api/keys', 201)]
    assert all(isinstance(t['seconds'], float) and 0 <= t['seconds'] < 60 for t in res['timings'])
    # (A plain-http server is warned about.)
    assert set(res) - {'invocation', 'warnings'} == {'changed', 'elapsed', 'keys_by_label', 'results', 'timings'}


def test_each_entry_of_keys_overrides_the_modules_defaults(capsys, tmp_path, server):
    kept = server.add('opencode-bob@laptop1')
    rc, res, out = run(capsys, tmp_path, server, allowed_models=['openai/*'], rotate=False, scopes=['manage'],
                       keys=[dict(name=NAME, allowed_models=['anthropic/*']),
                             dict(label='bob', name='opencode-bob@laptop1', installed_key=kept['key'], rotate=True,
                                  allowed_models=[]),
                             dict(label='carol', name='opencode-carol@laptop1')])
    assert rc == 0, res.get('msg')
    # No label: the key's name is its label.
    assert [r['label'] for r in res['results']] == [NAME, 'bob', 'carol']
    assert [(r['label'], r['user'], r['state']) for r in res['results']] == [
        (NAME, NAME, 'present'), ('bob', 'bob', 'present'), ('carol', 'carol', 'present')]
    assert all(isinstance(r['elapsed'], float) and 0 <= r['elapsed'] < 60 for r in res['results'])
    policies = dict((k['name'], k['allowedModels']) for k in server.keys)
    assert policies[NAME] == ['anthropic/*'] and policies['opencode-carol@laptop1'] == ['openai/*']
    # bob's own rotate and empty allowed_models (every model) beat the module's.
    assert res['results'][1]['rotated'] and res['results'][1]['replaces'] == [kept['id']]
    assert [k['allowedModels'] for k in of_name(server, 'opencode-bob@laptop1') if k['id'] != kept['id']] == [[]]
    # The module's scopes go to every key it makes.
    assert all(k['scopes'] == ['manage'] for k in server.keys if k['id'] != kept['id'])


def test_a_lock_that_cannot_be_taken_releases_those_already_taken(capsys, tmp_path, server):
    # bob's lock file cannot be opened (a directory is in its place); alice's, taken first, goes.
    blocked = api_key.KeyLock(str(tmp_path), server.url, 'opencode-bob@laptop1').path
    os.mkdir(blocked)
    rc, res, out = run(capsys, tmp_path, server, keys=[entry(), dict(label='bob', name='opencode-bob@laptop1')])
    assert rc == 1 and changing(server) == [] and os.listdir(str(tmp_path)) == [os.path.basename(blocked)]
    assert res['error_kind'] == 'internal' and 'IsADirectoryError' in res['msg'] and blocked in res['msg']


def test_lock_files_are_removed_after_the_run(capsys, tmp_path, server):
    run(capsys, tmp_path, server, name=NAME)
    run(capsys, tmp_path, server, keys=[entry(), dict(label='bob', name='opencode-bob@laptop1', state='absent')])
    assert os.listdir(str(tmp_path)) == []
