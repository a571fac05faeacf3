# -*- coding: utf-8 -*-
"""KNOWN BUG, found by issue 26's option tests; not part of any tier until the role is fixed.

Run: .venv/bin/python -m pytest -q -p no:cacheprovider tests/known_bugs

roles/opencode/tasks/omniroute_keys.yml registers the users (installed keys) and api_key calls
with ``failed_when: false`` and then reports a failure ``when: <result>.failed``. But
``failed_when: false`` sets the registered ``failed`` to false, so the reporting task never runs:
a failed key call (OmniRoute 3.7.9 refusing ``opencode_omniroute_expires_at``, a wrong password,
a user listed twice) ends in an unrelated templating error ("object of type 'dict' has no
attribute 'keys_by_label'" / "... 'key_requests'") instead of the role's own message naming the
host and saying that no OpenCode file was changed. (Testing ``<result>.msg is defined``, or
``failed_when_result``, would see it.) Both tests below fail today and pass with the fix; move
them into tests/unit/roles/test_role_options_processes.py with it.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.omniroute_fake import PASSWORD, FakeOmniRoute
from ansible_collections.omniroute.opencode.tests.unit.roles.test_role_options_processes import (
    KEY_NAME, ME, Scenario)


def test_an_expiry_refused_by_omniroute_379_is_reported(tmp_path):
    sc = Scenario(tmp_path, 'expiry')
    fake = FakeOmniRoute()  # 3.7.9: PATCH expiresAt -> 400
    try:
        held = fake.add(KEY_NAME)
        run = sc.play({'opencode_api_key_source': 'omniroute', 'opencode_omniroute_url': fake.url,
                       'opencode_omniroute_password': PASSWORD,
                       'opencode_omniroute_expires_at': '2031-01-31T00:00:00Z', 'opencode_models': ['auto'],
                       'opencode_users': [{'name': ME}]})
    finally:
        fake.close()
    assert run.rc != 0
    assert 'host localhost: ' in run.out and 'does not accept a key expiry' in run.out, run.out[-3000:]
    assert 'no OpenCode file was changed on localhost' in run.out
    assert not os.path.exists(sc.config_path()) and held['key'] not in run.out and PASSWORD not in run.out


def test_a_failed_installed_key_read_is_reported(tmp_path):
    sc = Scenario(tmp_path, 'twice')
    fake = FakeOmniRoute()
    try:
        run = sc.play({'opencode_api_key_source': 'omniroute', 'opencode_omniroute_url': fake.url,
                       'opencode_omniroute_password': PASSWORD, 'opencode_models': ['auto'],
                       'opencode_users': [{'name': ME}, {'name': ME}]})
    finally:
        fake.close()
    assert run.rc != 0
    assert "user '%s': listed more than once" % ME in run.out, run.out[-3000:]
    assert fake.calls == [] and not os.path.exists(sc.config_path())
