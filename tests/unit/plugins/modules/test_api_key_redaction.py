# -*- coding: utf-8 -*-
"""The api_key module shows a management URL without its credentials, whatever fails."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.omniroute.opencode.plugins.modules import api_key
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import patch_module_args


@pytest.mark.parametrize('url, secrets', [
    ('http://admin:mgmt-pw-5858@127.0.0.1:9/?session=mgmt-q-6969', ['mgmt-pw-5858', 'mgmt-q-6969']),
    ('htp://admin:mgmt-pw-7070@127.0.0.1:9', ['mgmt-pw-7070']),
    ('http://[fd00::5', []),
])
def test_management_url_credentials_never_shown(capsys, tmp_path, url, secrets):
    args = {'url': url, 'password': 'adm-secret-8181', 'name': 'dev-laptop', 'lock_dir': str(tmp_path),
            'timeout': 2}
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            api_key.main()
    out = capsys.readouterr().out
    res = json.loads(out)
    assert res['failed'] and 'Traceback' not in res['msg']
    for secret in secrets + ['adm-secret-8181']:
        assert secret not in out
    assert res['invocation']['module_args']['url'].startswith(('http://127.0.0.1:9', 'htp://127.0.0.1:9', 'http://[fd00::5'))
