# -*- coding: utf-8 -*-
"""Issue 22, the part that switches uids (root tier, make test-unit-root): the users module asks
`opencode --version` once per host for a binary no user can change, and the gateway once per key,
and shares nothing else between users: no process holds another user's key.  Uses the existing
nobody and daemon accounts (and sys and sync, the Debian and Ubuntu base accounts, for four).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import shutil
import stat
import tempfile
import types

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _layout
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import models_gateway
# ``home`` comes from tests/unit/conftest.py (tests/support).
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.test_users import KEY, ME, run
from ansible_collections.omniroute.opencode.tests.support.http_server import CLOSED

pytestmark = pytest.mark.needs_root

MODELS = [{'id': 'openai/gpt-4o', 'context_length': 128000, 'max_output_tokens': 16384}]


@pytest.fixture
def top():
    """A directory every account can reach (pytest's tmp_path is root's 0700)."""
    path = tempfile.mkdtemp(prefix='users-shared-')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def own_dir(top, name):
    """A directory of account ``name`` under ``top`` (its config and auth files go there)."""
    entry = pwd.getpwnam(name)
    path = os.path.join(top, name)
    os.mkdir(path, 0o700)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def user(top, name, key=KEY):
    d = own_dir(top, name)
    return {'name': name, 'api_key': key, 'config_path': os.path.join(d, 'opencode.json'),
            'auth_path': os.path.join(d, 'auth.json')}


def fake_opencode(top, version='7.7.7'):
    """A root-owned `opencode` on a root-owned path that notes each run in a file anyone may append to."""
    bindir = os.path.join(top, 'bin')
    os.mkdir(bindir, 0o755)
    runs = os.path.join(top, 'runs')
    os.mkdir(runs, 0o777)
    os.chmod(runs, 0o777)
    log = os.path.join(runs, 'log')
    with open(log, 'w'):
        pass
    os.chmod(log, 0o666)
    script = os.path.join(bindir, 'opencode')
    with open(script, 'w') as handle:
        handle.write('#!/bin/sh\nid -un >> %s/log\necho %s\n' % (runs, version))
    os.chmod(script, 0o755)
    return bindir, script, log


def runs_of(log):
    with open(log) as handle:
        return handle.read().split()


def test_opencode_version_runs_once_for_every_user_of_a_binary_no_user_can_change(home, top, capsys, monkeypatch):
    bindir, script, log = fake_opencode(top)
    monkeypatch.setenv('PATH', bindir + os.pathsep + os.environ.get('PATH', os.defpath))
    users = [user(top, 'nobody'), user(top, 'daemon'), {'name': ME, 'api_key': KEY}]
    rc, res, out = run(capsys, {'users': users, 'verify': True, 'base_url': CLOSED, 'timeout': 3})
    assert rc == 0 and KEY not in out
    assert [res['users'][u['name']]['verify']['opencode_version'] for u in users] == ['7.7.7'] * 3
    assert [res['users'][u['name']]['verify']['opencode'] for u in users] == [script] * 3
    # Once, by a process of the first user; before issue 22 once per user.
    assert runs_of(log) == ['nobody']

    # A binary one of the users owns: each user's process asks for itself.
    os.chown(script, pwd.getpwnam('daemon').pw_uid, 0)
    rc, res, out = run(capsys, {'users': users, 'verify': True, 'base_url': CLOSED, 'timeout': 3})
    assert rc == 0 and sorted(runs_of(log)) == sorted(['nobody', 'nobody', 'daemon', ME])


def test_a_binary_is_shared_only_when_no_other_account_can_change_it(top):
    bindir, script, _log = fake_opencode(top)
    assert _layout.shared_binary(script)
    link = os.path.join(top, 'opencode-link')
    os.symlink(script, link)
    assert _layout.shared_binary(link)
    os.chmod(script, 0o775)
    assert not _layout.shared_binary(script)  # group may write it
    os.chmod(script, 0o750)
    assert not _layout.shared_binary(script)  # others may not run it: their own lookups differ
    os.chmod(script, 0o755)
    os.chown(script, pwd.getpwnam('nobody').pw_uid, 0)
    assert not _layout.shared_binary(script)  # an account's own file
    os.chown(script, 0, 0)
    os.chmod(bindir, 0o777)
    assert not _layout.shared_binary(script) and not _layout.shared_binary(link)  # anyone may swap it
    os.chmod(bindir, 0o777 | stat.S_ISVTX)
    assert _layout.shared_binary(script)  # a sticky directory (/tmp): no one else may rename root's file


def test_users_sending_the_same_key_share_one_gateway_answer_and_nothing_else(home, top, capsys):
    with models_gateway(KEY, MODELS) as (url, seen):
        rc, res, out = run(capsys, {'users': [user(top, 'nobody'), user(top, 'daemon')], 'verify': True,
                                    'base_url': url, 'catalog': 'gateway'})
        assert rc == 0 and KEY not in out
        assert all(res['users'][n]['verify']['key_accepted'] is True for n in ('nobody', 'daemon'))
        assert all(res['users'][n]['models'] == ['openai/gpt-4o'] for n in ('nobody', 'daemon'))
        # One request for two users, their catalog and their verify (four before issue 22).
        assert list(seen) == [('/v1/models', 'Bearer ' + KEY)]
        before = len(seen)
        other = 'sk-unit-other-key-0123456'
        shutil.rmtree(top + '/daemon')
        rc, res, out = run(capsys, {'users': [user(top, 'daemon', other), {'name': ME, 'api_key': KEY}],
                                    'verify': True, 'base_url': url})
        assert rc == 0 and KEY not in out and other not in out
        assert res['users']['daemon']['verify']['key_accepted'] is False
        assert res['users'][ME]['verify']['key_accepted'] is True
        # Another key is another question: each user's own answer.
        assert sorted(h for _p, h in list(seen)[before:]) == sorted(['Bearer ' + KEY, 'Bearer ' + other])


def test_two_users_to_verify_share_one_run_and_one_user_to_verify_asks_alone(home, top, capsys, monkeypatch):
    # Sharing starts at two users who verify; present users who do not verify do not count.
    from ansible_collections.omniroute.opencode.plugins.modules import users as users_module
    monkeypatch.setattr(_layout, '_VERSIONS', {})
    bindir, script, log = fake_opencode(top)
    monkeypatch.setenv('PATH', bindir + os.pathsep + os.environ.get('PATH', os.defpath))
    # Each child notes (in the file, as the child is a fork) which key it keeps: the one that asks
    # for the version keeps none, like every user's child keeps only its own.
    forgets = os.path.join(top, 'runs', 'forgets')
    real_forget = users_module.forget_others

    def noting(module, keep, works_params, own=None):
        with open(forgets, 'a') as handle:
            handle.write('none\n' if keep is None else 'own\n' if keep == KEY else 'other\n')
        return real_forget(module, keep, works_params, own)

    monkeypatch.setattr(users_module, 'forget_others', noting)
    users = [user(top, 'nobody'), user(top, 'daemon')]
    rc, res, out = run(capsys, {'users': users, 'verify': True, 'base_url': CLOSED, 'timeout': 3})
    assert rc == 0 and KEY not in out
    assert [res['users'][u['name']]['verify']['opencode_version'] for u in users] == ['7.7.7'] * 2
    assert runs_of(log) == ['nobody']
    noted = runs_of(forgets)
    assert noted.count('none') == 1 and set(noted) == {'none', 'own'}, noted
    # The first user does not verify: the second asks for itself, and nothing runs for the first.
    # (A module run is a new process on a laptop: nothing shared survives it; here, in one
    # process, the shared answers are dropped by hand.)
    monkeypatch.setattr(_layout, '_VERSIONS', {})
    users[0]['verify'] = False
    rc, res, out = run(capsys, {'users': users, 'verify': True, 'base_url': CLOSED, 'timeout': 3})
    assert rc == 0 and 'verify' not in res['users']['nobody']
    assert res['users']['daemon']['verify']['opencode_version'] == '7.7.7'
    assert runs_of(log) == ['nobody', 'daemon']


PLUGINS = os.sep + os.path.join('ansible_collections', 'omniroute', 'opencode', 'plugins') + os.sep


def strings_held(roots, cap=300000):
    """Every string (and bytes, as latin-1) reachable from ``roots`` through dicts, lists, tuples,
    sets, functions' closures and defaults, bound methods and instances' attributes: what a
    process still holds and could hand on.  Modules and classes are not walked into."""
    seen, found, todo = set(), [], list(roots)
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        assert len(seen) < cap, 'more than %d objects: the walk would not be complete' % cap
        if isinstance(obj, str):
            found.append(obj)
        elif isinstance(obj, (bytes, bytearray)):
            found.append(bytes(obj).decode('latin-1'))
        elif isinstance(obj, (types.ModuleType, type)):
            continue
        elif isinstance(obj, dict):
            todo.extend(obj.keys())
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo.extend(obj)
        elif isinstance(obj, types.FunctionType):
            todo.extend(obj.__defaults__ or ())
            for cell in obj.__closure__ or ():
                try:
                    todo.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    pass
        elif isinstance(obj, types.MethodType):
            todo.extend((obj.__self__, obj.__func__))
        elif hasattr(obj, '__dict__'):
            todo.append(vars(obj))
    return found


def test_a_child_process_holds_no_other_users_key(home, top, capsys, monkeypatch):
    # Each forked child, once it has forgotten the others (forget_others), is asked which of the
    # users' keys it still holds, whole or in pieces a redactor keeps: from the module object,
    # the module code's frames (each function's arguments and locals, the closures of the works
    # it was given, the parent's redactor), the module code's globals and Ansible's raw
    # arguments.  The first user sends its own key and neither verifies nor asks the gateway, so
    # the processes started for the others (the shared --version, run as nobody; the gateway
    # asked once for the key nobody and daemon share, and once for the one sys and sync share)
    # are not the first user's.
    import sys
    from ansible.module_utils import basic
    from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
    from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
    from ansible_collections.omniroute.opencode.plugins.module_utils import _users
    from ansible_collections.omniroute.opencode.plugins.modules import users as users_module
    monkeypatch.setattr(_layout, '_VERSIONS', {})
    bindir, _script, log = fake_opencode(top)
    monkeypatch.setenv('PATH', bindir + os.pathsep + os.environ.get('PATH', os.defpath))
    # No 8 characters in a row in common (a redactor keeps every such run of a key).
    mine, shared, other = 'q7Vh3Xk2Lm9Pw4Rt8Jn1', 'Bc5Nd8Ry2Tz6Wq9Ek3Hs', 'Yf4Gp7Ua1Dc3Vo6Mi0Lw'
    labels = {mine: 'first', shared: 'shared', other: 'other'}
    forgets = os.path.join(top, 'runs', 'forgets')
    real_forget = users_module.forget_others

    def noting(module, keep, works_params, own=None):
        real_forget(module, keep, works_params, own)
        roots = [module, basic._ANSIBLE_ARGS]
        # (The module's globals without this very function, which closes over the test's keys.)
        roots += [dict((name, value) for name, value in vars(m).items() if value is not noting)
                  for m in (users_module, gw, _layout, _users, _redact)]
        frame = sys._getframe(1)
        while frame is not None:
            if PLUGINS in frame.f_code.co_filename:
                roots.append(dict(frame.f_locals))
            frame = frame.f_back
        found = strings_held(roots)
        held = [label for key, label in sorted(labels.items(), key=lambda kv: kv[1])
                if any(key in text or (len(text) >= _redact.MIN_RUN and text in key) for text in found)]
        with open(forgets, 'a') as handle:
            handle.write('%s:%s\n' % (labels.get(keep, 'none'), ','.join(held) or '-'))

    monkeypatch.setattr(users_module, 'forget_others', noting)
    with models_gateway(shared, MODELS) as (url, seen):
        users = [{'name': ME, 'api_key': mine, 'verify': False}, user(top, 'nobody', shared),
                 user(top, 'daemon', shared), user(top, 'sys', other), user(top, 'sync', other)]
        rc, res, out = run(capsys, {'users': users, 'verify': True, 'base_url': url, 'timeout': 5})
        assert rc == 0 and not any(key in out for key in labels)
        assert sorted(seen) == sorted([('/v1/models', 'Bearer ' + shared), ('/v1/models', 'Bearer ' + other)])
    assert runs_of(log) == ['nobody']
    assert [res['users'][n]['verify']['key_accepted'] for n in ('nobody', 'daemon', 'sys', 'sync')] == [True] * 2 + [False] * 2
    # keep:held, one line per child: the --version child, the two gateway children, then the
    # first user's, nobody's, daemon's, sys's and sync's.
    assert sorted(runs_of(forgets)) == sorted(['none:-', 'shared:shared', 'other:other', 'first:first']
                                              + ['shared:shared'] * 2 + ['other:other'] * 2), runs_of(forgets)


def test_no_extra_process_when_no_binary_outside_the_homes_could_be_shared(home, top, capsys, monkeypatch):
    from ansible_collections.omniroute.opencode.plugins.modules import users as users_module
    started = []
    real = users_module.us.UserProcess

    class Counting(real):
        def __init__(self, account, *args, **kwargs):
            started.append(account.name)
            super(Counting, self).__init__(account, *args, **kwargs)

    monkeypatch.setattr(users_module.us, 'UserProcess', Counting)
    monkeypatch.setenv('PATH', os.path.join(top, 'empty'))
    monkeypatch.setattr(_layout, 'SYSTEM_NPM_PREFIXES', (os.path.join(top, 'no-prefix'),))
    # Two keys: nothing for the gateway either.
    rc, res, _out = run(capsys, {'users': [user(top, 'nobody'), user(top, 'daemon', 'sk-unit-daemons-0000000')],
                                 'verify': True, 'base_url': CLOSED, 'timeout': 3})
    assert rc == 0 and res['users']['nobody']['verify']['opencode'] is None
    assert started == ['nobody', 'daemon']  # one process per user, no helper
