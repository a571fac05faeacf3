# -*- coding: utf-8 -*-
"""All or nothing per user, against real kernel faults (root tier: tmpfs mounts).

The credential store and the config live on two small tmpfs; the checks before any write pass,
then, right after the credential store is written, the config's file system fills up or is
remounted read-only, so the config's write fails for real and the credential store is rolled back.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfgmod
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.test_provider_hardening import (  # noqa: F401 pylint: disable=unused-import
    _fill, run, tmpfs)
from ansible_collections.omniroute.opencode.tests.support.files import fmode

pytestmark = pytest.mark.needs_root

KEY = 'sk-unit-faults-9c8d7e6f'
OLD_KEY = 'sk-unit-faults-old-5a4b3c'


def after_first_write(monkeypatch, fault):
    real = cfgmod._write
    calls = []

    def write(module, change, policy):
        made = real(module, change, policy)
        calls.append(change.path)
        if len(calls) == 1:
            fault()
        return made

    monkeypatch.setattr(cfgmod, '_write', write)
    return calls


@pytest.mark.parametrize('fault', ['disk full', 'read-only remount'])
def test_a_real_fault_after_the_first_write_rolls_it_back(home, capsys, tmpfs, monkeypatch, fault):
    store, conf = tmpfs('256k'), tmpfs('64k')
    auth = store / 'auth.json'
    auth.write_text('{"other": {"type": "api", "key": "%s"}}' % OLD_KEY)
    os.chmod(str(auth), 0o600)
    config = conf / 'opencode.json'
    config.write_text('{\n  // mine\n  "theme": "dusk"\n}\n')
    auth_before, config_before = auth.read_bytes(), config.read_bytes()
    if fault == 'disk full':
        calls = after_first_write(monkeypatch, lambda: _fill(conf, 0))
        words = 'no space left on device (ENOSPC)'
    else:
        calls = after_first_write(monkeypatch, lambda: subprocess.run(
            ['mount', '-o', 'remount,ro', str(conf)], check=True))
        words = 'read-only file system (EROFS)'
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth', 'auth_path': str(auth), 'path': str(config),
                                'backup': True})
    assert calls == [str(auth)]
    assert rc == 1 and res['changed'] is True, res
    assert words in res['msg'] and 'nothing was changed' not in res['msg'] and 'Traceback' not in out
    assert 'rolled back %s (earlier content, mode and owner restored)' % auth in res['msg']
    assert res['restored'] == [str(auth)] and res['not_restored'] == []
    assert auth.read_bytes() == auth_before and fmode(auth) == 0o600
    assert config.read_bytes() == config_before
    (backup,) = res['backup_files'].values()
    assert open(backup, 'rb').read() == auth_before
    assert KEY not in out and OLD_KEY not in out
    assert sorted(n for n in os.listdir(str(conf)) if n != 'filler') == ['opencode.json']


def test_the_checks_find_a_read_only_target_before_the_first_write(home, capsys, tmpfs):
    store, conf = tmpfs('256k'), tmpfs('64k')
    auth = store / 'auth.json'
    config = conf / 'opencode.json'
    config.write_text('{}\n')
    subprocess.run(['mount', '-o', 'remount,ro', str(conf)], check=True)
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth', 'auth_path': str(auth), 'path': str(config)})
    assert rc == 1 and not res['changed']
    assert res['msg'] == ('cannot write %s (%s): %s is on a read-only file system (EROFS); nothing was changed'
                          % (config, cfgmod.where(), conf))
    assert not auth.exists()
