# -*- coding: utf-8 -*-
"""Markers of the unit tests.

``needs_root``: the test switches uids, changes ownership or mounts a file system. `make check`
(the fast tier, for any contributor) runs every other test; `make test-unit-root`, part of
`make test`, runs these as root and fails when not run as root.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The shared fixtures (tests/support): ``home``, a scratch HOME for the modules run in-process.
from ansible_collections.omniroute.opencode.tests.support.home import home  # noqa: F401 pylint: disable=unused-import


def pytest_configure(config):
    config.addinivalue_line('markers', 'needs_root: runs only as root (make test-unit-root, part of make test)')


import os  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _umask_is_restored():
    """A test (or fixture) that changes the process umask must put it back: the next test's
    expected modes depend on it, and the order of tests must not matter."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    after = os.umask(before)
    assert after == before, 'the umask was left at %04o (it was %04o before the test)' % (after, before)
