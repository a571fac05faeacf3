# -*- coding: utf-8 -*-
"""A scratch home for tests that run the modules in-process (tests/unit).

``home`` is the pytest fixture: HOME points at the test's temporary directory, the XDG
variables are unset (so OpenCode's default layout under HOME applies) and the umask is 022 (the
modes the tests expect); the umask is restored afterwards. tests/unit/conftest.py imports it.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('XDG_CONFIG_HOME', raising=False)
    monkeypatch.delenv('XDG_DATA_HOME', raising=False)
    old = os.umask(0o022)
    try:
        yield tmp_path
    finally:
        os.umask(old)
