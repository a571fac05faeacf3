# -*- coding: utf-8 -*-
"""Fixtures of the module tests."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.omniroute_fake import FakeOmniRoute


@pytest.fixture
def server():
    """An offline OmniRoute answering as 3.7.9 (omniroute_fake.py), for one test. A test file that
    needs another kind of server defines its own ``server``."""
    srv = FakeOmniRoute()
    yield srv
    srv.close()
