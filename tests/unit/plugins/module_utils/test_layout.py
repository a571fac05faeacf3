# -*- coding: utf-8 -*-
"""_layout: OpenCode's paths per user and OS, the layers after a target, login files, the binary."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _layout
from ansible_collections.omniroute.opencode.plugins.module_utils._layout import Layout
from ansible_collections.omniroute.opencode.tests.support.files import SOMEONE_ELSE


# --------------------------------------------------------------------------- paths
def test_defaults_under_home(tmp_path):
    lay = Layout({'HOME': str(tmp_path)})
    assert lay.config_dir == str(tmp_path / '.config' / 'opencode')
    assert lay.data_dir == str(tmp_path / '.local' / 'share' / 'opencode')
    assert lay.auth_path == str(tmp_path / '.local' / 'share' / 'opencode' / 'auth.json')
    assert lay.discover() == (str(tmp_path / '.config' / 'opencode' / 'opencode.json'), [])
    assert lay.dot_opencode() == [str(tmp_path / '.opencode' / 'opencode.json'),
                                  str(tmp_path / '.opencode' / 'opencode.jsonc')]


def test_one_xdg_rule_an_xdg_directory_of_another_account_is_ignored(tmp_path):
    xdg = tmp_path / 'xdg'
    xdg.mkdir()
    env = {'HOME': str(tmp_path / 'home'), 'XDG_CONFIG_HOME': str(xdg), 'XDG_DATA_HOME': str(xdg)}
    mine = Layout(env)
    assert mine.config_dir == str(xdg / 'opencode') and mine.ignored_xdg() == []
    theirs = Layout(env, uid=SOMEONE_ELSE)
    assert theirs.config_dir == str(tmp_path / 'home' / '.config' / 'opencode')
    assert theirs.auth_path == str(tmp_path / 'home' / '.local' / 'share' / 'opencode' / 'auth.json')
    assert theirs.ignored_xdg() == [('XDG_CONFIG_HOME', str(xdg)), ('XDG_DATA_HOME', str(xdg))]
    # A relative XDG directory is not one either.
    assert Layout(dict(env, XDG_CONFIG_HOME='rel')).config_dir == str(tmp_path / 'home' / '.config' / 'opencode')


def test_the_layers_after_a_target_follow_the_same_xdg_rule(tmp_path):
    """verify used to take $XDG_CONFIG_HOME as it came, while the plan ignored a foreign one."""
    xdg = tmp_path / 'xdg'
    (xdg / 'opencode').mkdir(parents=True)
    (xdg / 'opencode' / 'opencode.jsonc').write_text('{"disabled_providers": ["omniroute"]}')
    home = tmp_path / 'home'
    (home / '.config' / 'opencode').mkdir(parents=True)
    env = {'HOME': str(home), 'XDG_CONFIG_HOME': str(xdg), 'OPENCODE_TEST_MANAGED_CONFIG_DIR': str(tmp_path / 'none')}
    target = str(home / '.config' / 'opencode' / 'opencode.json')
    theirs = Layout(env, uid=SOMEONE_ELSE)
    assert _layout.overriding_layers('omniroute', theirs, target) == []
    mine = Layout(env)
    assert [layer['path'] for layer in _layout.overriding_layers('omniroute', mine, str(xdg / 'opencode' / 'opencode.json'))] \
        == [str(xdg / 'opencode' / 'opencode.jsonc')]


@pytest.mark.parametrize('system, expected', [('Linux', '/etc/opencode'),
                                              ('Darwin', '/Library/Application Support/opencode'),
                                              ('FreeBSD', '/etc/opencode')])
def test_managed_directory_per_os_and_the_test_variable_wins(system, expected):
    assert Layout({}, home='/h', system=system).managed_dir == expected
    assert Layout({}, home='/h', system=system).os_managed_dir == expected
    moved = Layout({'OPENCODE_TEST_MANAGED_CONFIG_DIR': '/srv/x'}, home='/h', system=system)
    assert moved.managed_dir == '/srv/x' and moved.os_managed_dir == expected
    assert moved.managed_files() == ['/srv/x/opencode.json', '/srv/x/opencode.jsonc']
    assert _layout.os_managed_dir(system) == expected


def test_the_provider_plan_warns_about_the_managed_files_opencode_reads(tmp_path):
    """The warning looked at /etc/opencode on every OS; it follows OpenCode's managed directory."""
    managed = tmp_path / 'managed'
    managed.mkdir()
    (managed / 'opencode.jsonc').write_text('{}')
    env = {'HOME': str(tmp_path), 'OPENCODE_TEST_MANAGED_CONFIG_DIR': str(managed)}
    plan = cfg.plan(dict(cfg.PARAM_DEFAULTS, api_key='sk-layout-0000'), env, who='user u on h')
    assert [w for w in plan.warnings if 'managed by the administrator' in w] == [
        '%s (managed by the administrator) is loaded last by OpenCode and can override or hide provider.omniroute'
        % (managed / 'opencode.jsonc')]


def test_layers_after_include_opencode_config_dir_after_dot_opencode(tmp_path):
    env = {'HOME': str(tmp_path), 'OPENCODE_CONFIG': '~/oc.json', 'OPENCODE_CONFIG_DIR': str(tmp_path / 'dir'),
           'OPENCODE_TEST_MANAGED_CONFIG_DIR': str(tmp_path / 'm')}
    lay = Layout(env)
    assert lay.layers_after(lay.global_files()[1]) == [
        ('global file loaded after opencode.json', lay.global_files()[2]),
        ('OPENCODE_CONFIG', str(tmp_path / 'oc.json')),
        ('~/.opencode', str(tmp_path / '.opencode' / 'opencode.json')),
        ('~/.opencode', str(tmp_path / '.opencode' / 'opencode.jsonc')),
        ('OPENCODE_CONFIG_DIR', str(tmp_path / 'dir' / 'opencode.json')),
        ('OPENCODE_CONFIG_DIR', str(tmp_path / 'dir' / 'opencode.jsonc')),
        ('managed (administrator)', str(tmp_path / 'm' / 'opencode.json')),
        ('managed (administrator)', str(tmp_path / 'm' / 'opencode.jsonc'))]


def test_user_layers_reads_global_files_opencode_config_and_dot_opencode_after_the_plan(tmp_path):
    home = tmp_path / 'home'
    conf = home / '.config' / 'opencode'
    conf.mkdir(parents=True)
    (home / '.opencode').mkdir()
    (conf / 'opencode.json').write_text('{"provider": {"omniroute": {"options": {"baseURL": "http://x/v1"}}}}')
    # The user's own model choice is no problem in managed scope; another provider neither.
    (conf / 'config.json').write_text('{"model": "lmstudio/q", "provider": {"lmstudio": {}}}')
    extra = tmp_path / 'extra.jsonc'
    extra.write_text('// mine\n{"provider": {"omniroute": {"models": {"m": {}}}}}')
    (home / '.opencode' / 'opencode.json').write_text('{"disabled_providers": ["omniroute"]}')
    lay = Layout({'OPENCODE_CONFIG': str(extra)}, home=str(home))
    layers = _layout.user_layers('omniroute', lay)
    assert [(layer['kind'], layer['path']) for layer in layers] == [
        ('global config', str(conf / 'opencode.json')), ('OPENCODE_CONFIG', str(extra)),
        ('~/.opencode', str(home / '.opencode' / 'opencode.json'))]
    assert layers[0]['effects'] == ['sets provider.omniroute (options.baseURL)']
    assert layers[1]['effects'] == ['sets provider.omniroute (models)']
    assert layers[2]['effects'] == ['lists omniroute in disabled_providers']
    # What the plan will write is what counts; a file that stays elsewhere still counts.
    pending = {str(conf / 'opencode.json'): '{}', str(home / '.opencode' / 'opencode.json'): '{}'}
    assert [layer['kind'] for layer in _layout.user_layers('omniroute', lay, pending)] == ['OPENCODE_CONFIG']
    assert _layout.user_layers('omniroute', Layout({}, home=str(tmp_path / 'nobody'))) == []


def test_a_fifo_layer_is_not_read_and_does_not_block(tmp_path):
    (tmp_path / '.opencode').mkdir()
    os.mkfifo(str(tmp_path / '.opencode' / 'opencode.json'))
    started = time.time()
    assert _layout.user_layers('omniroute', Layout({}, home=str(tmp_path))) == []
    assert time.time() - started < 30


# --------------------------------------------------------------------------- login files
LOGIN_FILES = {
    '.bashrc': '# export OPENCODE_CONFIG=/commented\nalias ll="ls -l"\nexport OPENCODE_CONFIG=~/work/oc.json\n',
    '.profile': 'PATH=$HOME/bin:$PATH\nOPENCODE_CONFIG_DIR=/opt/oc  # not exported here\n'
                'export PATH OPENCODE_CONFIG_DIR\n',
    '.zshenv': 'typeset -x OPENCODE_TEST_MANAGED_CONFIG_DIR=/tmp/empty\ndeclare OPENCODE_CONFIG=/plain\n',
    '.config/fish/config.fish': 'set -gx OPENCODE_CONFIG /f.json\nset -e OPENCODE_CONFIG_DIR\n',
    '.config/environment.d/10-oc.conf': 'OPENCODE_CONFIG_DIR=/e\n',
    '.cshrc': 'setenv OPENCODE_CONFIG /c.json\n',
    '.bash_aliases': 'echo $OPENCODE_CONFIG\nexport OPENCODE_CONFIGURED=1\n',
}


def _login_home(tmp_path):
    for name, text in LOGIN_FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_login_files_that_export_opencode_location_variables_are_named_with_the_line(tmp_path):
    home = _login_home(tmp_path)
    found = dict((os.path.relpath(f['path'], str(home)), f['effects'])
                 for f in _layout.login_exports(Layout({}, home=str(home))))
    assert found == {
        '.bashrc': ['exports OPENCODE_CONFIG (line 3)'],
        '.profile': ['exports OPENCODE_CONFIG_DIR (line 3)'],
        '.zshenv': ['exports OPENCODE_TEST_MANAGED_CONFIG_DIR (line 1)'],
        '.cshrc': ['exports OPENCODE_CONFIG (line 1)'],
        os.path.join('.config', 'fish', 'config.fish'): ['exports OPENCODE_CONFIG (line 1)'],
        os.path.join('.config', 'environment.d', '10-oc.conf'): ['exports OPENCODE_CONFIG_DIR (line 1)'],
    }


def test_login_files_are_read_bounded_and_special_files_are_skipped(tmp_path):
    pad = '# ' + 'x' * 1000 + '\n'
    (tmp_path / '.bashrc').write_text(pad * 300 + 'export OPENCODE_CONFIG=/late\n')  # past 256 KiB
    os.mkfifo(str(tmp_path / '.profile'))
    started = time.time()
    assert _layout.login_exports(Layout({}, home=str(tmp_path))) == []
    assert time.time() - started < 30
    (tmp_path / '.bashrc').write_text(pad * 10 + 'export OPENCODE_CONFIG=/early\n')
    assert [f['lines'] for f in _layout.login_exports(Layout({}, home=str(tmp_path)))] == [[11]]


def test_verify_is_not_ready_while_a_login_file_exports_opencode_config(tmp_path):
    from ansible_collections.omniroute.opencode.tests.unit.plugins.module_utils.test_gateway_utils import Stub
    stub = Stub()
    try:
        stub.reply = (200, b'{"data": [{"id": "auto"}]}', 0)
        home = tmp_path / 'home'
        home.mkdir()
        env = {'HOME': str(home), 'PATH': '', 'OPENCODE_TEST_MANAGED_CONFIG_DIR': str(tmp_path / 'none')}
        params = {'name': 'omniroute', 'base_url': stub.url}
        assert gw.verify(params, 'sk-layout-verify-1234', env, str(home), configured=['auto'])['ready'] is True
        (home / '.bashrc').write_text('export OPENCODE_CONFIG=$HOME/other.json\n')
        res = gw.verify(params, 'sk-layout-verify-1234', env, str(home), configured=['auto'])
        assert res['ready'] is False
        assert res['layers'] == [dict(path=str(home / '.bashrc'), kind='login file',
                                      effects=['exports OPENCODE_CONFIG (line 1)'], lines=[1])]
    finally:
        stub.close()


# --------------------------------------------------------------------------- the binary
def test_find_opencode_path_dot_opencode_and_npm_prefix(tmp_path):
    home = tmp_path / 'home'
    (home / '.opencode' / 'bin').mkdir(parents=True)
    prefix = tmp_path / 'npm'
    (prefix / 'bin').mkdir(parents=True)
    npm_bin = prefix / 'bin' / 'opencode'
    npm_bin.write_text('#!/bin/sh\n')
    npm_bin.chmod(0o755)
    (home / '.npmrc').write_text('registry=x\nprefix = %s\n' % prefix)
    assert Layout({'PATH': ''}, home=str(home)).find_opencode() == str(npm_bin)
    dot = home / '.opencode' / 'bin' / 'opencode'
    dot.write_text('#!/bin/sh\n')
    dot.chmod(0o755)
    assert Layout({'PATH': ''}, home=str(home)).find_opencode() == str(dot)
    assert Layout({'PATH': str(prefix / 'bin')}, home=str(home)).find_opencode() == str(npm_bin)


def _script(tmp_path, body):
    path = tmp_path / 'opencode'
    path.write_text('#!/bin/sh\n' + body)
    path.chmod(0o755)
    return str(path)


def test_opencode_version_writes_nothing_in_home(tmp_path, monkeypatch):
    fake = _script(tmp_path, 'mkdir -p "$HOME/.cache/opencode" && echo 1.2.3\n')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    os.makedirs(str(tmp_path / 'home'))
    assert _layout.opencode_version(fake) == ('1.2.3', None)
    assert os.listdir(str(tmp_path / 'home')) == []


def test_opencode_version_is_bounded_in_time_and_kills_what_it_started(tmp_path):
    marker = tmp_path / 'still-running'
    fake = _script(tmp_path, '(sleep 3; touch %s) &\nsleep 100\n' % marker)
    started = time.time()
    version, why = _layout.opencode_version(fake, timeout=1)
    assert version is None and why == '--version: no answer within 1 s'
    assert time.time() - started < 30
    time.sleep(4)
    assert not marker.exists()


def test_opencode_version_output_is_bounded(tmp_path):
    fake = _script(tmp_path, 'while :; do echo 1.2.3; done\n')
    started = time.time()
    version, why = _layout.opencode_version(fake, timeout=60, limit=4096)
    assert version is None and why == '--version: more than 4096 bytes of output'
    assert time.time() - started < 30


def test_opencode_version_cleans_what_it_shows(tmp_path):
    fake = _script(tmp_path, 'printf "\\033[31m1.18.33\\033[0m\\n"\n')
    assert _layout.opencode_version(fake) == ('[31m1.18.33[0m', None)
    failing = _script(tmp_path, 'echo "boom\\033[2J" >&2; exit 3\n')
    assert _layout.opencode_version(failing) == (None, 'exit 3: boom[2J')


def test_managed_verify_is_not_ready_while_a_login_file_exports_a_location_variable(tmp_path):
    from ansible_collections.omniroute.opencode.plugins.module_utils import _managed as mg
    from ansible_collections.omniroute.opencode.tests.unit.plugins.module_utils.test_gateway_utils import Stub
    stub = Stub()
    try:
        stub.reply = (200, b'{"data": [{"id": "auto"}]}', 0)
        managed = tmp_path / 'managed'
        managed.mkdir()
        spec = mg.ManagedSpec(base_url=stub.url, models=['auto'])
        (managed / 'opencode.json').write_text(mg.plan_managed('', spec).new_text)
        home = tmp_path / 'home'
        home.mkdir()
        env = {'HOME': str(home), 'PATH': ''}
        params = {'name': 'omniroute', 'base_url': stub.url}
        auth = str(home / 'auth.json')
        key = 'sk-layout-managed-5678'
        assert mg.verify_user(params, key, env, str(home), 'present', auth, 'user u on h',
                              directory=str(managed))['ready'] is True
        (home / '.profile').write_text('# mine\nexport OPENCODE_TEST_MANAGED_CONFIG_DIR=/tmp/elsewhere\n')
        res = mg.verify_user(params, key, env, str(home), 'present', auth, 'user u on h', directory=str(managed))
        assert res['ready'] is False
        assert res['cause'] == ('user u on h: %s (login file) still exports OPENCODE_TEST_MANAGED_CONFIG_DIR (line 2)'
                                % (home / '.profile'))
    finally:
        stub.close()
