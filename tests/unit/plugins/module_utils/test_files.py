# -*- coding: utf-8 -*-
"""_files: safe reads, atomic writes, backups, leftovers and the checks before writing, called
directly (the modules' tests prove the same through the modules; these pin each promise on its
own). Found unchecked by mutation testing (issue 26)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import pwd
import re
import stat
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _files
from ansible_collections.omniroute.opencode.tests.support.files import Module, fmode, raises


def leftovers(directory):
    return sorted(n for n in os.listdir(str(directory)) if n.endswith('.tmp') or n.endswith('~'))


# --------------------------------------------------------------------------- words
def test_why_names_the_errno_and_reads_in_lower_case():
    assert _files.why(OSError(errno.ENOSPC, 'No space left on device')) == 'no space left on device (ENOSPC)'
    assert _files.why(OSError(errno.EACCES, 'Permission denied', '/x')) == 'permission denied (EACCES)'
    # No errno: the text alone, first letter lowered.
    assert _files.why(ValueError('Odd fault')) == 'odd fault'
    assert _files.why(OSError(99999, 'Unknown thing')) == 'unknown thing'


@pytest.mark.parametrize('data, where', [
    (b'\xff{}', 'byte 0xff at line 1, column 1'),
    (b'{\n  "a": "\xc3"\n}', 'byte 0xc3 at line 2, column 9'),
    (b'{}\n\n\n  \x80', 'byte 0x80 at line 4, column 3'),
])
def test_decode_names_the_first_bad_byte_with_its_line_and_column(data, where):
    with pytest.raises(_files.FileError) as err:
        _files.decode(data)
    assert str(err.value) == 'it is not UTF-8 text: ' + where


def test_decode_reads_utf8():
    assert _files.decode(u'{"n": "é"}'.encode('utf-8')) == u'{"n": "é"}'


# --------------------------------------------------------------------------- reading
def test_read_snapshot_of_a_file_a_symlink_and_a_missing_one(tmp_path):
    target = tmp_path / 'real.json'
    target.write_bytes(b'{"a": 1}\n' * 200000)  # more than one read of 1 MiB
    link = tmp_path / 'link.json'
    link.symlink_to(target)
    data, real, st = _files.read_snapshot(str(link))
    assert data == b'{"a": 1}\n' * 200000 and real == str(target) and st.st_ino == os.stat(str(target)).st_ino
    assert _files.read_text(str(link)) == (u'{"a": 1}\n' * 200000, str(target))
    dangling = tmp_path / 'dangling.json'
    dangling.symlink_to(tmp_path / 'nowhere.json')
    assert _files.read_snapshot(str(dangling)) == (None, str(tmp_path / 'nowhere.json'), None)
    # A path under a file (ENOTDIR) is missing too, not an error.
    assert _files.read_snapshot(str(target / 'x.json'))[0] is None
    assert _files.read_text(str(tmp_path / 'none.json')) == (None, str(tmp_path / 'none.json'))


def test_read_snapshot_refuses_what_is_not_a_regular_file(tmp_path):
    with pytest.raises(_files.FileError) as err:
        _files.read_snapshot(str(tmp_path))
    assert str(err.value) == 'it is a directory, not a config file'
    fifo = tmp_path / 'fifo.json'
    os.mkfifo(str(fifo))
    with pytest.raises(_files.FileError) as err:
        _files.read_snapshot(str(fifo))
    assert str(err.value) == ('it is a FIFO (named pipe) (%s), not a regular file; only regular files are '
                              'edited, nothing was changed' % fifo)
    with pytest.raises(_files.FileError) as err:
        _files.read_snapshot('/dev/null')
    assert 'character device (/dev/null)' in str(err.value)


@pytest.mark.parametrize('mode, kind', [
    (stat.S_IFCHR, 'character device'), (stat.S_IFBLK, 'block device'), (stat.S_IFIFO, 'FIFO (named pipe)'),
    (stat.S_IFSOCK, 'socket'), (stat.S_IFREG, 'special file'),
])
def test_file_kind(mode, kind):
    assert _files.file_kind(mode | 0o644) == kind


# --------------------------------------------------------------------------- directories and modes
def test_make_dirs_creates_each_missing_parent_private_and_says_which(tmp_path):
    deep = tmp_path / 'a' / 'b' / 'c'
    created = _files.make_dirs(str(deep))
    assert created == [str(tmp_path / 'a'), str(tmp_path / 'a' / 'b'), str(deep)]
    assert all(fmode(p) == 0o700 for p in created)
    assert _files.make_dirs(str(deep)) == []
    assert _files.make_dirs(str(deep / 'd'), 0o750) == [str(deep / 'd')] and fmode(deep / 'd') == 0o750
    (tmp_path / 'file').write_text(u'')
    os.chmod(str(tmp_path / 'file'), 0o644)
    with pytest.raises(_files.FileError) as err:
        _files.make_dirs(str(tmp_path / 'file' / 'sub'))
    assert str(err.value) == ('cannot create directory %s: something that is not a directory is there'
                              % (tmp_path / 'file'))
    # The file in the way is left exactly as it was (its mode was once set to the directory's).
    assert fmode(tmp_path / 'file') == 0o644


def test_target_mode_keeps_tightens_or_follows_the_umask(tmp_path):
    path = tmp_path / 'c.json'
    old = os.umask(0o027)
    try:
        assert _files.target_mode(str(path), False, None) == 0o640
        assert _files.target_mode(str(path), True, None) == 0o600
    finally:
        os.umask(old)
    path.write_text(u'{}')
    os.chmod(str(path), 0o664)
    assert _files.target_mode(str(path), False, None) == 0o664
    assert _files.target_mode(str(path), True, None) == 0o600
    os.chmod(str(path), 0o751)
    assert _files.target_mode(str(path), True, None) == 0o700
    # A mode the task asks for is Ansible's to set.
    assert _files.target_mode(str(path), True, '0644') is None


def test_attributes_and_set_attributes(tmp_path):
    path = tmp_path / 'c.json'
    assert _files.attributes(str(path)) is None
    with pytest.raises(_files.FileError) as err:
        _files.set_attributes(str(path), 0o600)
    assert str(err.value) == 'it does not exist'
    path.write_text(u'{}')
    os.chmod(str(path), 0o644)
    me = (os.geteuid(), os.getegid())
    assert _files.attributes(str(path)) == (0o644,) + me
    assert _files.set_attributes(str(path), 0o600, me) is True and fmode(path) == 0o600
    assert _files.set_attributes(str(path), 0o600, me) is False
    assert _files.set_attributes(str(path)) is False


# --------------------------------------------------------------------------- writing
def test_write_atomic_replaces_the_file_and_keeps_its_mode(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text(u'{}\n')
    os.chmod(str(path), 0o640)
    before = os.stat(str(path)).st_ino
    assert _files.write_atomic(Module(), str(path), str(path), u'{"a": "é"}\n', False, False, expect=u'{}\n') is None
    assert path.read_bytes() == u'{"a": "é"}\n'.encode('utf-8') and fmode(path) == 0o640
    assert os.stat(str(path)).st_ino != before and leftovers(tmp_path) == []
    # Bytes are written as they are; a secret makes the file private.
    _files.write_atomic(Module(), str(path), str(path), b'{"k": 1}', True, False)
    assert path.read_bytes() == b'{"k": 1}' and fmode(path) == 0o600


def test_write_atomic_of_a_new_file_and_an_explicit_mode(tmp_path):
    path = tmp_path / 'new.json'
    _files.write_atomic(Module(), str(path), str(path), u'{}', True, True, expect=None)
    assert fmode(path) == 0o600 and leftovers(tmp_path) == []  # no backup of nothing
    other = tmp_path / 'other.json'
    _files.write_atomic(Module(), str(other), str(other), u'{}', True, False, mode=0o644)
    assert fmode(other) == 0o644


def test_write_atomic_keeps_a_private_backup_of_what_was_there(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text(u'{"old": 1}')
    os.chmod(str(path), 0o644)
    backup = _files.write_atomic(Module(), str(path), str(path), u'{"new": 1}', False, True, expect=u'{"old": 1}')
    assert backup.startswith(str(path) + '.%d.' % os.getpid()) and backup.endswith('~')
    with open(backup) as handle:
        assert handle.read() == '{"old": 1}'
    assert fmode(backup) == 0o600 and path.read_text() == u'{"new": 1}'
    # Without an expected text, the backup holds what is on disk.
    os.unlink(backup)
    backup = _files.write_atomic(Module(), str(path), str(path), u'{"newer": 1}', False, True)
    with open(backup) as handle:
        assert handle.read() == '{"new": 1}'


def test_write_atomic_refuses_a_file_changed_since_the_plan(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text(u'{"theirs": 1}')
    with pytest.raises(_files.Conflict) as err:
        _files.write_atomic(Module(), str(path), str(path), u'{"mine": 1}', False, True, expect=u'{}')
    assert 'changed while the module was running' in str(err.value)
    assert path.read_text() == u'{"theirs": 1}' and leftovers(tmp_path) == []
    # A file that appeared since the plan (it was missing) is a conflict too.
    with pytest.raises(_files.Conflict):
        _files.write_atomic(Module(), str(path), str(path), u'{}', False, False, expect=None)


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    with pytest.raises(_files.FileError) as err:
        _files.write_atomic(Module(), str(tmp_path / 'gone' / 'c.json'), str(tmp_path / 'gone' / 'c.json'),
                            u'{}', False, False)
    assert str(err.value) == 'no such file or directory (ENOENT)'
    # The rename fails (the target is a directory): the temporary file goes.
    target = tmp_path / 'dir.json'
    (target / 'inside').mkdir(parents=True)
    with pytest.raises(_files.FileError):
        _files.write_atomic(Module(), str(target), str(target), u'{}', False, False)
    assert leftovers(tmp_path) == []


def test_make_backup_never_overwrites_a_backup(tmp_path, monkeypatch):
    path = tmp_path / 'c.json'
    monkeypatch.setattr(_files, 'backup_name', lambda real: real + '.bak~')
    (tmp_path / 'c.json.bak~').write_text(u'older')
    with pytest.raises(_files.FileError) as err:
        _files.make_backup(str(path), b'{}')
    assert str(err.value).startswith('cannot write the backup %s.bak~: a backup of that name already exists' % path)
    assert (tmp_path / 'c.json.bak~').read_text() == u'older' and leftovers(tmp_path) == ['c.json.bak~']
    with pytest.raises(_files.FileError) as err:
        _files.make_backup(str(tmp_path / 'gone' / 'c.json'), b'{}')
    assert str(err.value).startswith('cannot write the backup in %s: ' % (tmp_path / 'gone'))


def test_remove_file_and_remove_files(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text(u'{}')
    with pytest.raises(_files.Conflict):
        _files.remove_file(str(path), u'{"other": 1}')
    assert path.exists()
    _files.remove_file(str(path), u'{}')
    assert not path.exists()
    keep = tmp_path / 'keep'
    keep.mkdir()
    (keep / 'a').write_text(u'')
    _files.remove_files([str(keep / 'a'), str(keep / 'missing')])
    assert os.listdir(str(keep)) == []
    with pytest.raises(_files.FileError) as err:
        _files.remove_files([str(keep)])
    assert str(err.value).startswith('cannot remove %s: ' % keep)


# --------------------------------------------------------------------------- leftovers
def test_stale_temps_are_ours_regular_and_dead_or_old(tmp_path):
    real = str(tmp_path / 'c.json')
    now = time.time()

    def temp(name, age):
        path = tmp_path / name
        path.write_text(u'sk-leftover')
        os.utime(str(path), (now - age, now - age))
        return str(path)

    dead = temp('.c.json.omniroute-999999999-ab12.tmp', 10)
    alive = temp('.c.json.omniroute-%d-cd34.tmp' % os.getpid(), 10)
    alive_old = temp('.c.json.omniroute-%d-ef56.tmp' % os.getpid(), _files.STALE_AFTER + 10)
    legacy_old = temp('.c.json.abcd1234.tmp', _files.LEGACY_STALE_AFTER + 10)
    temp('.c.json.efgh5678.tmp', 10)  # a legacy one, young: maybe a run of the old naming
    temp('.other.json.omniroute-999999999-ab12.tmp', 10)  # another file's
    temp('.c.json.omniroute-999999999-ab12.tmp.bak', 10)  # not the naming
    temp('c.json.omniroute-999999999-ab12.tmp', 10)
    (tmp_path / '.c.json.omniroute-999999998-ab12.tmp').mkdir()  # not a regular file
    assert _files.stale_temps(real, now) == sorted([dead, alive_old, legacy_old])
    assert alive not in _files.stale_temps(real)
    assert _files.stale_temps(str(tmp_path / 'missing-dir' / 'c.json')) == []


# --------------------------------------------------------------------------- checks before writing
def test_nearest_existing_and_directory_problem(tmp_path):
    assert _files.nearest_existing(str(tmp_path / 'a' / 'b')) == str(tmp_path)
    assert _files.nearest_existing(str(tmp_path)) == str(tmp_path)
    assert _files.directory_problem(str(tmp_path / 'a' / 'b')) is None
    (tmp_path / 'f').write_text(u'')
    assert _files.directory_problem(str(tmp_path / 'f' / 'sub')) == '%s is not a directory' % (tmp_path / 'f')


def test_free_space_and_blocks(tmp_path):
    device, free, block, inodes = _files.free_space(str(tmp_path / 'not' / 'yet'))
    assert device == os.stat(str(tmp_path)).st_dev and free > 0 and block > 0
    assert inodes is None or inodes >= 0
    assert _files.blocks_for(0, 4096) == 0
    assert _files.blocks_for(1, 4096) == 4096 and _files.blocks_for(4096, 4096) == 4096
    assert _files.blocks_for(4097, 4096) == 8192


def test_untrusted_directory_names_the_part_another_account_could_swap(tmp_path):
    me = os.geteuid()
    top = tmp_path / 'top'
    (top / 'conf').mkdir(parents=True)
    # Trusting the running user (as if it were root) from tmp_path down.
    os.chmod(str(top), 0o755)
    os.chmod(str(top / 'conf'), 0o755)
    # The walk starts at the directory itself: its own fault is named first, whatever lies above
    # tmp_path (root's directories when run as root; someone else's when not).
    above = _files.untrusted_directory(str(tmp_path), trusted_uid=me)
    assert _files.untrusted_directory(str(top / 'conf'), trusted_uid=me) == above
    os.chmod(str(top / 'conf'), 0o775)
    assert _files.untrusted_directory(str(top / 'conf'), trusted_uid=me) == (
        '%s is writable by its group (mode 0775): another account could put a symlink there and have root '
        'write where it points' % (top / 'conf'))
    os.chmod(str(top / 'conf'), 0o757)
    assert 'is writable by others (mode 0757)' in _files.untrusted_directory(str(top / 'conf'), trusted_uid=me)
    os.chmod(str(top / 'conf'), 0o777)
    assert 'by its group and others (mode 0777)' in _files.untrusted_directory(str(top / 'conf'), trusted_uid=me)
    # Sticky and world-writable (like /tmp) may be on the way, never the directory itself.
    os.chmod(str(top / 'conf'), 0o1777)
    assert 'mode 1777' in _files.untrusted_directory(str(top / 'conf'), trusted_uid=me)
    (top / 'conf' / 'sub').mkdir()
    os.chmod(str(top / 'conf' / 'sub'), 0o755)
    assert _files.untrusted_directory(str(top / 'conf' / 'sub'), trusted_uid=me) == above
    os.chmod(str(top / 'conf'), 0o755)
    assert _files.untrusted_directory(str(top / 'conf'), trusted_uid=me + 4242).startswith(
        '%s belongs to ' % (top / 'conf'))
    (top / 'file').write_text(u'')
    assert _files.untrusted_directory(str(top / 'file'), trusted_uid=me) == '%s is not a directory' % (top / 'file')


# --------------------------------------------------------------------------- what mutmut found unchecked (issue 26)
def temp_name():
    """The name pattern of this process's temporary files next to ``c.json`` (the pid is read when
    asked: a test runner may import this module in another process than the one running it)."""
    return r'^\.c\.json\.omniroute-%d-[A-Za-z0-9_]+\.tmp$' % os.getpid()


class SelinuxModule(Module):
    """An AnsibleModule on a host with SELinux: records what write_atomic asks of it."""

    def __init__(self, broken=False):
        Module.__init__(self)
        self.calls = []
        self.broken = broken

    def selinux_enabled(self):
        return True

    def selinux_context(self, path):
        self.calls.append(('context', path))
        if self.broken:
            raise OSError(errno.EOPNOTSUPP, 'Operation not supported')
        return ['user_u', 'object_r', 'home_t', 's0']

    def selinux_default_context(self, path):
        self.calls.append(('default', path))
        return ['user_u', 'object_r', 'config_home_t', 's0']

    def set_context_if_different(self, path, context, changed):
        self.calls.append(('set', os.path.basename(path), context, changed))


def test_the_temporary_file_gets_the_destinations_selinux_context_before_the_rename(tmp_path):
    path = tmp_path / 'c.json'
    module = SelinuxModule()
    _files.write_atomic(module, str(path), str(path), u'{}', False, False, expect=None)
    # A new file: the context it would get by default; asked for the temporary file by its name.
    assert [call[:2] for call in module.calls] == [('default', str(path)), ('set', module.calls[1][1])]
    assert re.match(temp_name(), module.calls[1][1]) and module.calls[1][2:] == (
        ['user_u', 'object_r', 'config_home_t', 's0'], False)
    module = SelinuxModule()
    _files.write_atomic(module, str(path), str(path), u'{"a": 1}', False, False, expect=u'{}')
    # An existing file: its own context.
    assert module.calls[0] == ('context', str(path)) and module.calls[1][2:] == (
        ['user_u', 'object_r', 'home_t', 's0'], False) and re.match(temp_name(), module.calls[1][1])
    # A host whose SELinux calls fail: the write goes on without them.
    module = SelinuxModule(broken=True)
    _files.write_atomic(module, str(path), str(path), u'{"b": 1}', False, False, expect=u'{"a": 1}')
    assert module.calls == [('context', str(path))] and path.read_text() == u'{"b": 1}'
    # Without SELinux nothing is asked (Module's selinux_enabled is False, and it has no other call).
    _files.write_atomic(Module(), str(path), str(path), u'{}', False, False)
    assert path.read_text() == u'{}' and leftovers(tmp_path) == []


def test_temporary_files_and_backups_are_named_so_a_later_run_knows_them(tmp_path, monkeypatch):
    path = tmp_path / 'c.json'
    path.write_text(u'{}')
    renamed = []
    rename = os.rename

    def spy(src, dst):
        renamed.append((os.path.basename(src), os.path.basename(dst)))
        return rename(src, dst)

    monkeypatch.setattr(_files.os, 'rename', spy)
    backup = _files.write_atomic(Module(), str(path), str(path), u'{"a": 1}', False, True, expect=u'{}')
    monkeypatch.undo()
    # The backup's copy, then the new content: both written under the temporary naming first.
    assert [dst for _src, dst in renamed] == [os.path.basename(backup), 'c.json']
    assert all(re.match(temp_name(), src) for src, _dst in renamed), renamed
    assert re.match(r'^%s\.%d\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$' % (re.escape(str(path)), os.getpid()), backup)
    # A leftover of that naming from a process that is gone is found, and only then.
    leftover = tmp_path / renamed[1][0].replace('-%d-' % os.getpid(), '-999999999-')
    leftover.write_text(u'sk-leftover')
    assert _files.stale_temps(str(path)) == [str(leftover)]


def test_a_temporary_file_is_private_from_its_first_byte(tmp_path, monkeypatch):
    seen = []
    write = os.write

    def spy(fd, data):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return write(fd, data)

    monkeypatch.setattr(_files.os, 'write', spy)
    old = os.umask(0)
    try:
        for mode in (None, 0o644, 0o755, 0o400):
            del seen[:]
            tmp = _files._write_temp(str(tmp_path), 'x-', b'{}', mode)
            final = fmode(tmp)
            os.unlink(tmp)
            # While written: no more than the owner's read and write; then the final mode.
            assert (seen, final) == ([0o600 if mode is None else mode & 0o600], 0o600 if mode is None else mode)
    finally:
        os.umask(old)


def test_a_short_write_is_carried_on_until_every_byte_is_written(tmp_path, monkeypatch):
    write = os.write

    def short(fd, data):
        return write(fd, bytes(data[:1000]))

    monkeypatch.setattr(_files.os, 'write', short)
    data = b'{"a": "%s"}' % (b'x' * 5000)
    path = tmp_path / 'c.json'
    _files.write_atomic(Module(), str(path), str(path), data, False, False)
    monkeypatch.undo()
    assert path.read_bytes() == data


def test_a_failed_temporary_write_is_named_and_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / 'c.json'
    path.write_text(u'{}')

    def broken(_fd):
        raise OSError(errno.EIO, 'Input/output error')

    monkeypatch.setattr(_files.os, 'fsync', broken)
    with pytest.raises(_files.FileError) as err:
        _files.write_atomic(Module(), str(path), str(path), u'{"a": 1}', False, True, expect=u'{}')
    assert str(err.value) == 'input/output error (EIO)'
    with pytest.raises(_files.FileError) as err:
        _files.make_backup(str(path), b'{}')
    assert str(err.value) == 'cannot write the backup in %s: input/output error (EIO)' % tmp_path
    monkeypatch.undo()
    assert path.read_text() == u'{}' and leftovers(tmp_path) == []


def test_a_failed_rename_is_named_and_leaves_the_file_and_no_backup(tmp_path, monkeypatch):
    path = tmp_path / 'c.json'
    path.write_text(u'{}')
    rename = os.rename

    def busy(src, dst):
        if dst == str(path):
            raise OSError(errno.EBUSY, 'Device or resource busy')
        return rename(src, dst)

    monkeypatch.setattr(_files.os, 'rename', busy)
    with pytest.raises(_files.FileError) as err:
        _files.write_atomic(Module(), str(path), str(path), u'{"a": 1}', False, True, expect=u'{}')
    monkeypatch.undo()
    assert str(err.value) == 'device or resource busy (EBUSY)'
    assert path.read_text() == u'{}' and leftovers(tmp_path) == []


def test_a_backup_name_already_taken_is_named_with_its_errno(tmp_path, monkeypatch):
    path = tmp_path / 'c.json'
    taken = str(tmp_path / 'c.json.taken~')
    monkeypatch.setattr(_files, 'backup_name', lambda real: taken)
    (tmp_path / 'c.json.taken~').write_text(u'older')
    with pytest.raises(_files.FileError) as err:
        _files.make_backup(str(path), b'{}')
    assert str(err.value) == 'cannot write the backup %s: a backup of that name already exists: %s (EEXIST)' % (
        taken, taken)


def test_the_conflict_message_says_what_happened_and_what_to_do(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text(u'{"theirs": 1}')
    with pytest.raises(_files.Conflict) as err:
        _files.check_unchanged(str(path), u'{}')
    assert str(err.value) == ('it changed while the module was running (saved by someone else?); that change '
                              'is kept: run the module again')
    _files.check_unchanged(str(path), u'{"theirs": 1}')
    _files.check_unchanged(str(tmp_path / 'missing.json'), None)


def test_decode_counts_lines_and_columns_from_the_first_byte():
    # A bad byte right after a line break that opens the file: line 2, column 1.
    with pytest.raises(_files.FileError) as err:
        _files.decode(b'\n\xff')
    assert str(err.value) == 'it is not UTF-8 text: byte 0xff at line 2, column 1'


class Statvfs:
    """What os.statvfs tells: reserved blocks and inodes (f_bfree/f_ffree) beyond what anyone but
    root may use (f_bavail/f_favail)."""
    f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_favail, f_frsize, f_bsize, f_flag = (
        1000, 100, 60, 500, 50, 30, 4096, 8192, 0)


@pytest.mark.parametrize('uid, files, want', [
    (0, 500, (400 * 1024, 4096, 50)),       # root may use the reserved blocks and inodes
    (1000, 500, (240 * 1024, 4096, 30)),
    (0, 0, (400 * 1024, 4096, None)),       # a file system that counts no inodes
    (1000, 0, (240 * 1024, 4096, None)),
])
def test_free_space_as_the_running_user_may_use_it(tmp_path, monkeypatch, uid, files, want):
    info = Statvfs()
    info.f_files = files
    monkeypatch.setattr(_files.os, 'statvfs', lambda path: info)
    monkeypatch.setattr(_files.os, 'geteuid', lambda: uid)
    assert _files.free_space(str(tmp_path)) == (os.stat(str(tmp_path)).st_dev,) + want


@pytest.mark.parametrize('umask, want', [(0o022, 0o644), (0, 0o666), (0o077, 0o600)])
def test_a_new_file_follows_the_umask(tmp_path, umask, want):
    old = os.umask(umask)
    try:
        assert _files.target_mode(str(tmp_path / 'new.json'), False, None) == want
        assert os.umask(umask) == umask  # (and the umask is left as it was)
    finally:
        os.umask(old)


def test_a_mode_the_task_sets_is_left_to_ansible(tmp_path):
    # With the task's mode, the file is written private and Ansible sets the mode afterwards.
    path = tmp_path / 'c.json'
    old = os.umask(0o022)
    try:
        _files.write_atomic(Module(mode='0644'), str(path), str(path), u'{}', False, False)
    finally:
        os.umask(old)
    assert fmode(path) == 0o600


def test_a_file_of_another_account_keeps_its_owner_as_far_as_this_user_may(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text(u'{}')
    root = os.geteuid() == 0
    other = (4242, 4343) if root else (os.geteuid(), os.getegid())
    os.chown(str(path), *other)
    _files.write_atomic(Module(), str(path), str(path), u'{"a": 1}', False, False, expect=u'{}')
    assert (os.stat(str(path)).st_uid, os.stat(str(path)).st_gid) == other
    # An owner asked for: given when this user may (root), else the file stays the writer's.
    ask = (4444, 4545)
    _files.write_atomic(Module(), str(path), str(path), u'{"b": 1}', False, False, owner=ask)
    assert (os.stat(str(path)).st_uid, os.stat(str(path)).st_gid) == (ask if root else other)
    assert _files.set_attributes(str(path), None, other if root else None) is root
    assert (os.stat(str(path)).st_uid, os.stat(str(path)).st_gid) == other


@pytest.mark.parametrize('call, args, cause', [
    ('mkdir', ('new/sub',), 'cannot create directory {tmp}/new: permission denied (EACCES)'),
    ('chmod', ('new/sub',), 'cannot set the mode of directory {tmp}/new: permission denied (EACCES)'),
])
def test_make_dirs_names_the_directory_it_could_not_make(tmp_path, monkeypatch, call, args, cause):
    monkeypatch.setattr(_files.os, call, raises(OSError(errno.EACCES, 'Permission denied')))
    with pytest.raises(_files.FileError) as err:
        _files.make_dirs(str(tmp_path / args[0]))
    assert str(err.value) == cause.format(tmp=tmp_path)


def test_a_directory_made_meanwhile_by_another_process_is_left_and_the_rest_made(tmp_path, monkeypatch):
    mkdir = os.mkdir
    first = str(tmp_path / 'a')

    def racing(path, mode=0o777):
        if path == first:
            mkdir(path, 0o755)  # the other process was first
            raise OSError(errno.EEXIST, 'File exists')
        return mkdir(path, mode)

    monkeypatch.setattr(_files.os, 'mkdir', racing)
    old = os.umask(0)
    try:
        created = _files.make_dirs(str(tmp_path / 'a' / 'b' / 'c'))
    finally:
        os.umask(old)
    assert created == [str(tmp_path / 'a' / 'b'), str(tmp_path / 'a' / 'b' / 'c')]
    assert [fmode(tmp_path / 'a'), fmode(tmp_path / 'a' / 'b')] == [0o755, 0o700]


def test_removals_and_attribute_changes_that_fail_are_named(tmp_path, monkeypatch):
    path = tmp_path / 'c.json'
    path.write_text(u'{}')
    os.chmod(str(path), 0o644)

    denied = raises(OSError(errno.EPERM, 'Operation not permitted'))
    monkeypatch.setattr(_files.os, 'unlink', denied)
    with pytest.raises(_files.FileError) as err:
        _files.remove_file(str(path), u'{}')
    assert str(err.value) == 'operation not permitted (EPERM)'
    with pytest.raises(_files.FileError) as err:
        _files.remove_files([str(path)])
    assert str(err.value) == 'cannot remove %s: operation not permitted (EPERM)' % path
    monkeypatch.setattr(_files.os, 'chmod', denied)
    with pytest.raises(_files.FileError) as err:
        _files.set_attributes(str(path), 0o600)
    assert str(err.value) == 'cannot set its owner and mode: operation not permitted (EPERM)'
    monkeypatch.undo()
    assert path.read_text() == u'{}' and fmode(path) == 0o644


def test_untrusted_directory_checks_every_parent_and_the_resolved_path(tmp_path, monkeypatch):
    me = os.geteuid()
    top = tmp_path / 'top'
    (top / 'a' / 'b').mkdir(parents=True)
    for part in (top, top / 'a', top / 'a' / 'b'):
        os.chmod(str(part), 0o755)
    # A parent on the way, writable by others and not sticky: named, though the directory is fine.
    os.chmod(str(top / 'a'), 0o777)
    assert _files.untrusted_directory(str(top / 'a' / 'b'), trusted_uid=me) == (
        '%s is writable by its group and others (mode 0777): another account could put a symlink there '
        'and have root write where it points' % (top / 'a'))
    os.chmod(str(top / 'a'), 0o755)
    # Reached through a symlink: the resolved path's parents are checked too.
    (top / 'open').mkdir()
    os.chmod(str(top / 'open'), 0o757)
    (top / 'open' / 'conf').mkdir()
    os.chmod(str(top / 'open' / 'conf'), 0o755)
    (top / 'a' / 'link').symlink_to(top / 'open' / 'conf')
    assert _files.untrusted_directory(str(top / 'a' / 'link'), trusted_uid=me) == (
        '%s is writable by others (mode 0757): another account could put a symlink there and have root '
        'write where it points' % (top / 'open'))
    # Owned by another account: named with the account.
    assert _files.untrusted_directory(str(top / 'a' / 'b'), trusted_uid=me + 4242) == (
        '%s belongs to %s, not root: another account could put a symlink there and have root write where it '
        'points' % (top / 'a' / 'b', _files._user_name(me)))
    # A part that is there (os.path.lexists) but cannot be looked at then (the lstat of _files itself).
    lstat = os.lstat

    def denied(path):
        if path == str(top / 'a' / 'b') and sys._getframe(1).f_code.co_filename == _files.__file__:
            raise OSError(errno.EACCES, 'Permission denied')
        return lstat(path)

    monkeypatch.setattr(_files.os, 'lstat', denied)
    assert _files.untrusted_directory(str(top / 'a' / 'b'), trusted_uid=me) == (
        '%s cannot be checked: permission denied (EACCES)' % (top / 'a' / 'b'))


def test_user_names_with_their_uid():
    me = os.geteuid()
    assert _files._user_name(me) == '%s (uid %d)' % (_files.running_user(), me)
    unused = max(entry.pw_uid for entry in pwd.getpwall()) + 4242
    assert _files._user_name(unused) == 'uid %d' % unused


def test_a_live_process_is_asked_about_not_signalled(tmp_path):
    # A process that any signal would end (a hang-up too, even under nohup), ready when it says so.
    child = subprocess.Popen([sys.executable, '-c', 'import signal, sys, time\n'
                              'for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_DFL)\n'
                              'print("ready"); sys.stdout.flush(); time.sleep(30)'], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b'ready\n'
        leftover = tmp_path / ('.c.json.omniroute-%d-ab12.tmp' % child.pid)
        leftover.write_text(u'sk-leftover')
        assert _files.stale_temps(str(tmp_path / 'c.json')) == []
        time.sleep(0.5)  # (a signal, had one been sent, has ended it by then)
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_leftovers_are_found_among_other_files_and_by_the_time_given(tmp_path):
    real = str(tmp_path / 'c.json')
    for name in ('.a.json', '.b.json.omniroute-999999999-ab12.tmp', '.c.json.omniroute-999999999-ab12.tmp',
                 'a.json', 'c.json'):
        (tmp_path / name).write_text(u'{}')
    # Files that sort before this file's leftovers do not end the search.
    assert _files.stale_temps(real) == [str(tmp_path / '.c.json.omniroute-999999999-ab12.tmp')]
    # "now" as given: a leftover of a live process (this one) is stale a day later.
    mine = tmp_path / ('.c.json.omniroute-%d-cd34.tmp' % os.getpid())
    mine.write_text(u'{}')
    assert str(mine) not in _files.stale_temps(real)
    assert str(mine) in _files.stale_temps(real, time.time() + _files.STALE_AFTER + 60)


def test_directory_problems_in_words(tmp_path, monkeypatch):
    stat_, access = os.stat, os.access

    def unreachable(path, *args, **kwargs):
        if path == str(tmp_path):
            raise OSError(errno.EACCES, 'Permission denied')
        return stat_(path, *args, **kwargs)

    monkeypatch.setattr(_files.os, 'stat', unreachable)
    assert _files.directory_problem(str(tmp_path / 'new')) == (
        '%s cannot be reached: permission denied (EACCES)' % tmp_path)
    monkeypatch.undo()
    info = Statvfs()
    info.f_flag = os.ST_RDONLY
    monkeypatch.setattr(_files.os, 'statvfs', lambda path: info)
    assert _files.directory_problem(str(tmp_path / 'new')) == '%s is on a read-only file system (EROFS)' % tmp_path
    monkeypatch.undo()

    def read_only_for_me(path, mode):
        # This user may read and search there, not write (what mode 0555 means to anyone but root).
        return not mode & os.W_OK and access(path, mode)

    monkeypatch.setattr(_files.os, 'access', read_only_for_me)
    assert _files.directory_problem(str(tmp_path / 'new')) == (
        '%s is not writable by %s: permission denied (EACCES)' % (tmp_path, _files.running_user()))


def test_leftovers_next_to_names_that_are_not_ours_or_vanish_are_still_found(tmp_path, monkeypatch):
    real = str(tmp_path / 'c.json')
    stale = tmp_path / '.c.json.omniroute-999999999-ab12.tmp'
    stale.write_text(u'{}')
    # Sorted before it: a name that starts like a leftover but is not one, and one that goes
    # away between the listing and its lstat (another run removing its leftover).
    (tmp_path / '.c.json.backup').write_text(u'{}')
    (tmp_path / '.c.json.omniroute-999999998-ab12.tmp').write_text(u'{}')
    lstat = os.lstat

    def vanishing(path):
        if path.endswith('999999998-ab12.tmp'):
            raise OSError(errno.ENOENT, 'No such file or directory')
        return lstat(path)

    monkeypatch.setattr(_files.os, 'lstat', vanishing)
    assert _files.stale_temps(real) == [str(stale)]


@pytest.mark.parametrize('name, limit', [
    ('.c.json.omniroute-{pid}-ab12.tmp', _files.STALE_AFTER),  # of a live process (this one)
    ('.c.json.abcd1234.tmp', _files.LEGACY_STALE_AFTER),       # the legacy naming
])
def test_a_leftover_is_stale_from_the_moment_its_limit_is_reached(tmp_path, name, limit):
    path = tmp_path / name.format(pid=os.getpid())
    path.write_text(u'{}')
    os.utime(str(path), (1700000000, 1700000000))
    real = str(tmp_path / 'c.json')
    assert _files.stale_temps(real, 1700000000 + limit - 1) == []
    assert _files.stale_temps(real, 1700000000 + limit) == [str(path)]


def test_a_file_that_cannot_be_read_is_named_with_the_reason(tmp_path, monkeypatch):
    loop = tmp_path / 'loop.json'
    loop.symlink_to(tmp_path / 'loop2.json')
    (tmp_path / 'loop2.json').symlink_to(loop)
    with pytest.raises(_files.FileError) as err:
        _files.read_snapshot(str(loop))
    assert str(err.value) == 'cannot read it: too many levels of symbolic links (ELOOP)'
    path = tmp_path / 'c.json'
    path.write_text(u'{}')

    # The open fails: for want of permission it is an error; a file removed since the stat is missing.
    monkeypatch.setattr(_files.os, 'open', raises(OSError(errno.EACCES, 'Permission denied')))
    with pytest.raises(_files.FileError) as err:
        _files.read_snapshot(str(path))
    assert str(err.value) == 'cannot read it: permission denied (EACCES)'
    monkeypatch.setattr(_files.os, 'open', raises(OSError(errno.ENOENT, 'No such file or directory')))
    assert _files.read_snapshot(str(path)) == (None, str(path), None)
    monkeypatch.undo()
    monkeypatch.setattr(_files.os, 'read', raises(OSError(errno.EIO, 'Input/output error')))
    with pytest.raises(_files.FileError) as err:
        _files.read_snapshot(str(path))
    assert str(err.value) == 'cannot read it: input/output error (EIO)'


def swap_before_open(monkeypatch, path, swap):
    """os.open as _files calls it, with ``swap()`` run just before: what another process may do
    between the module's stat and its open. Returns the flags each open was given."""
    opened = os.open
    flags = []

    def racing(name, how, *args):
        if name == str(path):
            flags.append(how)
            swap()
        return opened(name, how, *args)

    monkeypatch.setattr(_files.os, 'open', racing)
    return flags


def test_a_fifo_swapped_in_before_the_open_is_refused_without_blocking(tmp_path, monkeypatch):
    path = tmp_path / 'c.json'
    path.write_text(u'{}')

    def to_fifo():
        os.unlink(str(path))
        os.mkfifo(str(path))

    flags = swap_before_open(monkeypatch, path, to_fifo)
    outcome = []

    def read():
        try:
            _files.read_snapshot(str(path))
        except _files.FileError as exc:
            outcome.append(str(exc))

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(30)
    if reader.is_alive():  # blocked in the open: a writer lets it go, then the test fails
        with open(str(path), 'wb'):
            pass
        reader.join()
    assert outcome == ['it is a FIFO (named pipe) (%s), not a regular file; only regular files are edited, '
                       'nothing was changed' % path]
    # Never blocking, never taking a terminal as the controlling one, never handed on to a child.
    assert flags == [os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC]


def test_a_file_replaced_between_the_stat_and_the_open_is_not_read(tmp_path, monkeypatch):
    path = tmp_path / 'c.json'
    path.write_text(u'{"old": 1}')

    def replace():
        (tmp_path / 'new.json').write_text(u'{"new": 1}')
        os.rename(str(tmp_path / 'new.json'), str(path))

    swap_before_open(monkeypatch, path, replace)
    with pytest.raises(_files.FileError) as err:
        _files.read_snapshot(str(path))
    assert str(err.value) == 'it was replaced while being read; nothing was changed, run again'


def test_a_uid_without_an_account_is_named_by_its_number(monkeypatch):
    unused = max(entry.pw_uid for entry in pwd.getpwall()) + 4242
    monkeypatch.setattr(_files.os, 'geteuid', lambda: unused)
    assert _files.running_user() == str(unused)
