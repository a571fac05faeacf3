# -*- coding: utf-8 -*-
"""_layout's rules as plain functions: the login files of a user and what they export, npm's
prefixes, the user layers, what a layer does to a provider, bounded reads, the binary a user would
run, whether every user shares it, its version and the bounded run that asks for it. Real files
under tmp_path, real processes; owners are faked only where a normal user cannot give a file away.
Every result and message is compared whole."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import json
import os
import stat
import sys
import tempfile
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _layout
from ansible_collections.omniroute.opencode.plugins.module_utils._layout import Layout
from ansible_collections.omniroute.opencode.tests.support.files import SOMEONE_ELSE, write

ME = os.geteuid()


# --------------------------------------------------------------------------- login files
def test_every_login_file_of_every_shell_is_listed_in_order_with_its_syntax(tmp_path):
    home = tmp_path / 'home'
    zdot = tmp_path / 'zdot'
    xdg = tmp_path / 'xdg'
    write(xdg / 'fish' / 'conf.d' / 'b.fish', '')
    write(xdg / 'fish' / 'conf.d' / 'a.fish', '')
    write(xdg / 'fish' / 'conf.d' / 'notes.txt', '')
    write(xdg / 'environment.d' / '10-oc.conf', '')
    write(xdg / 'environment.d' / 'readme', '')
    lay = Layout({'ZDOTDIR': str(zdot), 'XDG_CONFIG_HOME': str(xdg)}, home=str(home), uid=ME)
    h, z, x = str(home), str(zdot), str(xdg)
    assert lay.login_files() == [
        (h + '/.profile', 'sh'), (h + '/.bash_profile', 'sh'), (h + '/.bash_login', 'sh'), (h + '/.bashrc', 'sh'),
        (h + '/.bash_aliases', 'sh'), (h + '/.kshrc', 'sh'), (h + '/.mkshrc', 'sh'),
        (z + '/.zshenv', 'sh'), (z + '/.zprofile', 'sh'), (z + '/.zshrc', 'sh'), (z + '/.zlogin', 'sh'),
        (h + '/.cshrc', 'csh'), (h + '/.tcshrc', 'csh'), (h + '/.login', 'csh'),
        (h + '/.pam_environment', 'env'),
        (x + '/fish/config.fish', 'fish'), (x + '/fish/conf.d/a.fish', 'fish'), (x + '/fish/conf.d/b.fish', 'fish'),
        (x + '/environment.d/10-oc.conf', 'env')]


def test_without_zdotdir_the_zsh_files_are_in_the_home(tmp_path):
    lay = Layout({}, home=str(tmp_path), uid=ME)
    assert [p for p, _syntax in lay.login_files() if '.z' in p] == [
        str(tmp_path / n) for n in ('.zshenv', '.zprofile', '.zshrc', '.zlogin')]


def test_a_login_file_of_each_shell_that_exports_a_location_variable_is_named(tmp_path):
    zdot = tmp_path / 'zdot'
    files = {
        '.bash_profile': 'export OPENCODE_CONFIG=/a\n',
        '.bash_login': 'export OPENCODE_CONFIG=/b\n',
        '.kshrc': 'export OPENCODE_CONFIG_DIR=/c\n',
        '.mkshrc': 'export OPENCODE_CONFIG_DIR=/d\n',
        '.tcshrc': 'setenv OPENCODE_CONFIG /e\n',
        '.login': 'setenv OPENCODE_CONFIG_DIR /f\n',
        '.pam_environment': 'PATH DEFAULT=/bin\nFOO=1\nOPENCODE_CONFIG DEFAULT=/g\n',
        '.config/fish/conf.d/oc.fish': 'set --export OPENCODE_CONFIG /h\nset --unexport OPENCODE_CONFIG_DIR\n'
                                       'set -U OPENCODE_CONFIG /i\n',
    }
    for name, text in files.items():
        write(tmp_path / name, text)
    for name in ('.zprofile', '.zshrc', '.zlogin'):
        write(zdot / name, 'export OPENCODE_TEST_MANAGED_CONFIG_DIR=/z\n')
    found = _layout.login_exports(Layout({'ZDOTDIR': str(zdot)}, home=str(tmp_path), uid=ME))
    assert [(os.path.relpath(f['path'], str(tmp_path)), f['kind'], f['effects'], f['lines']) for f in found] == [
        ('.bash_profile', 'login file', ['exports OPENCODE_CONFIG (line 1)'], [1]),
        ('.bash_login', 'login file', ['exports OPENCODE_CONFIG (line 1)'], [1]),
        ('.kshrc', 'login file', ['exports OPENCODE_CONFIG_DIR (line 1)'], [1]),
        ('.mkshrc', 'login file', ['exports OPENCODE_CONFIG_DIR (line 1)'], [1]),
        ('zdot/.zprofile', 'login file', ['exports OPENCODE_TEST_MANAGED_CONFIG_DIR (line 1)'], [1]),
        ('zdot/.zshrc', 'login file', ['exports OPENCODE_TEST_MANAGED_CONFIG_DIR (line 1)'], [1]),
        ('zdot/.zlogin', 'login file', ['exports OPENCODE_TEST_MANAGED_CONFIG_DIR (line 1)'], [1]),
        ('.tcshrc', 'login file', ['exports OPENCODE_CONFIG (line 1)'], [1]),
        ('.login', 'login file', ['exports OPENCODE_CONFIG_DIR (line 1)'], [1]),
        ('.pam_environment', 'login file', ['exports OPENCODE_CONFIG (line 3)'], [3]),
        ('.config/fish/conf.d/oc.fish', 'login file', ['exports OPENCODE_CONFIG (line 1)'], [1])]


def test_a_login_file_with_bytes_that_are_not_utf8_is_still_read(tmp_path):
    write(tmp_path / '.bashrc', b'# caf\xe9\nexport OPENCODE_CONFIG=/x\n')
    assert _layout.login_exports(Layout({}, home=str(tmp_path), uid=ME)) == [
        dict(path=str(tmp_path / '.bashrc'), kind='login file', effects=['exports OPENCODE_CONFIG (line 2)'], lines=[2])]


# --------------------------------------------------------------------------- npm prefixes
def test_npm_prefixes_come_from_the_environment_then_npmrc_then_the_defaults(tmp_path):
    home = tmp_path / 'home'
    write(home / '.npmrc', b'; \xff comment\nprefix = ~/abc\nprefix=${HOME}/def\n  prefix = /opt/npm  \nregistry=x\n')
    env = {'NPM_CONFIG_PREFIX': '/upper', 'npm_config_prefix': '/lower'}
    assert Layout(env, home=str(home), uid=ME).npm_prefixes() == [
        '/upper', '/lower', str(home / 'abc'), str(home) + '/def', '/opt/npm', str(home / '.npm-global'),
        '/usr/local', '/opt/homebrew']
    assert Layout({}, home=str(tmp_path / 'none'), uid=ME).npm_prefixes() == [
        str(tmp_path / 'none' / '.npm-global'), '/usr/local', '/opt/homebrew']


# --------------------------------------------------------------------------- layers
def test_the_user_layers_include_opencode_config_dir_and_each_file_once(tmp_path):
    conf = tmp_path / '.config' / 'opencode'
    env = {'OPENCODE_CONFIG': str(conf / 'opencode.json'), 'OPENCODE_CONFIG_DIR': str(tmp_path / 'dir')}
    assert Layout(env, home=str(tmp_path), uid=ME).user_layer_candidates() == [
        ('global config', str(conf / 'config.json')), ('global config', str(conf / 'opencode.json')),
        ('global config', str(conf / 'opencode.jsonc')),
        ('~/.opencode', str(tmp_path / '.opencode' / 'opencode.json')),
        ('~/.opencode', str(tmp_path / '.opencode' / 'opencode.jsonc')),
        ('OPENCODE_CONFIG_DIR', str(tmp_path / 'dir' / 'opencode.json')),
        ('OPENCODE_CONFIG_DIR', str(tmp_path / 'dir' / 'opencode.jsonc'))]


def test_the_users_own_small_model_is_no_problem_under_the_managed_layer(tmp_path):
    write(tmp_path / '.config' / 'opencode' / 'opencode.json', '{"model": "a/b", "small_model": "c/d"}')
    assert _layout.user_layers('omniroute', Layout({}, home=str(tmp_path), uid=ME)) == []
    lay = Layout({'OPENCODE_TEST_MANAGED_CONFIG_DIR': str(tmp_path / 'm')}, home=str(tmp_path), uid=ME)
    assert _layout.overriding_layers('omniroute', lay, str(tmp_path / '.config' / 'opencode' / 'config.json')) == [
        dict(path=str(tmp_path / '.config' / 'opencode' / 'opencode.json'),
             kind='global file loaded after config.json', effects=['sets model to a/b', 'sets small_model to c/d'])]


@pytest.mark.parametrize('text, effects', [
    ('{"provider": {"x": {}}}', ['sets provider.x']),
    ('{"provider": {"x": "abc"}}', ['sets provider.x']),
    ('{"provider": {"x": 5}}', ['sets provider.x']),
    ('{"provider": {"x": {"name": "n", "models": {}, "options": {"b": 1, "a": 2}}}}',
     ['sets provider.x (models, name, options.a, options.b)']),
    ('{"provider": {"y": {}}}', []),
    ('{"enabled_providers": ["other"]}', ['has enabled_providers without x']),
    ('{"enabled_providers": ["other", "x"]}', []),
    ('{"disabled_providers": ["x"]}', ['lists x in disabled_providers']),
    ('{"model": "other/m", "small_model": "x/s"}', ['sets model to other/m']),
    ('{"model": "x/m", "small_model": "xx/s"}', ['sets small_model to xx/s']),
    ('{"model": "x"}', ['sets model to x']),
    ('[1]', []),
    ('', []),
    ('// nothing\n', []),
    ('{', ['cannot be parsed (invalid JSONC: expected a property name in double quotes at line 1, column 2); '
           'OpenCode refuses to start with it']),
], ids=['empty-entry', 'string-entry', 'number-entry', 'keys-and-options', 'other-provider', 'enabled-without',
        'enabled-with', 'disabled', 'model', 'small-model', 'model-no-slash', 'array', 'empty', 'comment-only', 'invalid'])
def test_what_a_layer_does_to_a_provider(text, effects):
    assert _layout.layer_effects(text, 'x') == effects


def test_a_layer_too_large_to_read_is_named_with_the_limit():
    assert _layout.layer_effects(_layout.TOO_LARGE, 'x') == ['is larger than 32 MiB and was not read; check it by hand']


def test_a_layer_nested_beyond_the_parser_is_reported(monkeypatch):
    def deep(text):
        raise RecursionError('maximum recursion depth exceeded')
    monkeypatch.setattr(_layout, 'Document', deep)
    assert _layout.layer_effects('{}', 'x') == ['is nested too deeply to be read']


def test_a_layer_with_bytes_that_are_not_utf8_is_read_with_replacements(tmp_path):
    path = write(tmp_path / 'l.json', b'{"model": "caf\xe9/m"}')
    assert _layout.layer_text(path) == u'{"model": "caf\ufffd/m"}'


# --------------------------------------------------------------------------- paths
def test_the_home_defaults_to_the_running_users_home(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    assert Layout({}, uid=ME).home == str(tmp_path)


def test_the_os_is_this_hosts_system_name(monkeypatch):
    assert Layout({}, home='/h').system == os.uname()[0]

    def mac():
        return ('Darwin', 'linux-named-host', '1', '2', 'arm64')
    monkeypatch.setattr(os, 'uname', mac)
    assert Layout({}, home='/h').managed_dir == '/Library/Application Support/opencode'
    assert _layout.os_managed_dir() == '/Library/Application Support/opencode'


def test_discover_uses_the_given_existence_test(tmp_path):
    def everything(path):
        return True
    conf = tmp_path / '.config' / 'opencode'
    assert Layout({}, home=str(tmp_path), uid=ME).discover(exists=everything) == (
        str(conf / 'opencode.jsonc'), [str(conf / 'config.json'), str(conf / 'opencode.json')])


def test_an_explicit_global_file_sits_between_the_lower_and_the_higher_ones(tmp_path):
    conf = tmp_path / '.config' / 'opencode'
    for name in ('config.json', 'opencode.json', 'opencode.jsonc'):
        write(conf / name, '{}')
    lay = Layout({}, home=str(tmp_path), uid=ME)
    assert lay.precedence(str(conf / 'opencode.json')) == ([str(conf / 'config.json')], [str(conf / 'opencode.jsonc')])
    assert lay.precedence(str(conf / 'config.json')) == ([], [str(conf / 'opencode.json'), str(conf / 'opencode.jsonc')])


def test_a_path_nothing_of_which_can_be_examined_belongs_to_no_one(monkeypatch):
    def broken(path, *args, **kwargs):
        raise OSError(errno.EIO, 'I/O error')
    monkeypatch.setattr(os, 'stat', broken)
    assert _layout.owned_by('/srv/x', ME) is False


# --------------------------------------------------------------------------- bounded reads
def test_read_bounded_reads_a_file_whole_or_cut_at_the_limit(tmp_path):
    exact = write(tmp_path / 'exact', b'0123456789')
    assert _layout.read_bounded(exact, 10) == (b'0123456789', True)
    assert _layout.read_bounded(exact, 9) == (b'012345678', False)
    assert _layout.read_bounded(exact, 100) == (b'0123456789', True)
    longer = write(tmp_path / 'longer', b'x' * 100)
    assert _layout.read_bounded(longer, 10) == (b'x' * 10, False)


def test_read_bounded_reads_a_large_file_in_chunks_of_at_most_one_mib(tmp_path, monkeypatch):
    mib = 1 << 20
    data = bytes(bytearray(i % 251 for i in range(3 * mib + 5)))
    path = write(tmp_path / 'big', data)
    asked = []
    real_read = os.read

    def read(fd, size):
        asked.append(size)
        return real_read(fd, size)
    monkeypatch.setattr(os, 'read', read)
    assert _layout.read_bounded(path, mib + mib // 2) == (data[:mib + mib // 2], False)
    assert asked == [mib, mib // 2 + 1]
    del asked[:]
    assert _layout.read_bounded(path, mib) == (data[:mib], False)
    assert asked == [mib, 1]
    del asked[:]
    assert _layout.read_bounded(path, 3 * mib + 5) == (data, True)
    assert asked == [mib, mib, mib, 6, 1]


def test_read_bounded_opens_without_blocking_without_a_terminal_and_closes_on_exec(tmp_path, monkeypatch):
    path = write(tmp_path / 'f', 'x')
    flags = []
    real_open = os.open

    def spy(name, how, *args, **kwargs):
        flags.append(how)
        return real_open(name, how, *args, **kwargs)
    monkeypatch.setattr(os, 'open', spy)
    assert _layout.read_bounded(path, 10) == (b'x', True)
    assert flags == [os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC]


def test_read_bounded_has_nothing_for_what_is_not_a_readable_regular_file(tmp_path, monkeypatch):
    assert _layout.read_bounded(str(tmp_path), 10) == (None, True)
    assert _layout.read_bounded(str(tmp_path / 'missing'), 10) == (None, True)
    path = write(tmp_path / 'f', 'data')
    real_read = os.read

    def failing(fd, size):
        raise OSError(errno.EIO, 'I/O error')
    with monkeypatch.context() as patch:
        patch.setattr(os, 'read', failing)
        assert _layout.read_bounded(path, 10) == (None, True)
    assert os.read is real_read
    # Swapped for a directory between the check and the open: the open file is checked again.
    real_stat = os.stat
    file_stat = real_stat(path)

    def swapped(name, *args, **kwargs):
        return file_stat if name == str(tmp_path / 'sub') else real_stat(name, *args, **kwargs)
    (tmp_path / 'sub').mkdir()
    with monkeypatch.context() as patch:
        patch.setattr(os, 'stat', swapped)
        assert _layout.read_bounded(str(tmp_path / 'sub'), 10) == (None, True)


# --------------------------------------------------------------------------- shared binaries
@contextlib.contextmanager
def _owners(monkeypatch, tmp_path, owners=None):
    """Every file reads as root's (uid 0) unless ``owners`` names another owner, and every directory
    above ``tmp_path`` as root's 0755 one: a normal user cannot give files away."""
    owners = owners or {}
    top = str(tmp_path)
    real_stat, real_lstat = os.stat, os.lstat

    def faked(real):
        def call(path, *args, **kwargs):
            st = real(path, *args, **kwargs)
            name = os.fspath(path) if not isinstance(path, int) else None
            fields = list(st[:10])
            if name is not None and name != top and not name.startswith(top + os.sep):
                fields[0] = stat.S_IFDIR | 0o755
            fields[4] = owners.get(name, 0)
            return os.stat_result(fields)
        return call
    with monkeypatch.context() as patch:
        patch.setattr(os, 'stat', faked(real_stat))
        patch.setattr(os, 'lstat', faked(real_lstat))
        yield


def _binary(directory, mode=0o755):
    directory.mkdir(parents=True, exist_ok=True)
    return write(directory / 'opencode', '#!/bin/sh\necho 1.0.0\n', mode)


def test_a_binary_of_root_no_one_else_can_change_is_shared(tmp_path, monkeypatch):
    tmp_path.chmod(0o755)
    script = _binary(tmp_path / 'bin')
    link = str(tmp_path / 'link')
    os.symlink(script, link)
    with _owners(monkeypatch, tmp_path):
        assert _layout.shared_binary(script) is True
        assert _layout.shared_binary(link) is True
        assert _layout.shared_binary(script, uid=0) is True
        assert _layout.shared_binary(str(tmp_path / 'bin' / 'missing')) is False
        assert _layout.shared_binary(str(tmp_path / 'bin')) is False  # a directory is no binary


@pytest.mark.parametrize('mode', [0o775, 0o757, 0o750, 0o705, 0o700],
                         ids=['group-writes', 'others-write', 'others-cannot-run', 'group-cannot-run', 'owner-only'])
def test_a_binary_others_may_write_or_may_not_run_is_not_shared(tmp_path, monkeypatch, mode):
    tmp_path.chmod(0o755)
    script = _binary(tmp_path / 'bin', mode)
    with _owners(monkeypatch, tmp_path):
        assert _layout.shared_binary(script) is False


def test_a_binary_an_account_owns_is_not_shared(tmp_path, monkeypatch):
    tmp_path.chmod(0o755)
    script = _binary(tmp_path / 'bin')
    with _owners(monkeypatch, tmp_path, {script: 1000}):
        assert _layout.shared_binary(script) is False
    with _owners(monkeypatch, tmp_path, {str(tmp_path / 'bin'): 1000}):
        assert _layout.shared_binary(script) is False


def test_a_binary_under_a_directory_anyone_may_write_is_not_shared_unless_it_is_sticky(tmp_path, monkeypatch):
    tmp_path.chmod(0o755)
    script = _binary(tmp_path / 'a' / 'b' / 'bin')
    (tmp_path / 'a').chmod(0o777)
    with _owners(monkeypatch, tmp_path):
        assert _layout.shared_binary(script) is False
    (tmp_path / 'a').chmod(0o777 | stat.S_ISVTX)
    with _owners(monkeypatch, tmp_path):
        assert _layout.shared_binary(script) is True
    (tmp_path / 'a' / 'b' / 'bin').chmod(0o777)
    with _owners(monkeypatch, tmp_path):
        assert _layout.shared_binary(script) is False


def test_a_link_in_a_directory_anyone_may_write_is_not_shared(tmp_path, monkeypatch):
    tmp_path.chmod(0o755)
    script = _binary(tmp_path / 'bin')
    (tmp_path / 'open').mkdir()
    (tmp_path / 'open').chmod(0o777)
    link = str(tmp_path / 'open' / 'opencode')
    os.symlink(script, link)
    with _owners(monkeypatch, tmp_path):
        assert _layout.shared_binary(link) is False
        assert _layout.shared_binary(script) is True


def test_what_no_one_else_can_change(tmp_path, monkeypatch):
    safe_dir = tmp_path / 'safe'
    safe_dir.mkdir()
    safe_dir.chmod(0o755)
    open_dir = tmp_path / 'open'
    open_dir.mkdir()
    open_dir.chmod(0o777)
    sticky_dir = tmp_path / 'sticky'
    sticky_dir.mkdir()
    sticky_dir.chmod(0o777 | stat.S_ISVTX)
    safe = write(tmp_path / 'safe-file', '', 0o644)
    writable = write(tmp_path / 'writable-file', '', 0o664)
    sticky_file = write(tmp_path / 'sticky-file', '', 0o666)
    os.chmod(sticky_file, 0o666 | stat.S_ISVTX)
    paths = [str(safe_dir), str(open_dir), str(sticky_dir), safe, writable, str(tmp_path / 'missing')]
    assert [_layout._safe_for_all(p, ME) for p in paths] == [True, False, True, True, False, False]
    assert [_layout._safe_for_all(p, SOMEONE_ELSE) for p in paths] == [False] * 6
    if os.stat(sticky_file).st_mode & stat.S_ISVTX:  # (not every system keeps it on a file)
        assert _layout._safe_for_all(sticky_file, ME) is False


def _prefixes(monkeypatch, tmp_path):
    prefixes = (str(tmp_path / 'usr-local'), str(tmp_path / 'homebrew'))
    monkeypatch.setattr(_layout, 'SYSTEM_NPM_PREFIXES', prefixes)
    return prefixes


def test_the_shared_candidates_are_the_first_on_path_and_the_system_npm_prefixes(tmp_path, monkeypatch):
    tmp_path.chmod(0o755)
    local, brew = _prefixes(monkeypatch, tmp_path)
    on_path = _binary(tmp_path / 'path-bin')
    elsewhere = _binary(tmp_path / 'elsewhere')
    in_local = _binary(tmp_path / 'usr-local' / 'bin')
    monkeypatch.setenv('PATH', os.path.dirname(elsewhere))
    with _owners(monkeypatch, tmp_path):
        assert _layout.shared_candidates(os.path.dirname(on_path)) == [on_path, in_local]
        assert _layout.shared_candidates(str(tmp_path / 'nothing')) == [in_local]
    in_brew = _binary(tmp_path / 'homebrew' / 'bin', 0o777)
    with _owners(monkeypatch, tmp_path):
        assert _layout.shared_candidates(os.path.dirname(on_path)) == [on_path, in_local]
    os.chmod(in_brew, 0o755)
    with _owners(monkeypatch, tmp_path, {in_local: 1000}):
        assert _layout.shared_candidates(os.path.dirname(on_path)) == [on_path, in_brew]
    assert brew == os.path.dirname(os.path.dirname(in_brew)) and local == os.path.dirname(os.path.dirname(in_local))


# --------------------------------------------------------------------------- the binary
def test_find_opencode_skips_a_directory_named_opencode(tmp_path, monkeypatch):
    _prefixes(monkeypatch, tmp_path)
    (tmp_path / 'home' / '.opencode' / 'bin' / 'opencode').mkdir(parents=True)
    lay = Layout({'PATH': ''}, home=str(tmp_path / 'home'), uid=ME)
    assert lay.find_opencode() is None
    found = _binary(tmp_path / 'usr-local' / 'bin')
    assert lay.find_opencode() == found


def test_opencode_info_without_a_binary(tmp_path, monkeypatch):
    _prefixes(monkeypatch, tmp_path)
    assert _layout.opencode_info(Layout({'PATH': ''}, home=str(tmp_path), uid=ME)) == dict(
        opencode=None, opencode_version=None)


def test_opencode_info_names_the_binary_and_why_it_has_no_version(tmp_path, monkeypatch):
    _prefixes(monkeypatch, tmp_path)
    monkeypatch.setattr(_layout, '_VERSIONS', {})
    failing = write(tmp_path / 'bin' / 'opencode', '#!/bin/sh\necho nope >&2\nexit 2\n', 0o755)
    assert _layout.opencode_info(Layout({'PATH': str(tmp_path / 'bin')}, home=str(tmp_path), uid=ME)) == dict(
        opencode=failing, opencode_version=None, opencode_error='exit 2: nope')


def test_a_shared_answer_counts_only_for_the_path_it_was_asked_with(tmp_path, monkeypatch):
    _prefixes(monkeypatch, tmp_path)
    monkeypatch.setattr(_layout, '_VERSIONS', {})
    binary = _binary(tmp_path / 'bin')
    lay = Layout({'PATH': str(tmp_path / 'bin')}, home=str(tmp_path), uid=ME)
    monkeypatch.setenv('PATH', '/usr/bin:/bin')
    _layout.share_version(_layout.binary_identity(binary), ('9.9.9', None), '/elsewhere')
    assert _layout.opencode_info(lay) == dict(opencode=binary, opencode_version='1.0.0')
    _layout.share_version(_layout.binary_identity(binary), ('9.9.9', None), '/usr/bin:/bin')
    assert _layout.opencode_info(lay) == dict(opencode=binary, opencode_version='9.9.9')
    # Without PATH the version is asked with the default one: an answer shared for it counts.
    monkeypatch.setattr(_layout, '_VERSIONS', {})
    _layout.share_version(_layout.binary_identity(binary), ('8.8.8', None), os.defpath)
    monkeypatch.delenv('PATH')
    assert _layout.opencode_info(lay) == dict(opencode=binary, opencode_version='8.8.8')


PROBE = '''#!%s
import json, os, sys
with open(%r, 'w') as handle:
    json.dump(dict(env=dict(os.environ), cwd=os.getcwd(), argv=sys.argv[1:]), handle)
print('2.3.4')
'''


def test_opencode_version_runs_the_binary_in_a_throw_away_home_with_a_fixed_environment(tmp_path, monkeypatch):
    report = str(tmp_path / 'report.json')
    probe = write(tmp_path / 'opencode', PROBE % (sys.executable, report), 0o755)
    monkeypatch.setenv('PATH', '/p1:/p2')
    assert _layout.opencode_version(probe) == ('2.3.4', None)
    with open(report) as handle:
        seen = json.load(handle)
    env = seen['env']
    scratch = env['HOME']
    assert os.path.dirname(scratch) == tempfile.gettempdir()
    assert os.path.basename(scratch).startswith('omniroute-opencode-version-')
    assert not os.path.exists(scratch)
    assert seen['cwd'] == os.path.realpath(scratch) and seen['argv'] == ['--version']
    env.pop('LC_CTYPE', None)
    assert env == dict(PATH='/p1:/p2', HOME=scratch, LANG='C.UTF-8', XDG_CONFIG_HOME=scratch + '/config',
                       XDG_DATA_HOME=scratch + '/data', XDG_CACHE_HOME=scratch + '/cache',
                       XDG_STATE_HOME=scratch + '/state', OPENCODE_DISABLE_AUTOUPDATE='1', NO_COLOR='1')
    monkeypatch.delenv('PATH')
    assert _layout.opencode_version(probe) == ('2.3.4', None)
    with open(report) as handle:
        assert json.load(handle)['env']['PATH'] == os.defpath


def test_opencode_version_keeps_the_last_200_characters_of_what_it_shows(tmp_path):
    line = ''.join(chr(ord('a') + i % 26) for i in range(250))
    fake = write(tmp_path / 'opencode', '#!/bin/sh\necho %s\n' % line, 0o755)
    assert _layout.opencode_version(fake) == (line[-200:], None)
    failing = write(tmp_path / 'failing', '#!/bin/sh\necho %s >&2\nexit 1\n' % line, 0o755)
    assert _layout.opencode_version(failing) == (None, 'exit 1: ' + line[-200:])


def test_opencode_version_is_an_error_when_the_binary_fails_or_says_nothing(tmp_path):
    failing = write(tmp_path / 'failing', '#!/bin/sh\necho 1.0.0\necho broken >&2\nexit 3\n', 0o755)
    assert _layout.opencode_version(failing) == (None, 'exit 3: broken')
    silent = write(tmp_path / 'silent', '#!/bin/sh\n', 0o755)
    assert _layout.opencode_version(silent) == (None, 'exit 0: ')
    missing = str(tmp_path / 'missing')
    assert _layout.opencode_version(missing) == (None, "[Errno 2] No such file or directory: '%s'" % missing)


def test_opencode_version_output_that_is_not_utf8_is_shown_with_replacements(tmp_path):
    fake = write(tmp_path / 'opencode', '#!/bin/sh\nprintf "1.2\\377\\n"\n', 0o755)
    assert _layout.opencode_version(fake) == (u'1.2\ufffd', None)


def test_opencode_version_answers_even_when_its_scratch_home_cannot_be_removed(tmp_path, monkeypatch):
    fake = write(tmp_path / 'opencode', '#!/bin/sh\necho 1.0.0\n', 0o755)
    real_rmdir = os.rmdir
    kept = []

    def refuse(path, *args, **kwargs):
        if os.path.basename(os.fspath(path)).startswith('omniroute-opencode-version-'):
            kept.append(os.path.join(tempfile.gettempdir(), os.path.basename(os.fspath(path))))
            raise OSError(errno.EBUSY, 'busy')
        return real_rmdir(path, *args, **kwargs)
    monkeypatch.setattr(os, 'rmdir', refuse)
    try:
        assert _layout.opencode_version(fake) == ('1.0.0', None)
    finally:
        monkeypatch.undo()
        for path in kept:
            if os.path.isdir(path):
                real_rmdir(path)
    assert len(kept) == 1


# --------------------------------------------------------------------------- bounded runs
def _py(code):
    return [sys.executable, '-c', code]


def test_run_bounded_returns_the_whole_output_of_both_streams(tmp_path):
    code = 'import sys\nfor i in range(3000): sys.stdout.write("o%04d" % i); sys.stderr.write("e%04d" % i)\n'
    out = ''.join('o%04d' % i for i in range(3000)).encode()
    err = ''.join('e%04d' % i for i in range(3000)).encode()
    assert _layout.run_bounded(_py(code + 'sys.exit(4)'), None, str(tmp_path), 30, 100000) == (4, out, err, None)


def test_run_bounded_allows_output_of_exactly_the_limit(tmp_path):
    assert _layout.run_bounded(_py('print("abcd")'), None, str(tmp_path), 30, 5) == (0, b'abcd\n', b'', None)
    assert _layout.run_bounded(_py('print("abcde")'), None, str(tmp_path), 30, 5) == (
        None, b'abcde', b'', 'more than 5 bytes of output')


def test_run_bounded_runs_in_the_directory_given_with_no_input_and_no_inherited_descriptor(tmp_path):
    read_end, write_end = os.pipe()
    saved = os.dup(0)
    os.set_inheritable(write_end, True)
    os.dup2(read_end, 0)
    try:
        code = ('import os, sys\nprint(os.getcwd())\nprint(os.path.samestat(os.fstat(0), os.stat(os.devnull)))\n'
                'try:\n    os.fstat(%d)\n    print("inherited")\nexcept OSError:\n    print("closed")\n' % write_end)
        assert _layout.run_bounded(_py(code), None, str(tmp_path), 30, 10000) == (
            0, ('%s\nTrue\nclosed\n' % os.path.realpath(str(tmp_path))).encode(), b'', None)
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read_end, write_end):
            os.close(fd)


def _armed(monkeypatch, error):
    """os.read fails once with ``error`` on the first output stream run_bounded reads."""
    real_blocking, real_read = os.set_blocking, os.read
    streams = []

    def set_blocking(fd, flag):
        streams.append(fd)
        return real_blocking(fd, flag)

    def read(fd, size):
        if streams and fd == streams[0]:
            del streams[:]
            raise OSError(error, os.strerror(error))
        return real_read(fd, size)
    monkeypatch.setattr(os, 'set_blocking', set_blocking)
    monkeypatch.setattr(os, 'read', read)


def test_run_bounded_reads_again_after_a_read_that_would_block(tmp_path, monkeypatch):
    _armed(monkeypatch, errno.EAGAIN)
    assert _layout.run_bounded(_py('print("out")'), None, str(tmp_path), 30, 100) == (0, b'out\n', b'', None)


def test_run_bounded_ends_a_stream_that_fails_to_read(tmp_path, monkeypatch):
    _armed(monkeypatch, errno.EIO)
    assert _layout.run_bounded(_py('print("out")'), None, str(tmp_path), 30, 100) == (0, b'', b'', None)


def test_run_bounded_leaves_alone_what_a_process_that_answered_started(tmp_path):
    marker = tmp_path / 'done'
    script = write(tmp_path / 'bg', '#!/bin/sh\n(sleep 1; touch %s) >/dev/null 2>&1 &\necho ok\n' % marker, 0o755)
    assert _layout.run_bounded([script], None, str(tmp_path), 30, 100) == (0, b'ok\n', b'', None)
    for _attempt in range(100):
        if marker.exists():
            break
        time.sleep(0.1)
    assert marker.exists()


def test_run_bounded_kills_a_process_that_exits_but_leaves_its_output_open(tmp_path):
    marker = tmp_path / 'still-running'
    script = write(tmp_path / 'bg', '#!/bin/sh\n(sleep 3; touch %s) &\necho ok\n' % marker, 0o755)
    assert _layout.run_bounded([script], None, str(tmp_path), 1, 100) == (None, b'ok\n', b'', 'no answer within 1 s')
    time.sleep(3.5)
    assert not marker.exists()


def test_run_bounded_times_out_a_process_that_closes_its_output_and_stays(tmp_path):
    script = write(tmp_path / 'quiet', '#!/bin/sh\necho ok\nsleep 0.5\nexec >&- 2>&-\nsleep 0.8\n', 0o755)
    assert _layout.run_bounded([script], None, str(tmp_path), 1, 100) == (None, b'ok\n', b'', 'no answer within 1 s')


def test_run_bounded_waits_the_whole_timeout(tmp_path):
    script = write(tmp_path / 'slow', '#!/bin/sh\nsleep 0.3\necho ok\n', 0o755)
    assert _layout.run_bounded([script], None, str(tmp_path), 1, 100) == (0, b'ok\n', b'', None)
