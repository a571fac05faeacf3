# -*- coding: utf-8 -*-
"""The role's key lifecycle filters (plugins/filter/key_lifecycle.py): the sweep's inventory,
the two-phase rotation's probe, install and finish lists, and the per-host key report."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.omniroute.opencode.plugins.filter import key_lifecycle as kl

KEY_A = 'sk-new-aaaa-0001'
KEY_B = 'sk-new-bbbb-0002'
OLD_A = 'sk-old-aaaa-0003'
CHECK = 'check-mode-key-to-be-created'


class Broken(object):
    """Stands for a host whose variables cannot be templated."""

    def __getitem__(self, name):
        raise RuntimeError('undefined variable vault_users (contains sk-not-shown)')


def test_key_sweep_reads_the_whole_inventory():
    hostvars = {
        'laptop1': {'opencode_users': [{'name': 'alice'}, {'name': 'bob', 'state': 'absent'}]},
        'laptop2': {'opencode_users': [{'name': 'carol'}], 'opencode_omniroute_key_name': 'oc-{user}@{host}'},
        'db1': {},  # not a laptop: no developers, not in the play
    }
    out = kl.key_sweep(hostvars, ['laptop1', 'laptop2', 'db1'], ['laptop1'], 'opencode-{user}@{host}', 'revoke')
    assert out == dict(mode='revoke', template='opencode-{user}@{host}', refuse=None,
                       owners=['oc-carol@laptop2', 'opencode-alice@laptop1'])


def test_key_sweep_refuses_under_limit_and_with_an_unreadable_host():
    hostvars = {'laptop1': {'opencode_users': [{'name': 'alice'}]}, 'laptop2': Broken(), 'laptop3': {}}
    out = kl.key_sweep(hostvars, ['laptop1', 'laptop2', 'laptop3'], ['laptop1', 'laptop3'],
                       'opencode-{user}@{host}', 'revoke', limit='laptop1,laptop3', unused_days=30)
    assert out['owners'] == ['opencode-alice@laptop1'] and out['unused_days'] == 30.0
    assert 'the run is limited (--limit laptop1,laptop3)' in out['refuse']
    assert 'the developer list (opencode_users) of laptop2 could not be read: RuntimeError' in out['refuse']
    assert 'sk-not-shown' not in out['refuse']
    assert 'laptop3 runs the role, but its opencode_users is not an inventory variable' in out['refuse']
    bad = kl.key_sweep({'h': {'opencode_users': 'alice'}, 'g': {'opencode_users': '{{ nope }}'},
                        'k': {'opencode_users': {'name': 'x'}}}, ['h', 'g', 'k'], [], 't-{user}@{host}')
    assert 'of h could not be read: it is text, not a list' in bad['refuse']
    assert 'of g could not be read: it is text that cannot be templated, not a list' in bad['refuse']
    assert 'of k could not be read: it is a dict, not a list' in bad['refuse']

    class Marker(object):
        pass
    Marker.__name__ = 'UndefinedMarker'  # what ansible-core 2.19 hands back for an undefined variable
    marked = kl.key_sweep({'h': {'opencode_users': Marker()}}, ['h'], [], 't-{user}@{host}')
    assert 'it cannot be templated' in marked['refuse']


def phase1(check=False):
    results = [
        dict(label='alice', name='opencode-alice@l1', state='present', new_key=True, rotated=True,
             replaces=['old-a'], key_state='rotation pending', changed=True, id='new-a',
             key_info=dict(created_at='2026-12-06T00:00:00Z', policy='default')),
        dict(label='bob', name='opencode-bob@l1', state='present', new_key=True, created=True, replaces=[],
             key_state='ok', changed=True, id='new-b'),
        dict(label='carol', name='opencode-carol@l1', state='present', kept=True, replaces=[], key_state='ok'),
        dict(label='dave', name='opencode-dave@l1', state='absent', revoked=['d1'], key_state='revoked'),
    ]
    keys = {'alice': CHECK if check else KEY_A, 'bob': CHECK if check else KEY_B, 'carol': 'sk-kept-cccc'}
    return dict(results=results, keys_by_label=keys)


REQUESTS = dict(key_requests=[
    dict(label='alice', name='opencode-alice@l1', installed_key=OLD_A),
    dict(label='bob', name='opencode-bob@l1', installed_key=None),
    dict(label='carol', name='opencode-carol@l1', installed_key='sk-kept-cccc'),
])


def probes(status=200, data=True):
    # As the role registers the users run with probe_keys (its outcome from _gateway.probe_new_key).
    ok = status == 200 and data
    why = None if ok else 'the gateway refused the new key from the laptop (HTTP %s)' % status if status == 401 \
        else 'the gateway answered without a model list'
    return dict(changed=False, probes=dict(alice=dict(url='http://gw:1/v1/models', ok=ok, status=status, why=why)))


def users(alice=None, failed=False):
    return dict(failed=failed, users=dict(alice=alice or dict(changed=True, verify=dict(key_accepted=True)),
                                          bob=dict(changed=True), carol=dict(changed=False)))


def test_only_a_new_key_that_replaces_an_installed_one_is_probed_from_the_laptop():
    probe = kl.keys_to_probe(phase1(), REQUESTS, [{'name': 'alice', 'base_url': 'http://gw:1/v1/v1'}], 'http://x/v1')
    assert probe == [dict(label='alice', key=KEY_A, base_url='http://gw:1/v1/v1')]
    assert kl.keys_to_probe(phase1(check=True), REQUESTS, [], 'http://x/v1') == []


def test_a_refused_new_key_leaves_the_old_one_installed():
    assert kl.keys_to_install(phase1(), REQUESTS, probes())['alice'] == KEY_A
    # Refused, no model list, not asked (skipped: nothing to probe), the probe run failed or the
    # laptop was lost: the old key stays.
    lost = dict(probes(), unreachable=True)
    failed = dict(probes(), failed=True)
    for refused in (probes(401), probes(200, data=False), dict(skipped=True), {}, lost, failed, None):
        keys = kl.keys_to_install(phase1(), REQUESTS, refused)
        assert keys == {'alice': OLD_A, 'bob': KEY_B, 'carol': 'sk-kept-cccc'}
    assert kl.keys_to_install(phase1(check=True), REQUESTS, {})['alice'] == CHECK


def test_old_keys_go_only_after_the_install_and_verify():
    done = [dict(label='alice', name='opencode-alice@l1', revoke_ids=['old-a'])]
    assert kl.keys_to_finish(phase1(), probes(), users()) == done
    assert kl.keys_to_finish(phase1(), probes(401), users()) == []
    assert kl.keys_to_finish(phase1(), probes(), users(failed=True)) == []
    assert kl.keys_to_finish(phase1(), probes(), users(dict(changed=True, verify=dict(key_accepted=False)))) == []
    assert kl.keys_to_finish(phase1(), probes(), {}) == []
    assert kl.keys_to_finish(phase1(), probes(), users(), check=True) == []


def test_key_report_states():
    finished = dict(results=[dict(label='alice', revoked=['old-a'])])
    report = dict((e['user'], e) for e in kl.key_report(phase1(), probes(), users(), finished))
    assert report['alice']['key_state'] == 'ok' and report['alice']['revoked'] == ['old-a']
    assert report['alice']['action'] == 'rotated' and report['alice']['created_at'] == '2026-12-06T00:00:00Z'
    assert report['bob']['key_state'] == 'ok' and report['dave']['key_state'] == 'revoked'
    assert report['dave']['action'] == 'revoked' and report['carol']['action'] == 'kept'
    pending = dict((e['user'], e) for e in kl.key_report(phase1(), probes(401), users()))
    assert pending['alice']['key_state'] == 'rotation pending'
    assert 'refused the new key from the laptop (HTTP 401)' in pending['alice']['cause']
    cut = dict((e['user'], e) for e in kl.key_report(phase1(), {}))
    assert cut['alice']['key_state'] == 'rotation pending' and 'run ended' in cut['alice']['cause']
    broke = dict((e['user'], e) for e in kl.key_report(phase1(), probes(), users(), dict(failed=True, msg='HTTP 500')))
    assert 'revoking the old one failed: HTTP 500' in broke['alice']['cause']
    unwritten = dict((e['user'], e) for e in kl.key_report(phase1(), probes(), users(failed=True)))
    assert unwritten['bob']['key_state'] == 'not installed'
    for entry in kl.key_report(phase1(), probes(), users(), finished):
        assert 'sk-' not in repr(entry)


def test_key_records_keeps_the_hosts_own_keys():
    records = [dict(name='opencode-alice@l1', id='1'), dict(name='opencode-alice@l2', id='2'), 'x']
    assert kl.key_records(records, REQUESTS) == [records[0]]
