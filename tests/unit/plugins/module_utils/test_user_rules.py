# -*- coding: utf-8 -*-
"""The users module's rules about users and the child process it runs for each, in _users.py, as
plain functions: who needs a key given to the module, what key_source=user refuses, account and
key problems, the one message per host, the C library and the dumpable flag, the user database and
each user's environment, UserProcess (the child that becomes the user, its pipe, its failures, stop
and close) and ``become`` where it is refused. Every message is compared whole."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import subprocess
import sys

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _configure, _redact, _users


def user(name='alice', state='present', store='config', uid=None, exists=True, **entry):
    """A listed user; with ``uid`` an account of that uid, with ``exists=False`` no account."""
    gid = os.getegid() if uid is None else uid
    uid = os.geteuid() if uid is None else uid
    if exists:
        account = _users.Account(name, True, uid, gid, '/home/' + name, '/bin/sh')
    else:
        account = _users.Account(name, False, None, None, None, None)
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
        "host laptop1: first; second; no user's file was changed on laptop1")
    assert _users.report('laptop1', ['only']) == "host laptop1: only; no user's file was changed on laptop1"
    # A problem's own "nothing was changed" is said once, for the host.
    assert _users.report('laptop1', ["user 'a': cannot write f; nothing was changed", "user 'b': no key"]) == (
        "host laptop1: user 'a': cannot write f; user 'b': no key; no user's file was changed on laptop1")


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


def test_account_problems_in_words(monkeypatch):
    # This module runs as uid 1 (no account needed): it may configure that account only.
    monkeypatch.setattr(_users.os, 'geteuid', lambda: 1)
    me = _users.current_user()
    users = [user('alice', uid=1), user('alice', uid=1), user('ghost', uid=0, exists=False),
             user('gone', state='absent', uid=0, exists=False), user('bob', uid=4242), user('carol', uid=1)]
    assert _users.account_problems(users) == [
        "user 'alice': listed more than once in opencode_users",
        "user 'ghost': no such account",
        "user 'bob': only root can configure another account, and this module runs as %s (run it with become, "
        "or configure only %s)" % (me, me),
    ]


def test_root_may_configure_every_account(monkeypatch):
    monkeypatch.setattr(_users.os, 'geteuid', lambda: 0)
    assert _users.account_problems([user('alice', uid=1000), user('bob', uid=1001), user('root', uid=0)]) == []


def test_a_user_without_an_account_who_is_absent_is_no_problem_and_the_next_is_checked(monkeypatch):
    monkeypatch.setattr(_users.os, 'geteuid', lambda: 1)
    me = _users.current_user()
    assert _users.account_problems([user('gone', state='absent', uid=0, exists=False), user('bob', uid=4242)]) == [
        "user 'bob': only root can configure another account, and this module runs as %s (run it with become, "
        "or configure only %s)" % (me, me)]


def test_key_problems_in_words():
    users = [
        user('alice', store='config'),
        user('bob', store='auth', api_key='sk-bad\nkey'),
        user('carol', store='env'),
        user('dave', state='absent'),
        user('erin', store='config'),
        user('frank', store='config', api_key=42),
    ]
    users.append(user('nobody', uid=0, exists=False))
    assert _users.key_problems(users, [{'erin': 'sk-from-the-map'}]) == [
        "user 'alice': no API key (set api_key in opencode_users, opencode_api_keys['alice'] or "
        "opencode_api_key_var)",
        "user 'bob': the key from api_key %s" % _redact.key_problem('sk-bad\nkey'),
    ]
    assert _users.key_problems([user('erin', api_key='sk-bad\x01key')], [{'erin': 'sk-ok'}]) == [
        "user 'erin': the key from api_key %s" % _redact.key_problem('sk-bad\x01key')]
    assert _users.key_problems([user('erin')], [{}, {'erin': 'sk-bad\tkey'}]) == [
        "user 'erin': the key from key_maps[1] %s" % _redact.key_problem('sk-bad\tkey')]


def test_the_c_library_is_looked_up_once_and_kept(monkeypatch):
    monkeypatch.setattr(_users, '_LIBC', [])
    lib = _users._libc()
    assert lib is not None and hasattr(lib, 'prctl')
    assert _users._LIBC == [lib] and _users._libc() is lib


class _FakeCDLL(object):
    """Stands for ctypes.CDLL on a system where the program's own symbol table has no prctl."""

    calls = []
    without_prctl = ()

    def __init__(self, name, **kwargs):
        _FakeCDLL.calls.append((name, kwargs))
        if name is None:
            raise OSError('no symbol table')
        if name in _FakeCDLL.without_prctl:
            return
        self.prctl = lambda *args: 0


@pytest.mark.parametrize('found, opened', [('libc-test.so.7', 'libc-test.so.7'), (None, 'libc.so.6')])
def test_without_the_programs_own_symbols_the_c_library_is_found_by_name(monkeypatch, found, opened):
    monkeypatch.setattr(_users, '_LIBC', [])
    monkeypatch.setattr(_users.ctypes, 'CDLL', _FakeCDLL)
    monkeypatch.setattr(_FakeCDLL, 'calls', [])
    asked = []
    monkeypatch.setattr(_users.ctypes.util, 'find_library', lambda name: asked.append(name) or found)
    lib = _users._libc()
    assert isinstance(lib, _FakeCDLL) and asked == ['c']
    assert _FakeCDLL.calls == [(None, {'use_errno': True}), (opened, {'use_errno': True})]
    assert _users._LIBC == [lib]


def test_a_c_library_without_prctl_is_no_c_library(monkeypatch):
    monkeypatch.setattr(_users, '_LIBC', [])
    monkeypatch.setattr(_users.ctypes, 'CDLL', _FakeCDLL)
    monkeypatch.setattr(_FakeCDLL, 'calls', [])
    monkeypatch.setattr(_FakeCDLL, 'without_prctl', ('libc.so.6',))
    monkeypatch.setattr(_users.ctypes.util, 'find_library', lambda name: None)
    assert _users._libc() is None and _users._LIBC == [None]
    assert [name for name, _kwargs in _FakeCDLL.calls] == [None, 'libc.so.6']


def test_the_parents_objects_are_frozen_for_the_forks_and_thawed_after():
    try:
        _users.before_forks()
        assert _users.gc.get_freeze_count() > 0
    finally:
        _users.after_forks()
    assert _users.gc.get_freeze_count() == 0


def test_messages_from_a_pipe_one_line_each_whatever_the_reads():
    read, write = os.pipe()
    try:
        lines = _users._Lines(read)
        # Two messages in one read, then one longer than a read (65536 bytes), then the end.
        os.write(write, b'{"a": 1}\n{"b": "two"}\n')
        assert lines.next() == {'a': 1}
        assert lines.next() == {'b': 'two'}
        big = {'c': 'x' * 70000}
        sender = os.fork()
        if sender == 0:  # pragma: no cover - the child only writes
            try:
                _users._send(write, big)
                _users._send(write, 'go')
            finally:
                os._exit(0)
        os.close(write)
        write = None
        assert lines.next() == big
        assert lines.next() == 'go'
        assert lines.next() is None
        os.waitpid(sender, 0)
    finally:
        os.close(read)
        if write is not None:
            os.close(write)


def test_only_the_child_does_the_work_and_the_parent_carries_on():
    # In a process of its own: were the parent to run the child's part, it would end there
    # (os._exit), which a test in pytest's own process cannot see.
    script = (
        'import sys\n'
        'from ansible_collections.omniroute.opencode.plugins.module_utils import _users\n'
        'p = _users.UserProcess(_users.lookup(_users.current_user()), lambda env: ({"pid": __import__("os").getpid()}, None))\n'
        'r = p.reply()\n'
        'p.stop()\n'
        'p.close()\n'
        'print(r.ok, r.data["pid"] != __import__("os").getpid(), p.pid)\n'
    )
    here = os.path.abspath(_users.__file__)
    env = dict(os.environ, PYTHONPATH=here[:here.rindex(os.sep + 'ansible_collections' + os.sep)])
    done = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    # (Nothing on stderr either: a child that failed to end would go on as a second copy of the
    # script and raise there.)
    assert (done.returncode, done.stdout, done.stderr) == (0, 'True True None\n', '')


def test_accounts_as_the_user_database_has_them(monkeypatch):
    me = pwd.getpwuid(os.geteuid())
    assert _users.lookup(me.pw_name) == _users.Account(me.pw_name, True, me.pw_uid, me.pw_gid, me.pw_dir,
                                                       me.pw_shell)
    assert _users.lookup('no-such-account-here') == _users.Account('no-such-account-here', False, None, None,
                                                                   None, None)
    assert _users.current_user() == me.pw_name
    # A uid without an account is named by its number.
    unused = max(entry.pw_uid for entry in pwd.getpwall()) + 4242
    monkeypatch.setattr(_users.os, 'geteuid', lambda: unused)
    assert _users.current_user() == str(unused)


def test_the_environment_of_this_account_and_of_another():
    me = _users.lookup(pwd.getpwuid(os.geteuid()).pw_name)
    assert _users.user_environ(me) == dict(os.environ, **({} if 'HOME' in os.environ else {'HOME': me.home}))
    other = _users.Account('someone', True, os.geteuid() + 4242, 4242, '/home/someone', None)
    env = _users.user_environ(other)
    want = dict(HOME='/home/someone', USER='someone', LOGNAME='someone', SHELL='/bin/sh',
                PATH=os.environ.get('PATH') or '/usr/bin:/bin')
    want.update((name, os.environ[name]) for name in ('LANG', 'LC_ALL', 'TZ') if os.environ.get(name))
    assert env == want


def test_the_environment_of_another_account_is_a_login_one(monkeypatch):
    for name, value in (('LANG', 'C.UTF-8'), ('LC_ALL', 'C'), ('TZ', 'UTC'), ('PATH', '/opt/bin:/bin'),
                        ('XDG_CONFIG_HOME', '/elsewhere'), ('OPENCODE_CONFIG', '/elsewhere/c.json')):
        monkeypatch.setenv(name, value)
    other = _users.Account('someone', True, os.geteuid() + 4242, 4242, '/home/someone', '/bin/zsh')
    assert _users.user_environ(other) == dict(HOME='/home/someone', USER='someone', LOGNAME='someone',
                                              SHELL='/bin/zsh', PATH='/opt/bin:/bin', LANG='C.UTF-8', LC_ALL='C',
                                              TZ='UTC')
    monkeypatch.delenv('PATH')
    monkeypatch.setenv('LC_ALL', '')
    assert _users.user_environ(other) == dict(HOME='/home/someone', USER='someone', LOGNAME='someone',
                                              SHELL='/bin/zsh', PATH='/usr/bin:/bin', LANG='C.UTF-8', TZ='UTC')


def test_this_accounts_environment_gets_a_home_when_the_session_has_none(monkeypatch):
    me = _as_me()
    monkeypatch.delenv('HOME', raising=False)
    assert _users.user_environ(me) == dict(os.environ, HOME=me.home)
    monkeypatch.setenv('HOME', '/somewhere/else')
    assert _users.user_environ(me)['HOME'] == '/somewhere/else'


def test_a_childs_failure_in_words():
    # The plan's own failures (_configure.Failure) are shown as they are, through the child's redactor
    # (a secret of the child's that nothing else would know for one: hunter2).
    def red(text):
        return text.replace('hunter2', '********')

    assert _users._failure(_configure.Failure('cannot edit f: hunter2'), red) == {
        'ok': False, 'msg': 'cannot edit f: ********'}
    assert _users._failure(_configure.Failure('cannot edit f', path='f hunter2', line=3, ok=True, lines=['a'],
                                              where={'a': 1}, skip=1.5, none=None), red) == {
        'ok': False, 'msg': 'cannot edit f',
        'data': {'path': 'f ********', 'line': 3, 'ok': True, 'lines': ['a'], 'where': {'a': 1}}}
    out = _users._failure(KeyError('hunter2'), red)
    assert out == {'ok': False, 'msg': "KeyError: '********'", 'data': {'exception': "KeyError: '********'\n"}}
    out = _users._failure(ValueError('bad'), red)
    assert out == {'ok': False, 'msg': 'ValueError: bad', 'data': {'exception': 'ValueError: bad\n'}}


def test_a_child_is_not_dumpable_and_leaves_no_core():
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 3
        try:
            ok = (_users.dumpable() == 1 and _users.not_dumpable() is True and _users.dumpable() == 0
                  and _users.resource.getrlimit(_users.resource.RLIMIT_CORE) == (0, 0))
            code = 0 if ok else 1
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0


def _as_me():
    return _users.lookup(pwd.getpwuid(os.geteuid()).pw_name)


def test_a_child_becomes_the_user_works_and_answers():
    seen = {}

    def forget():
        seen['forgotten'] = True

    def plan(environ):
        return {'forgot': seen.get('forgotten', False), 'cwd': os.getcwd(), 'home': environ['HOME'],
                'dumpable': _users.dumpable()}, 'state'

    proc = _users.UserProcess(_as_me(), plan, apply=lambda state: state + ' applied', forget=forget)
    pid = proc.pid
    assert isinstance(pid, int) and pid > 0 and pid != os.getpid()
    first = proc.reply()
    me = _as_me()
    # The child works in the account's home directory, with this session's environment (its own).
    assert first == _users.Reply(True, {'forgot': True, 'cwd': os.path.realpath(me.home) if os.path.isdir(me.home) else '/',
                                        'home': os.environ.get('HOME', me.home), 'dumpable': 0}, None)
    assert proc.go() == _users.Reply(True, 'state applied', None)
    proc.close()
    assert proc.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped by close()
    proc.close()  # a second close does nothing


def test_a_childs_failures_come_back_as_replies():
    def plan(environ):
        raise _configure.Failure('the plan failed: hunter2')

    def red(text):
        return text.replace('hunter2', '***')

    proc = _users.UserProcess(_as_me(), plan, redact=red)
    assert proc.reply() == _users.Reply(False, None, 'the plan failed: ***')
    proc.close()

    def broken_apply(state):
        raise RuntimeError('apply failed')

    proc = _users.UserProcess(_as_me(), lambda environ: ('planned', 1), apply=broken_apply)
    assert proc.reply() == _users.Reply(True, 'planned', None)
    assert proc.go() == _users.Reply(False, {'exception': 'RuntimeError: apply failed\n'}, 'RuntimeError: apply failed')
    proc.close()


def test_stop_ends_the_child_without_applying(tmp_path):
    marker = tmp_path / 'applied'
    proc = _users.UserProcess(_as_me(), lambda environ: ('planned', None),
                              apply=lambda state: marker.write_text('x'))
    assert proc.reply().ok
    proc.stop()
    assert proc.reply() == _users.Reply(False, None, 'the process working as %s ended without an answer'
                                        % _as_me().name)
    proc.close()
    assert not marker.exists()


def test_a_child_that_dies_is_an_answer_too():
    proc = _users.UserProcess(_as_me(), lambda environ: os._exit(0))
    assert proc.reply() == _users.Reply(False, None, 'the process working as %s ended without an answer'
                                        % _as_me().name)
    proc.close()


def test_children_started_together_each_work():
    # The second child closes the first one's pipe ends (UserProcess._open_fds) and still works.
    first = _users.UserProcess(_as_me(), lambda environ: ('one', None))
    second = _users.UserProcess(_as_me(), lambda environ: ('two', None))
    assert (first.reply(), second.reply()) == (_users.Reply(True, 'one', None), _users.Reply(True, 'two', None))
    for proc in (first, second):
        proc.close()
    assert _users.UserProcess._open_fds == []


def test_a_process_that_is_not_root_cannot_become_another_account(monkeypatch):
    # Not root (as this process sees it): no uid switch is tried, and a uid that is not the
    # account's is refused by name, before anything is changed.
    real = os.getuid()
    monkeypatch.setattr(_users.os, 'geteuid', lambda: real + 1)
    other = _users.Account('someone', True, real + 4242, 4242, '/home/someone', '/bin/sh')
    with pytest.raises(OSError) as exc:
        _users.become(other)
    assert str(exc.value) == 'could not become someone (uid %d)' % (real + 4242)
    # The real uid is the account's, the effective one is not: refused too.
    mine = _as_me()
    with pytest.raises(OSError) as exc:
        _users.become(mine)
    assert str(exc.value) == 'could not become %s (uid %d)' % (mine.name, mine.uid)


def test_a_child_without_its_home_directory_works_in_the_root_directory():
    mine = _as_me()._replace(home='/nonexistent-home-of-the-test')
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(read)
            env = _users.become(mine)
            os.write(write, ('%s %s %s' % (os.getcwd(), env['HOME'] == os.environ['HOME'], _users.dumpable())).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as handle:
        said = handle.read()
    os.waitpid(pid, 0)
    assert said == '/ True 0'
