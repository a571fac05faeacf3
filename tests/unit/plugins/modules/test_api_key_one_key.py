# -*- coding: utf-8 -*-
"""api_key with one named key (O(name)): each result whole, field by field, against the offline
OmniRoute fake (3.7.9's answers); and the key lock itself.

test_api_key_offline.py and test_api_key_lifecycle.py prove what each path does; this file pins
what the single-key result says about it, so a field lost, renamed or filled from the wrong place
fails (issue 26: mutation testing of plugins/modules/api_key.py).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import threading
import time
from datetime import timedelta

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _keys, _redact
from ansible_collections.omniroute.opencode.plugins.modules import api_key
from ansible_collections.omniroute.opencode.tests.support.files import raises
from ansible_collections.omniroute.opencode.tests.support.results import warnings_of
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import run_module
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.omniroute_fake import (
    PASSWORD, FakeOmniRoute, mask)

NAME = 'opencode-alice@laptop1'
DUPLICATES = "2 keys are named 'opencode-alice@laptop1' on the server; the newest is managed"


def run(capsys, tmp_path, srv, diff=True, **args):
    args.setdefault('url', srv.url)
    args.setdefault('password', PASSWORD)
    if 'keys' not in args:
        args.setdefault('name', NAME)
    args.setdefault('lock_dir', str(tmp_path))
    rc, res, out = run_module(api_key.main, capsys, args, False, diff)
    assert PASSWORD not in out
    return rc, res, out


def auth_with(key):
    """OpenCode's auth.json holding ``key`` for the omniroute provider."""
    return json.dumps({'omniroute': {'type': 'api', 'key': key}})


def view(rec):
    """What the diff shows of a key of the fake at 3.7.9's defaults."""
    return dict(state='present', id=rec['id'], name=rec['name'], key=mask(rec['key']), expiresAt=None,
                accessSchedule=None, allowedModels=[], isActive=True, maxSessions=0, noLog=False)


def calls(res):
    return [(t['method'], t['path'], t['status']) for t in res['timings']]


def body(res):
    """The result without what varies from run to run (checked apart)."""
    return dict((k, v) for k, v in res.items() if k not in ('invocation', 'elapsed', 'timings', 'key_info', 'warnings'))


def diff(before, after):
    return dict(before=before, after=after, before_header=NAME, after_header=NAME)


LOGIN_AND_LIST = [('POST', '/api/auth/login', 200), ('GET', '/api/keys', 200)]
RESULT = dict(changed=False, created=False, rotated=False, kept=False, revoked=[], replaces=[], policy_changed=False,
              name=NAME, key_state='ok', reasons=[], new_key=False, finished=False)


def test_each_result_of_one_named_key_whole(capsys, tmp_path, server):
    held = []
    real = server.answer

    def answer(method, path, body_, headers):
        # The key's lock is held in lock_dir while the server is asked.
        if path.startswith('/api/keys'):
            held.append([f for f in os.listdir(str(tmp_path)) if f.startswith('omniroute-api-key-')])
        return real(method, path, body_, headers)

    server.answer = answer
    rc, res, out = run(capsys, tmp_path, server)
    (rec,) = server.keys
    assert rc == 0 and body(res) == dict(
        RESULT, changed=True, created=True, new_key=True, reasons=['no key of this name on the server'], id=rec['id'],
        key=rec['key'], key_masked=mask(rec['key']), diff=diff({'state': 'absent'}, view(rec)))
    assert calls(res) == LOGIN_AND_LIST + [('POST', '/api/keys', 201)]
    assert isinstance(res['elapsed'], float) and 0 < res['elapsed'] < 60
    assert res['invocation']['module_args']['name'] == NAME
    assert (res['key_info']['id'], res['key_info']['name'], res['key_info']['expires_at'], res['key_info']['policy']) == (
        rec['id'], NAME, None, 'default')
    assert held == [[os.path.basename(api_key.KeyLock(str(tmp_path), server.url, NAME).path)]] * 2
    assert os.listdir(str(tmp_path)) == []
    assert DUPLICATES not in warnings_of(res)

    # Kept: the key installed in auth.json (no config holds one) is the server's.
    rc, res, out = run(capsys, tmp_path, server, installed_auth=auth_with(rec['key']))
    assert rc == 0 and body(res) == dict(RESULT, kept=True, id=rec['id'], key=rec['key'], key_masked=mask(rec['key']),
                                         diff=diff(view(rec), view(rec)))
    assert calls(res) == LOGIN_AND_LIST + [('GET', '/v1/models', 200)]

    # Nothing said about what is installed: the key is kept as it is, and only its mask is known.
    rc, res, out = run(capsys, tmp_path, server)
    assert rc == 0 and body(res) == dict(RESULT, id=rec['id'], key_masked=mask(rec['key']),
                                         diff=diff(view(rec), view(rec)))
    assert calls(res) == LOGIN_AND_LIST and not [w for w in warnings_of(res) if 'keys are named' in w]

    # Two keys of the name and the installed one known: the other goes, and there is nothing to
    # warn about.
    # (Older than the installed key: a newer one would be a rotation's replacement, to finish.)
    spare = server.add(NAME, createdAt=_keys.fmt(_keys.now() - timedelta(days=2)))
    rc, res, out = run(capsys, tmp_path, server, installed_auth=auth_with(rec['key']), diff=False)
    assert rc == 0 and res['kept'] and res['revoked'] == [spare['id']] and 'diff' not in res
    assert DUPLICATES not in warnings_of(res)
    # Two keys of the name and nothing said about what is installed: a warning names them.
    newer = server.add(NAME, createdAt=_keys.fmt(_keys.now() + timedelta(minutes=1)))
    rc, res, out = run(capsys, tmp_path, server)
    assert rc == 0 and DUPLICATES in warnings_of(res)

    # Absent: every key of the name goes; the result names the first listed, the diff shows the
    # newest (the one managed when nothing says which is installed).
    rc, res, out = run(capsys, tmp_path, server, state='absent')
    assert rc == 0 and body(res) == dict(
        RESULT, changed=True, key_state='revoked', id=rec['id'], revoked=[rec['id'], newer['id']],
        diff=diff(view(newer), {'state': 'absent'}))
    assert calls(res) == LOGIN_AND_LIST + [('DELETE', '/api/keys/' + rec['id'], 200),
                                           ('DELETE', '/api/keys/' + newer['id'], 200)]
    assert server.keys == []


def test_one_named_key_gets_the_scopes_asked_for(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, scopes=['manage'])
    assert rc == 0 and server.keys[0]['scopes'] == ['manage']


def test_a_server_error_quoting_the_new_key_is_scrubbed(capsys, tmp_path, server):
    real = server.answer

    def answer(method, path, body_, headers):
        if method == 'PATCH':
            made = server.keys[-1]['key']
            return 500, {'error': 'cannot set a policy on %s' % made}, None
        return real(method, path, body_, headers)

    server.answer = answer
    rc, res, out = run(capsys, tmp_path, server, policy={'noLog': True})
    made = server.keys[-1]['key']
    assert rc == 1 and 'cannot set a policy on' in res['msg']
    assert made not in res['msg'] and made[8:16] not in res['msg']


def test_an_expiry_refused_names_the_key(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, expires_at='2031-01-31T00:00:00Z')
    assert rc == 1 and res['error_kind'] == 'api' and res['msg'] == (
        'key opencode-alice@laptop1: this OmniRoute server does not accept a key expiry (PATCH expiresAt refused '
        'with HTTP 400); omit expires_at for it (OmniRoute 3.7.9 has no expiry in its key API - use ttl, which the '
        "module then enforces from each key's createdAt)")


def test_the_installed_key_is_read_for_the_provider_named(capsys, tmp_path, server):
    rec = server.add(NAME)
    auth = json.dumps({'gateway': {'type': 'api', 'key': rec['key']}, 'omniroute': {'type': 'api', 'key': 'sk-other-1234567890'}})
    rc, res, out = run(capsys, tmp_path, server, provider='gateway', installed_auth=auth)
    assert rc == 0 and res['kept'] and res['key'] == rec['key'] and not res['changed']


def test_ttl_on_a_server_that_lists_no_key_dates_is_refused_whole(capsys, tmp_path):
    srv = FakeOmniRoute(newer=('no_key_dates',))
    try:
        srv.add(NAME)
        rc, res, out = run(capsys, tmp_path, srv, ttl=30)
        assert rc == 1 and res['error_kind'] == 'refused' and res['msg'] == (
            'this OmniRoute server lists neither expiresAt nor createdAt for opencode-alice@laptop1, so ttl and '
            'renew_days cannot be enforced; nothing was changed (unset ttl and renew_days for it)')
        srv.add('opencode-bob@laptop1')
        rc, res, out = run(capsys, tmp_path, srv, ttl=30, keys=[
            {'name': NAME}, {'name': 'opencode-bob@laptop1'}, {'name': 'opencode-carol@laptop1', 'state': 'absent'}])
        assert rc == 1 and res['msg'].endswith('for opencode-alice@laptop1, opencode-bob@laptop1, so ttl and renew_days '
                                               'cannot be enforced; nothing was changed (unset ttl and renew_days for it)')
        # A key to remove needs no age.
        rc, res, out = run(capsys, tmp_path, srv, ttl=30, keys=[{'name': NAME, 'state': 'absent'}])
        assert rc == 0 and res['changed']
    finally:
        srv.close()


def test_a_wrong_policy_is_refused_with_where_it_is(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, policy={'noLog': 'yes'})
    assert rc == 1 and res['error_kind'] == 'refused' and res['msg'] == 'policy noLog must be true or false'
    rc, res, out = run(capsys, tmp_path, server, keys=[{'name': NAME, 'label': 'alice', 'policy': {'noLog': 'yes'}}])
    assert rc == 1 and res['msg'] == 'key alice: policy noLog must be true or false'


def test_a_policys_allowed_models_win_over_the_allowed_models_option(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, allowed_models=['b/*'],
                       keys=[{'name': NAME, 'policy': {'allowedModels': ['a/*']}}, {'name': 'opencode-bob@laptop1'}])
    assert rc == 0
    assert dict((k['name'], k['allowedModels']) for k in server.keys) == {NAME: ['a/*'], 'opencode-bob@laptop1': ['b/*']}


def test_every_failing_key_is_named_in_the_message(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, keys=[
        {'name': NAME, 'label': 'alice', 'expires_at': '2031-01-31T00:00:00Z'},
        {'name': 'opencode-bob@laptop1', 'label': 'bob', 'expires_at': '2031-01-31T00:00:00Z'}])
    refused = ('this OmniRoute server does not accept a key expiry (PATCH expiresAt refused with HTTP 400); omit '
               "expires_at for it (OmniRoute 3.7.9 has no expiry in its key API - use ttl, which the module then "
               "enforces from each key's createdAt)")
    assert rc == 1 and res['msg'] == 'alice: key alice: %s; bob: key bob: %s' % (refused, refused)
    assert res['error_kind'] == 'api' and res['invocation']['module_args']['keys'][0]['name'] == NAME
    assert [r['failed'] for r in res['results']] == [True, True]


# --------------------------------------------------------------------------- the lock
def test_the_lock_file_is_private(tmp_path):
    with api_key.KeyLock(str(tmp_path), 'http://gateway', NAME) as lock:
        assert stat.S_IMODE(os.stat(lock.path).st_mode) == 0o600 & ~current_umask()


def current_umask():
    mask_ = os.umask(0)
    os.umask(mask_)
    return mask_


def test_a_waiter_whose_lock_file_went_takes_a_new_one(tmp_path):
    """The holder removes the file as it lets go; a waiter that had opened the old file wins a
    lock on a file no longer there, sees that, and locks a new one instead."""
    first = api_key.KeyLock(str(tmp_path), 'http://gateway', NAME).__enter__()
    old = os.fstat(first.fd).st_ino
    second = api_key.KeyLock(str(tmp_path), 'http://gateway', NAME)
    got, errors = [], []

    def wait():
        try:
            with second:
                got.append(os.fstat(second.fd).st_ino == os.stat(second.path).st_ino)
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    deadline = time.monotonic() + 30
    # Let go only once the waiter has the old file open (two descriptors of this process on it).
    while opened(first.path, old) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert opened(first.path, old) == 2
    first.__exit__(None, None, None)
    waiter.join(30)
    assert errors == [] and got == [True] and os.listdir(str(tmp_path)) == []


def opened(path, inode):
    """How many descriptors of this process are open on the file ``inode`` (once at ``path``)."""
    count = 0
    for fd in os.listdir('/proc/self/fd'):
        try:
            st = os.stat('/proc/self/fd/' + fd)
        except OSError:
            continue
        if st.st_ino == inode and os.path.dirname(os.readlink('/proc/self/fd/' + fd)) == os.path.dirname(path):
            count += 1
    return count


# --------------------------------------------------------------------------- options and what is shown
@pytest.mark.parametrize('args, msg', [
    (dict(ttl=0), 'ttl must be a positive number of days, got 0.0'),
    (dict(ttl=-2), 'ttl must be a positive number of days, got -2.0'),
    (dict(renew_days=-1), 'renew_days must not be negative, got -1.0'),
])
def test_ttl_and_renew_days_that_make_no_sense_are_refused(capsys, tmp_path, server, args, msg):
    rc, res, out = run(capsys, tmp_path, server, **args)
    assert rc == 1 and res['error_kind'] == 'refused' and res['msg'] == msg and server.keys == []
    assert res['invocation']['module_args']['url'] == server.url


def test_a_ttl_under_a_day_and_no_renew_days_keep_a_young_key(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, ttl=0.5, renew_days=0)
    assert rc == 0 and res['created']
    # 29.5 days old under a ttl of 30: kept (without renew_days nothing is renewed early).
    aged = server.add('opencode-bob@laptop1', createdAt=_keys.fmt(_keys.now() - timedelta(days=29.5)))
    rc, res, out = run(capsys, tmp_path, server, name='opencode-bob@laptop1', ttl=30, installed_auth=auth_with(aged['key']))
    assert rc == 0 and res['kept'] and not res['changed']


@pytest.mark.parametrize('args, msg', [
    (dict(name=None), 'one of the following is required: name, keys, sweep'),
    (dict(password=None), 'one of the following is required: password, management_key, session'),
    (dict(keys=[{'name': NAME}]), 'parameters are mutually exclusive: name|keys'),
])
def test_what_to_manage_and_how_to_log_in_are_checked(capsys, tmp_path, server, args, msg):
    args = dict(dict(url=server.url, password=PASSWORD, name=NAME, lock_dir=str(tmp_path)), **args)
    rc, res, out = run_module(api_key.main, capsys, dict((k, v) for k, v in args.items() if v is not None))
    assert rc == 1 and res['msg'] == msg and server.calls == []


@pytest.mark.parametrize('option', ['password', 'management_key'])
def test_a_login_secret_that_cannot_go_into_a_header_is_never_sent(capsys, tmp_path, server, option):
    bad = 'pw-with\ta-tab-1234567'
    # (User info in the URL is never shown either.)
    args = dict(url=server.url.replace('http://', 'http://ops:hunter2-9f3a@'), name=NAME, lock_dir=str(tmp_path))
    args[option] = bad
    rc, res, out = run_module(api_key.main, capsys, args)
    assert rc == 1 and res['error_kind'] == 'auth' and server.calls == []
    assert res['msg'].startswith(option + ' ') and res['msg'].endswith('; nothing was sent to ' + server.url)
    assert res['invocation']['module_args']['url'] == server.url and bad not in out and 'pw-with' not in out
    assert 'hunter2' not in out


def test_the_invocation_hides_the_login_secrets_wherever_they_are(capsys, tmp_path, server):
    rc, first, out = run(capsys, tmp_path, server, keys=[], keep_session=True)
    assert rc == 0, first.get('msg')
    session = first['session']
    for option, secret in (('password', PASSWORD), ('session', session)):
        where = tmp_path / ('locks-' + secret.replace('/', '_'))
        where.mkdir()
        args = dict(url=server.url, name=NAME, lock_dir=str(where), records=first['records'])
        args[option] = secret
        rc, res, out = run_module(api_key.main, capsys, args)
        assert rc == 0 and secret not in out and secret[:16] not in out, option
        shown = res['invocation']['module_args']
        assert shown['records'] == '(0 keys)'
        if option == 'session':
            assert shown['session'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


@pytest.mark.parametrize('login, what', [
    ('password', 'the admin password'), ('management_key', 'the management key'), ('session', 'the admin session')])
def test_a_cleartext_login_is_warned_about_and_an_unexpected_error_is_scrubbed(capsys, tmp_path, monkeypatch, login, what):
    secret = {'password': PASSWORD, 'management_key': 'sk-mgmt-0123456789abcdef',
              'session': 'omniroute-session-v1:eyJ2YWx1ZSI6ICJhYmNkZWZnaGlqIn0'}[login]
    part = secret[3:13]

    monkeypatch.setattr(api_key, 'run_one', raises(ValueError('the server said %s went wrong' % part)))
    url = 'http://gateway.example:20128'
    rc, res, out = run_module(api_key.main, capsys, {'url': url, 'name': NAME, 'lock_dir': str(tmp_path), login: secret})
    assert rc == 1 and res['error_kind'] == 'internal' and part not in out
    assert res['msg'] == 'unexpected error while managing the OmniRoute key: ValueError: the server said %s went wrong' % (
        _redact.MASK)
    assert res['invocation']['module_args']['url'] == url
    assert warnings_of(res) == [
        '%s goes to http://gateway.example:20128 over plain http, unencrypted: anyone on the network path can read it; '
        'use https for a gateway that is not on this machine' % what]
