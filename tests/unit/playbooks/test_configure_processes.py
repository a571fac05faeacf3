# -*- coding: utf-8 -*-
"""The README's main job (issue 26): ``make configure`` with each documented override, each in a
scratch HOME (never the contributor's own ~/.config/opencode), checking the files it leaves.

README: ``make configure`` (the seed's defaults), ``OMNIROUTE_BASE_URL=... OMNIROUTE_API_KEY=...
make configure``, ``make configure ARGS='--check --diff'`` and ``OMNIROUTE_KEY_STORE=auth make
configure``. Each runs the real Makefile target (with the virtualenv that runs these tests) for
the current user. Two run at a time; every output is searched for the key.

(These start make and the ansible CLI: make test-unit runs them, the ansible-test runs of the
matrix leave ``test_*_processes.py`` out.)
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _jsonc
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
from ansible_collections.omniroute.opencode.tests.support.files import fmode

ME = pwd.getpwuid(os.geteuid()).pw_name
KEY = 'sk-configure-test-9c8d7e6f'
# The checkout these tests import (the Makefile lives there).
CHECKOUT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(_jsonc.__file__)), '..', '..'))
SEED_MODELS = ['claude-opus-4-5-thinking', 'claude-sonnet-4-5-thinking', 'gemini-3.1-pro-high', 'gemini-3-flash']


def make_configure(home, env_vars=(), args=None):
    env = dict(os.environ, HOME=str(home), USER=ME, VENV=os.path.dirname(os.path.dirname(sys.executable)),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    env.setdefault('OMNIROUTE_OPENCODE_CACHE', os.path.join(os.path.expanduser('~'), '.cache', 'omniroute-opencode'))
    for var in ('XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'OPENCODE_CONFIG', 'OMNIROUTE_BASE_URL', 'OMNIROUTE_API_KEY',
                'OMNIROUTE_KEY_STORE', 'MAKEFLAGS', 'MFLAGS', 'MAKELEVEL'):
        env.pop(var, None)
    env.update(env_vars)
    cmd = ['make', '--no-print-directory', '-C', CHECKOUT, 'configure']
    if args:
        cmd.append('ARGS=' + args)
    proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
                          check=False)
    return proc.returncode, proc.stdout + proc.stderr


def config(home):
    with open(str(home / '.config' / 'opencode' / 'opencode.json')) as handle:
        return parse(handle.read())


def auth(home):
    return home / '.local' / 'share' / 'opencode' / 'auth.json'


def recap_changed(out):
    line = [l for l in out.splitlines() if l.startswith('localhost') and 'ok=' in l][-1]
    return int(line.split('changed=')[1].split()[0])


def _defaults(home):
    return [make_configure(home)]


def _url_and_key(home):
    env = {'OMNIROUTE_BASE_URL': 'https://omniroute.example.com/v1/', 'OMNIROUTE_API_KEY': KEY}
    return [make_configure(home, env), make_configure(home, env)]


def _check_diff(home):
    os.makedirs(str(home / '.config' / 'opencode'))
    with open(str(home / '.config' / 'opencode' / 'opencode.json'), 'w') as handle:
        handle.write('{\n  // mine\n  "theme": "dusk"\n}\n')
    return [make_configure(home, {'OMNIROUTE_API_KEY': KEY}, "--check --diff")]


def _auth_store(home):
    env = {'OMNIROUTE_KEY_STORE': 'auth', 'OMNIROUTE_API_KEY': KEY}
    return [make_configure(home, env), make_configure(home, env)]


CASES = [_defaults, _url_and_key, _check_diff, _auth_store]


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('configure')
    homes = dict((fn.__name__, root / fn.__name__) for fn in CASES)
    for home in homes.values():
        home.mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = dict((fn.__name__, pool.submit(fn, homes[fn.__name__])) for fn in CASES)
        done = dict((name, (homes[name], future.result())) for name, future in futures.items())
    for name, (_home, results) in done.items():
        for _rc, out in results:
            assert KEY not in out, 'the key is in the output of make configure (%s)' % name
    return done


def test_defaults_are_the_seeds(runs):
    home, ((rc, out),) = runs['_defaults']
    assert rc == 0, out[-3000:]
    data = config(home)
    assert data['$schema'] == 'https://opencode.ai/config.json'
    entry = data['provider']['omniroute']
    assert entry['npm'] == '@ai-sdk/openai-compatible' and entry['name'] == 'OmniRoute'
    assert entry['options'] == {'baseURL': 'http://localhost:20128/v1', 'apiKey': 'sk_omniroute'}
    assert list(entry['models']) == SEED_MODELS
    assert not auth(home).exists()


def test_base_url_and_key_from_the_environment(runs):
    home, ((rc, out), (rc2, out2)) = runs['_url_and_key']
    assert rc == 0, out[-3000:]
    entry = config(home)['provider']['omniroute']
    assert entry['options'] == {'baseURL': 'https://omniroute.example.com/v1', 'apiKey': KEY}
    assert fmode(home / '.config' / 'opencode' / 'opencode.json') == 0o600
    assert not auth(home).exists()
    assert rc2 == 0 and recap_changed(out2) == 0, out2[-3000:]


def test_check_diff_writes_nothing_and_masks_the_key(runs):
    home, ((rc, out),) = runs['_check_diff']
    assert rc == 0, out[-3000:]
    with open(str(home / '.config' / 'opencode' / 'opencode.json')) as handle:
        assert handle.read() == '{\n  // mine\n  "theme": "dusk"\n}\n'
    assert '"apiKey": "********"' in out and '"provider"' in out
    assert recap_changed(out) >= 1


def test_auth_store_from_the_environment(runs):
    home, ((rc, out), (rc2, out2)) = runs['_auth_store']
    assert rc == 0, out[-3000:]
    entry = config(home)['provider']['omniroute']
    assert 'apiKey' not in entry['options'] and entry['options']['baseURL'] == 'http://localhost:20128/v1'
    with open(str(auth(home))) as handle:
        assert json.load(handle) == {'omniroute': {'type': 'api', 'key': KEY}}
    assert fmode(auth(home)) == 0o600 and fmode(auth(home).parent) == 0o700
    assert rc2 == 0 and recap_changed(out2) == 0, out2[-3000:]
