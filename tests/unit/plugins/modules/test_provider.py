# -*- coding: utf-8 -*-
"""The provider module on real files in temporary directories."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.omniroute.opencode.plugins.modules import provider
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import run_module
from ansible_collections.omniroute.opencode.tests.support.files import fmode as mode, write

KEY = 'sk-test-unit-6f1d2c'
OLD_KEY = 'sk-old-leaked-9a8b7c'


def run(capsys, args, check=False, diff=False):
    """Run the module like Ansible does; return (rc, result, raw stdout)."""
    return run_module(provider.main, capsys, args, check, diff)


def cfg(home, name='opencode.json'):
    return home / '.config' / 'opencode' / name


def test_creates_private_config_and_directories(home, capsys):
    rc, res, out = run(capsys, {'api_key': KEY, 'base_url': 'http://localhost:20128/'})
    assert rc == 0 and res['changed']
    path = cfg(home)
    assert res['path'] == str(path)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    data = parse(path.read_text())
    assert data['$schema'] == 'https://opencode.ai/config.json'
    entry = data['provider']['omniroute']
    assert entry['npm'] == '@ai-sdk/openai-compatible'
    assert entry['options'] == {'baseURL': 'http://localhost:20128/v1', 'apiKey': KEY}
    assert list(entry['models']) == ['claude-opus-4-5-thinking', 'claude-sonnet-4-5-thinking',
                                     'gemini-3.1-pro-high', 'gemini-3-flash']
    assert res['entry']['options']['apiKey'] == '********'
    assert KEY not in out


def test_second_run_changes_nothing_not_even_mtime(home, capsys):
    run(capsys, {'api_key': KEY})
    before = os.stat(str(cfg(home)))
    rc, res, out = run(capsys, {'api_key': KEY})
    after = os.stat(str(cfg(home)))
    assert not res['changed'] and res['files'] == []
    assert (before.st_mtime_ns, before.st_ino) == (after.st_mtime_ns, after.st_ino)


def test_merge_keeps_comments_providers_and_user_keys(home, capsys):
    text = ('{\r\n\t// team config\r\n\t"provider": {\r\n\t\t"anthropic": {"options": {"apiKey": "'
            + OLD_KEY + '"}},\r\n\t\t"omniroute": {\r\n\t\t\t/* ours */\r\n\t\t\t"options": {"baseURL":'
            ' "http://gw/v1/v1", "timeout": 9, "apiKey": "' + OLD_KEY + '"},\r\n\t\t\t"models": '
            '{"gone": {}, "auto": {"limit": {"context": 5}}}\r\n\t\t}\r\n\t}\r\n}\r\n')
    write(cfg(home), text)
    rc, res, out = run(capsys, {'api_key': KEY, 'base_url': 'http://gw', 'models': ['auto', ' auto ', ''],
                                'model_labels': {'auto': 'Auto-Combo'}}, diff=True)
    assert rc == 0 and res['changed']
    new = cfg(home).read_bytes().decode('utf-8')
    assert '// team config' in new and '/* ours */' in new
    assert '\n' not in new.replace('\r\n', '')
    data = parse(new)
    assert data['provider']['anthropic'] == {'options': {'apiKey': OLD_KEY}}
    entry = data['provider']['omniroute']
    assert entry['options'] == {'baseURL': 'http://gw/v1', 'timeout': 9, 'apiKey': KEY}
    assert entry['models'] == {'auto': {'limit': {'context': 5}, 'name': 'Auto-Combo'}}
    assert res['models'] == ['auto']
    # Neither the new key nor any key already in the file leaks through result or diff.
    assert KEY not in out and OLD_KEY not in out
    assert '********' in res['diff'][0]['before'] and '"timeout": 9' in res['diff'][0]['after']
    # A file the module writes a key into is no longer readable by others.
    assert mode(cfg(home)) == 0o600


def test_check_mode_reports_but_writes_nothing(home, capsys):
    write(cfg(home), '{}\n')
    rc, res, out = run(capsys, {'api_key': KEY}, check=True, diff=True)
    assert res['changed']
    assert cfg(home).read_text() == '{}\n' and mode(cfg(home)) == 0o644
    assert KEY not in out


def test_winning_file_is_edited_and_lower_copies_removed(home, capsys):
    write(cfg(home, 'config.json'), '{"provider": {"omniroute": {"models": {"x": {}}}, "y": {}}}')
    write(cfg(home, 'opencode.jsonc'), '// main\n{}\n')
    rc, res, out = run(capsys, {'api_key': KEY})
    assert res['path'] == str(cfg(home, 'opencode.jsonc'))
    assert not cfg(home, 'opencode.json').exists()
    # OpenCode would insert $schema into the file it loads; the module does it when it writes.
    assert parse(cfg(home, 'config.json').read_text()) == {'$schema': 'https://opencode.ai/config.json',
                                                           'provider': {'y': {}}}
    assert sorted(res['files']) == sorted([str(cfg(home, 'config.json')), str(cfg(home, 'opencode.jsonc'))])


def test_hiding_settings_are_repaired(home, capsys):
    write(cfg(home), json.dumps({
        'disabled_providers': ['omniroute', 'x'], 'enabled_providers': ['x'],
        'provider': {'omniroute': {'whitelist': ['a'], 'blacklist': ['auto'],
                                   'models': {'auto': {'status': 'deprecated'}}}}}, indent=2))
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['auto']})
    data = parse(cfg(home).read_text())
    assert data['disabled_providers'] == ['x']
    assert data['enabled_providers'] == ['x', 'omniroute']
    entry = data['provider']['omniroute']
    assert 'whitelist' not in entry and 'blacklist' not in entry
    assert entry['models'] == {'auto': {'name': 'auto'}}


def test_auth_store_keeps_other_logins_and_config_has_no_key(home, capsys):
    auth = home / '.local' / 'share' / 'opencode' / 'auth.json'
    write(auth, json.dumps({'anthropic': {'type': 'oauth', 'refresh': 'r-123'}}, indent=2), 0o600)
    write(cfg(home), json.dumps({'provider': {'omniroute': {'options': {'apiKey': OLD_KEY}}}}))
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth'}, diff=True)
    assert res['auth_changed'] and rc == 0
    stored = json.loads(auth.read_text())
    assert stored == {'anthropic': {'type': 'oauth', 'refresh': 'r-123'}, 'omniroute': {'type': 'api', 'key': KEY}}
    assert mode(auth) == 0o600
    assert 'apiKey' not in parse(cfg(home).read_text())['provider']['omniroute']['options']
    assert KEY not in out and OLD_KEY not in out
    # Back to the config: the stored key goes away.
    rc, res, out = run(capsys, {'api_key': KEY})
    assert json.loads(auth.read_text()) == {'anthropic': {'type': 'oauth', 'refresh': 'r-123'}}


def test_absent_offboards_entry_model_and_stored_key(home, capsys):
    auth = home / '.local' / 'share' / 'opencode' / 'auth.json'
    write(auth, json.dumps({'omniroute': {'type': 'api', 'key': OLD_KEY}}), 0o600)
    write(cfg(home), '{\n  // mine\n  "model": "omniroute/auto",\n  "small_model": "other/x",\n'
                     '  "provider": {\n    "omniroute": {"options": {"apiKey": "' + OLD_KEY + '"}}\n  }\n}\n')
    rc, res, out = run(capsys, {'state': 'absent'}, diff=True)
    assert res['changed']
    assert cfg(home).read_text() == '{\n  // mine\n  "small_model": "other/x",\n  "provider": {}\n}\n'
    assert json.loads(auth.read_text()) == {}
    assert OLD_KEY not in out
    rc, res, out = run(capsys, {'state': 'absent'})
    assert not res['changed']


def test_symlinked_config_keeps_its_link(home, capsys):
    dotfiles = home / 'dotfiles'
    write(dotfiles / 'opencode.json', '{"theme": "x"}\n')
    cfg(home).parent.mkdir(parents=True)
    os.symlink(str(dotfiles / 'opencode.json'), str(cfg(home)))
    rc, res, out = run(capsys, {'api_key': KEY})
    assert os.path.islink(str(cfg(home)))
    assert parse((dotfiles / 'opencode.json').read_text())['theme'] == 'x'
    assert 'omniroute' in parse((dotfiles / 'opencode.json').read_text())['provider']


def test_backup_is_private(home, capsys):
    write(cfg(home), json.dumps({'provider': {'omniroute': {'options': {'apiKey': OLD_KEY}}}}), 0o644)
    rc, res, out = run(capsys, {'api_key': KEY, 'backup': True})
    assert os.path.exists(res['backup_file'])
    assert mode(res['backup_file']) == 0o600
    assert OLD_KEY in open(res['backup_file']).read()


def test_reference_keys_are_written_as_given_and_keep_the_mode(home, capsys):
    write(cfg(home), '{}\n', 0o644)
    rc, res, out = run(capsys, {'api_key': '{env:OMNIROUTE_API_KEY}'})
    assert parse(cfg(home).read_text())['provider']['omniroute']['options']['apiKey'] == '{env:OMNIROUTE_API_KEY}'
    assert mode(cfg(home)) == 0o644


@pytest.mark.parametrize('text, words', [
    ('{\n  "a": 1,,\n}', 'line 2, column 10'),
    ('[]', 'top level is not an object'),
    ('{"provider": "x"}', '"provider" is not an object at line 1, column 14'),
    ('{\n  "provider": []\n}', '"provider" is not an object at line 2, column 15'),
])
def test_bad_files_fail_clearly_and_stay_byte_for_byte(home, capsys, text, words):
    write(cfg(home), text)
    before = cfg(home).read_bytes()
    rc, res, out = run(capsys, {'api_key': KEY})
    assert rc == 1 and res['failed']
    assert words in res['msg'] and str(cfg(home)) in res['msg']
    assert 'user ' in res['msg']
    assert cfg(home).read_bytes() == before


def test_not_utf8_and_directory_fail_clearly(home, capsys):
    cfg(home).parent.mkdir(parents=True)
    cfg(home).write_bytes(b'{"a": "\xff"}')
    rc, res, out = run(capsys, {'api_key': KEY})
    assert rc == 1 and 'not UTF-8' in res['msg'] and 'line 1, column 8' in res['msg']
    os.unlink(str(cfg(home)))
    cfg(home).mkdir()
    rc, res, out = run(capsys, {'api_key': KEY})
    assert rc == 1 and 'is a directory' in res['msg']


@pytest.mark.parametrize('url, words', [
    ('ftp://host', 'http:// or https://'),
    ('http://user:pw@host', 'user name or password'),
    ('localhost:20128', 'http:// or https://'),
    ('http://host/?a=1', 'query string'),
])
def test_bad_base_url_fails_without_touching_files(home, capsys, url, words):
    rc, res, out = run(capsys, {'api_key': KEY, 'base_url': url})
    assert rc == 1 and words in res['msg']
    assert not cfg(home).exists()
    # The module never echoes a password given in the URL in what it reports. (Ansible's own
    # `invocation` copy of the arguments is left out here: base_url is not a no_log option.)
    own = json.dumps(dict((k, v) for k, v in res.items() if k != 'invocation'))
    assert 'pw@' not in own and 'user:pw' not in own


def test_model_must_be_in_the_catalog(home, capsys):
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['a'], 'model': 'b'})
    assert rc == 1 and "'b' is not in the models catalog" in res['msg']


def test_create_false_with_missing_file_fails(home, capsys):
    rc, res, out = run(capsys, {'api_key': KEY, 'create': False})
    assert rc == 1 and 'does not exist' in res['msg']


def test_explicit_path_overridden_by_a_later_file_warns(home, capsys):
    write(cfg(home, 'opencode.jsonc'), '{}')
    rc, res, out = run(capsys, {'api_key': KEY, 'path': str(cfg(home, 'config.json'))})
    assert 'is overridden by %s' % cfg(home, 'opencode.jsonc') in json.dumps(res.get('warnings'))


def test_the_file_options_set_the_mode_alone_as_a_change(home, capsys):
    run(capsys, {'api_key': KEY})
    assert mode(cfg(home)) == 0o600
    rc, res, out = run(capsys, {'api_key': KEY, 'mode': '0640'})
    assert rc == 0 and res['changed'] is True and res['files'] == [] and mode(cfg(home)) == 0o640
    rc, res, out = run(capsys, {'api_key': KEY, 'mode': '0640'})
    assert rc == 0 and res['changed'] is False


def test_the_result_names_every_backup_and_echoes_the_arguments_without_the_key(home, capsys):
    write(cfg(home), json.dumps({'provider': {'omniroute': {'options': {'apiKey': OLD_KEY}}}}), 0o600)
    rc, res, out = run(capsys, {'api_key': KEY, 'backup': True, 'base_url': 'http://bob:pw@localhost:20128'})
    assert rc == 1 and res['invocation']['module_args']['base_url'] == 'http://localhost:20128'
    assert res['invocation']['module_args']['api_key'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    rc, res, out = run(capsys, {'api_key': KEY, 'backup': True})
    assert rc == 0 and res['backup_files'] == {str(cfg(home)): res['backup_file']}
    assert res['invocation']['module_args']['api_key'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    assert 'verify' not in res and KEY not in out and OLD_KEY not in out
