# -*- coding: utf-8 -*-
"""The users module's rules about users, in _users.py, as plain functions: who needs a key given
to the module, what key_source=user refuses, the one message per host, and the dumpable flag
where there is no C library. Every message is compared whole."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _users


def user(name='alice', state='present', store='config', **entry):
    account = _users.Account(name, True, os.geteuid(), os.getegid(), '/home/' + name, '/bin/sh')
    return _users.User(name, state, store, dict(entry, name=name), account)


@pytest.mark.parametrize('state, store, key_source, needs', [
    ('present', 'config', 'given', True),
    ('present', 'auth', 'given', True),
    ('present', 'env', 'given', False),
    ('absent', 'config', 'given', False),
    ('absent', 'auth', 'given', False),
    ('present', 'config', 'user', True),
    ('present', 'auth', 'user', False),
    ('present', 'env', 'user', False),
    ('absent', 'auth', 'user', False),
])
def test_who_needs_a_key_given_to_the_module(state, store, key_source, needs):
    assert _users.needs_literal_key(user(state=state, store=store), key_source) is needs


def test_the_default_key_source_is_given():
    assert _users.needs_literal_key(user(store='auth')) is True


def test_key_source_user_refuses_config_and_a_given_key_for_present_users_only():
    users = [
        user('alice', store='config'),
        user('bob', store='auth', api_key='sk-given'),
        user('carol', store='auth'),
        user('dave', store='env', api_key=''),
        user('erin', state='absent', store='config', api_key='sk-gone'),
        user('frank', store='config'),
    ]
    want = [
        "user 'alice': key_source user keeps the developer's own key in auth.json; use key_store auth "
        "(or env), not config",
        "user 'bob': api_key is given but key_source is user (the developer provides the key); remove one of them",
        "user 'frank': key_source user keeps the developer's own key in auth.json; use key_store auth "
        "(or env), not config",
    ]
    assert _users.source_problems(users) == want
    # (key_problems hands key_source=user to the same rules.)
    assert _users.key_problems(users, {}, key_source='user') == want


def test_an_absent_user_before_others_does_not_end_the_checks():
    users = [user('erin', state='absent'), user('bob', store='auth', api_key='sk-given')]
    assert _users.source_problems(users) == [
        "user 'bob': api_key is given but key_source is user (the developer provides the key); remove one of them"]


def test_one_message_for_every_problem_on_a_host():
    assert _users.report('laptop1', ['first', 'second']) == (
        'host laptop1: first; second; nothing was changed on laptop1')
    assert _users.report('laptop1', ['only']) == 'host laptop1: only; nothing was changed on laptop1'


def test_without_a_c_library_nothing_is_asked_of_it(monkeypatch):
    # _libc() found no usable C library: the dumpable flag is unknown (None), and making the
    # process not dumpable is reported as not done, without calling anything. (In a child: the
    # core size limit it lowers cannot be raised again in the test process.)
    monkeypatch.setattr(_users, '_LIBC', [None])
    assert _users.dumpable() is None
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 3
        try:
            code = 0 if _users.not_dumpable() is False else 1
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
