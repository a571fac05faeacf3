# -*- coding: utf-8 -*-
"""KNOWN BUG, found by issue 26's fidelity probe; not part of any tier until api_key is fixed.

Run: .venv/bin/python -m pytest -q -p no:cacheprovider tests/known_bugs

OmniRoute 3.7.9 ignores ``allowedModels`` in ``POST /api/keys`` (make test-omniroute's fidelity
step shows it: a key created with ``allowedModels: [auto]`` is listed with ``[]``). api_key's
rotation on a server without a regenerate route creates the replacement with the old key's
``allowedModels`` in that body, then revokes the old key, and only PATCHes the policy when the
task itself asks for ``allowed_models``. So on 3.7.9 a rotation with ``allowed_models`` omitted
("leave the policy as it is") replaces a restricted key with an unrestricted one. (PATCHing the
replacement with the old key's policy whenever the create answer does not confirm it would fix
it.) The test fails today and passes with the fix; move it into
tests/unit/plugins/modules/test_api_key_offline.py with it.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.omniroute.opencode.plugins.modules import api_key
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import run_module
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.omniroute_fake import PASSWORD, FakeOmniRoute


def test_rotation_on_379_keeps_the_old_keys_allowed_models(capsys, tmp_path):
    server = FakeOmniRoute()  # 3.7.9: no regenerate, create ignores allowedModels
    try:
        old = server.add('opencode:alice@laptop1', allowedModels=['auto'])
        rc, res, out = run_module(api_key.main, capsys, {
            'url': server.url, 'password': PASSWORD, 'name': 'opencode:alice@laptop1', 'rotate': True,
            'lock_dir': str(tmp_path)})
        assert rc == 0 and res['rotated'] and res['revoked'] == [old['id']]
        (new,) = server.keys
        assert new['id'] != old['id']
        assert new['allowedModels'] == ['auto'], 'the replacement key lost the old key policy: %s' % json.dumps(
            new['allowedModels'])
    finally:
        server.close()
