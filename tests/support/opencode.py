# -*- coding: utf-8 -*-
"""The real OpenCode client (npm ``opencode-ai``) for the suites that run it.

One ``opencode_bin`` fixture for tests/opencode, tests/gateway and any later suite: a suite's
conftest imports it (``from ...tests.support.opencode import opencode_bin``).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest

# The clone itself, not the collection link in .build/collections it is imported through.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
SETUP = os.path.join(REPO, 'tests', 'setup', 'opencode.sh')


def find_opencode():
    """``$OPENCODE_BIN`` (the make targets set it), else the binary the project's own setup script
    installs into the project cache (it installs it when missing)."""
    path = os.environ.get('OPENCODE_BIN')
    if not path:
        path = subprocess.run(['bash', SETUP], check=True, stdout=subprocess.PIPE,
                              universal_newlines=True).stdout.strip()
    assert os.access(path, os.X_OK), 'no OpenCode binary at %s' % path
    return path


@pytest.fixture(scope='session')
def opencode_bin():
    """The real OpenCode native binary."""
    return find_opencode()


@pytest.fixture(scope='session')
def opencode_version(opencode_bin):
    """What ``opencode --version`` prints."""
    out = subprocess.run([opencode_bin, '--version'], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True, stdin=subprocess.DEVNULL)
    return out.stdout.strip()
