# -*- coding: utf-8 -*-
"""A failing test prints no key (issue 26): tests/conftest.py scrubs every failed report.

A small test file that fails on purpose runs in its own pytest with the same hook
(tests/secret_scrub.py as a plugin); its whole output must hold none of its secrets, nor any
8-character run of one, and must still say what failed. (It starts pytest, so the ansible-test
runs of the matrix leave this file out, as every ``test_*_processes.py``.)
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FAILING = '''
import secret_scrub

KEY = 'sk-unit-scrub-0a1b2c3d4e'
FILE_SECRETS = {'old': 'old-secret-7f8e9d0c'}


def test_assert_not_in():
    out = 'result: ' + KEY + ' and ' + FILE_SECRETS['old']
    print('captured stdout', KEY)
    assert KEY not in out


def test_set_equality_with_a_fixture(api_key):
    assert {'Bearer ' + api_key} == {'Bearer nothing'}


def test_runtime_key():
    made = 'rk-issued-by-a-server-5566'
    secret_scrub.register(made)
    assert made == 'x' * len(made)


def test_long_value_cut_by_pytest():
    assert ('padding ' * 40) + KEY + (' padding' * 40) == 'short'
'''

CONFTEST = '''
import pytest


@pytest.fixture
def api_key():
    return 'sk-per-test-fixture-key-77'
'''


def test_failure_reports_hold_no_secret(tmp_path):
    (tmp_path / 'test_fails.py').write_text(FAILING)
    (tmp_path / 'conftest.py').write_text(CONFTEST)
    env = dict(os.environ, PYTHONPATH=TESTS)
    proc = subprocess.run([sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-p', 'secret_scrub',
                           '-rA', str(tmp_path)], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert '4 failed' in out, out[-3000:]
    secrets = ['sk-unit-scrub-0a1b2c3d4e', 'old-secret-7f8e9d0c', 'sk-per-test-fixture-key-77',
               'rk-issued-by-a-server-5566']
    for secret in secrets:
        runs = [secret[i:i + 8] for i in range(len(secret) - 7)]
        shown = [r for r in runs if r in out]
        # (The message names the run found by its position only: the run itself is a secret.)
        assert not shown, 'secret #%d shows %d of its 8-character runs' % (secrets.index(secret), len(shown))
    # The masked form says which value it was, and the failures still read as failures.
    assert "assert 'sk-u...(24 chars)' not in" in out
    assert 'captured stdout sk-u...(24 chars)' in out
    assert 'AssertionError' in out
