# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every user of a host in one module run (the ``users`` module).

What lives here: the account look-up, the checks made before anything is written (duplicates,
unknown accounts, accounts this process may not act for, missing keys), the key precedence, and
running a piece of work in a child process that has become the user (uid, gid, supplementary
groups, HOME and a login-like environment).  A user's files are only ever opened by that child;
the parent process never touches them.  Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import ctypes.util
import gc
import json
import os
import socket
import sys
import traceback
from collections import namedtuple

try:
    import resource
except ImportError:  # pragma: no cover - the module targets POSIX hosts
    resource = None

try:
    import pwd
except ImportError:  # pragma: no cover - the module targets POSIX hosts
    pwd = None

from ansible_collections.omniroute.opencode.plugins.module_utils import _redact

# One account as the host knows it (``exists`` False: no such account, other fields None).
Account = namedtuple('Account', 'name exists uid gid home shell')

# One user of the run with the fleet defaults filled in: ``entry`` is the caller's dict,
# ``state`` present/absent, ``store`` config/auth/env, ``account`` an Account.
User = namedtuple('User', 'name state store entry account')

# What a child process sent back: ``ok`` False carries ``msg``; ``data`` is the work's result.
Reply = namedtuple('Reply', 'ok data msg')

MISSING_KEY_HINT = "set api_key in opencode_users, opencode_api_keys['%s'] or opencode_api_key_var"


def lookup(name):
    """The account ``name`` from the host's user database."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return Account(name, False, None, None, None, None)
    return Account(name, True, entry.pw_uid, entry.pw_gid, entry.pw_dir, entry.pw_shell)


def current_user():
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def effective_users(entries, default_store):
    """``[User]`` for the caller's entries, in order, with state and key store defaulted."""
    users = []
    for entry in entries:
        users.append(User(entry['name'], entry.get('state') or 'present',
                          entry.get('key_store') or default_store, entry, lookup(entry['name'])))
    return users


def account_problems(users):
    """Duplicates, unknown accounts, and accounts this process cannot become, in words."""
    problems = []
    seen = set()
    euid = os.geteuid()
    me = current_user()
    for user in users:
        if user.name in seen:
            problems.append("user '%s': listed more than once in opencode_users" % user.name)
            continue
        seen.add(user.name)
        if not user.account.exists:
            if user.state == 'present':
                problems.append("user '%s': no such account" % user.name)
            continue
        if euid != 0 and user.account.uid != euid:
            problems.append("user '%s': only root can configure another account, and this module runs as %s "
                            "(run it with become, or configure only %s)" % (user.name, me, me))
    return problems


def needs_literal_key(user, key_source='given'):
    """Present, not reading its key from the environment, and not keeping a key of their own."""
    return user.state == 'present' and user.store != 'env' and not (key_source == 'user' and user.store == 'auth')


def key_problems(users, key_maps, key_source='given'):
    """Users without a key, and keys that cannot be used as they are (the key never shown)."""
    if key_source == 'user':
        return source_problems(users)
    problems = []
    for user in users:
        if not needs_literal_key(user) or not user.account.exists:
            continue
        key, origin = _redact.find_key(user.entry, key_maps)
        if not key:
            problems.append("user '%s': no API key (%s)" % (user.name, MISSING_KEY_HINT % user.name))
            continue
        # A value that is not a string is refused later, by the user's plan, with its own message.
        problem = _redact.key_problem(key) if isinstance(key, str) else None
        if problem:
            problems.append("user '%s': the key from %s %s" % (user.name, origin, problem))
    return problems


def source_problems(users):
    """With key_source=user: a key store that cannot hold the developer's own key, or a key given anyway."""
    problems = []
    for user in users:
        if user.state != 'present':
            continue
        if user.store == 'config':
            problems.append("user '%s': key_source user keeps the developer's own key in auth.json; "
                            "use key_store auth (or env), not config" % user.name)
        elif user.entry.get('api_key'):
            problems.append("user '%s': api_key is given but key_source is user (the developer provides "
                            "the key); remove one of them" % user.name)
    return problems


def report(host, problems):
    """One message for every problem on a host, when no user's file was written.

    It says what this module run left alone, the users' files of the host: the run that writes the
    managed config comes first and reports its own changes. A problem's own closing "nothing was
    changed" is dropped, the host's sentence says it for all of them.
    """
    tail = '; nothing was changed'
    problems = [p[:-len(tail)] if p.endswith(tail) else p for p in problems]
    return "host %s: %s; no user's file was changed on %s" % (host, '; '.join(problems), host)


# --------------------------------------------------------------------------- run as the user
def user_environ(account):
    """The environment a user's process gets.

    For the account this module already runs as, the session's own environment (so its
    XDG_CONFIG_HOME / XDG_DATA_HOME are honoured); for another account, a login-like one built
    from the user database, as ``sudo -u`` gives (no XDG_* from the caller's session).
    """
    if account.uid == os.geteuid():
        env = dict(os.environ)
        env.setdefault('HOME', account.home)
        return env
    env = dict(HOME=account.home, USER=account.name, LOGNAME=account.name,
               SHELL=account.shell or '/bin/sh', PATH=os.environ.get('PATH') or '/usr/bin:/bin')
    for name in ('LANG', 'LC_ALL', 'TZ'):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
_LIBC = []


def _libc():
    """The C library (for ``prctl``), looked up once per module run and inherited by every child.

    ``ctypes.CDLL(None)`` is the running program's own symbol table, which holds libc's on glibc
    and musl; ``ctypes.util.find_library`` (which runs ``ldconfig -p``, a process per call) is
    only the fallback.  None when there is no usable C library.
    """
    if not _LIBC:
        found = None
        for name in (None, 'find'):
            try:
                if name == 'find':
                    name = ctypes.util.find_library('c') or 'libc.so.6'
                lib = ctypes.CDLL(name, use_errno=True)
                # The symbol must be there (an AttributeError otherwise).
                lib.prctl  # pylint: disable=pointless-statement
            except (OSError, AttributeError):
                continue
            found = lib
            break
        _LIBC.append(found)
    return _LIBC[0]


def not_dumpable():
    """Make this process not dumpable where the OS allows (best effort, standard library only).

    On Linux ``prctl(PR_SET_DUMPABLE, 0)``: no core dump, and no other process of the same user
    may attach to it or read its memory (``ptrace``, ``/proc/<pid>/mem``).  Everywhere, a core
    size limit of 0.  Returns True when the prctl call succeeded.
    """
    if resource is not None:
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except (ValueError, OSError):
            pass
    if not sys.platform.startswith('linux'):
        return False
    libc = _libc()
    return libc is not None and libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


def dumpable():
    """The process's dumpable flag on Linux (``prctl(PR_GET_DUMPABLE)``), None elsewhere."""
    if not sys.platform.startswith('linux'):
        return None
    libc = _libc()
    return None if libc is None else libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)


def before_forks():
    """Once in the module process, before the per-user children are forked: what every child
    would otherwise do for itself.

    The C library is looked up (:func:`_libc`).  The cyclic garbage of the module process is
    collected and everything left is frozen (``gc.freeze``): a child's collection (the users
    module's ``forget_others``) then only walks what the child made, instead of touching - and
    so copying - every object of the parent.  :func:`after_forks` undoes the freeze.
    """
    _libc()
    gc.collect()
    if hasattr(gc, 'freeze'):
        gc.freeze()


def after_forks():
    if hasattr(gc, 'unfreeze'):
        gc.unfreeze()


def become(account):
    """In a child process: drop to the account's uid, gid and supplementary groups, then make
    the process not dumpable (changing uid resets that flag, so it is set after)."""
    env = user_environ(account)
    if os.geteuid() == 0:
        os.initgroups(account.name, account.gid)
        os.setgid(account.gid)
        os.setuid(account.uid)
    if os.getuid() != account.uid or os.geteuid() != account.uid:
        raise OSError('could not become %s (uid %s)' % (account.name, account.uid))
    not_dumpable()
    os.environ.clear()
    os.environ.update(env)
    try:
        os.chdir(account.home)
    except OSError:
        os.chdir('/')
    return env


def _send(fd, obj):
    data = (json.dumps(obj) + '\n').encode('utf-8')
    while data:
        data = data[os.write(fd, data):]


class _Lines:
    """Newline-delimited JSON messages from a pipe."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b''

    def next(self):
        while b'\n' not in self.buf:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line.decode('utf-8'))


class UserProcess:
    """A child process that has become one user and runs ``plan`` and, when told, ``apply``.

    ``plan(environ)`` returns ``(data, state)``: ``data`` (JSON-able, no secret) goes back to
    the parent at once; the child then waits.  ``go()`` makes it run ``apply(state)`` and send
    that result; ``stop()`` makes it exit without writing.  Every failure comes back as a Reply
    with ``ok`` False and a message (``redact`` removes secrets from unexpected ones).

    ``forget()``, when given, runs first in the child, before it becomes the user: the child is
    a fork of the module process, so it drops there what it must not hold (the other users'
    keys); the child is then made not dumpable (:func:`not_dumpable`).
    """

    _open_fds = []

    def __init__(self, account, plan, apply=None, redact=lambda text: text, forget=None):
        self.account = account
        self.pid = None
        result_r, result_w = os.pipe()
        control_r, control_w = os.pipe()
        for stream in ('stdout', 'stderr'):
            getattr(__import__('sys'), stream).flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
            code = 1
            try:
                os.close(result_r)
                os.close(control_w)
                for fd in UserProcess._open_fds:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                not_dumpable()
                code = self._child(result_w, _Lines(control_r), plan, apply, redact, forget)
            finally:
                os._exit(code)
        os.close(result_w)
        os.close(control_r)
        self.pid = pid
        self._results = _Lines(result_r)
        self._control = control_w
        UserProcess._open_fds.extend([result_r, control_w])

    def _child(self, out, control, plan, apply, redact, forget=None):
        try:
            if forget is not None:
                forget()
            environ = become(self.account)
            data, state = plan(environ)
        except Exception as exc:  # pylint: disable=broad-except
            _send(out, _failure(exc, redact))
            return 1
        _send(out, {'ok': True, 'data': data})
        order = control.next()
        if order != 'go' or apply is None:
            return 0
        try:
            _send(out, {'ok': True, 'data': apply(state)})
        except Exception as exc:  # pylint: disable=broad-except
            _send(out, _failure(exc, redact))
            return 1
        return 0

    def reply(self):
        msg = self._results.next()
        if msg is None:
            return Reply(False, None, 'the process working as %s ended without an answer' % self.account.name)
        return Reply(bool(msg.get('ok')), msg.get('data'), msg.get('msg'))

    def _tell(self, order):
        try:
            _send(self._control, order)
        except OSError:
            pass

    def go(self):
        self._tell('go')
        return self.reply()

    def stop(self):
        self._tell('stop')

    def close(self):
        for fd in (self._results.fd, self._control):
            try:
                os.close(fd)
            except OSError:
                pass
            if fd in UserProcess._open_fds:
                UserProcess._open_fds.remove(fd)
        if self.pid:
            os.waitpid(self.pid, 0)
            self.pid = None


def _failure(exc, redact):
    details = getattr(exc, 'details', None) or {}
    known = exc.__class__.__name__ == 'Failure'
    msg = str(exc) if known else '%s: %s' % (type(exc).__name__, exc)
    out = {'ok': False, 'msg': redact(msg)}
    if details:
        # Paths, positions and what was written and restored; redacted like the message.
        out['data'] = json.loads(redact(json.dumps(dict(
            (k, v) for k, v in details.items() if isinstance(v, (str, int, bool, list, dict))))))
    if not known:
        out['data'] = {'exception': redact(''.join(traceback.format_exception_only(type(exc), exc)))}
    return out


# The ``host`` option of provider, managed and users (documented once: doc fragment ``host``).
HOST_ARGUMENT_SPEC = dict(host=dict(type='str'))


def hostname(host=None):
    """The host name messages use: the ``host`` option, else the machine's own name."""
    return host or socket.gethostname()
