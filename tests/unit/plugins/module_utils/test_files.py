# -*- coding: utf-8 -*-
"""_files: safe reads, atomic writes, backups, leftovers and the checks before writing, called
directly (the modules' tests prove the same through the modules; these pin each promise on its
own). Found unchecked by mutation testing (issue 26)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _files


class Module:
    """What write_atomic asks of an AnsibleModule: its ``mode`` option and SELinux (off)."""

    def __init__(self, mode=None):
        self.params = {'mode': mode}

    @staticmethod
    def selinux_enabled():
        return False


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


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
    assert all(mode_of(p) == 0o700 for p in created)
    assert _files.make_dirs(str(deep)) == []
    assert _files.make_dirs(str(deep / 'd'), 0o750) == [str(deep / 'd')] and mode_of(deep / 'd') == 0o750
    (tmp_path / 'file').write_text(u'')
    os.chmod(str(tmp_path / 'file'), 0o644)
    with pytest.raises(_files.FileError) as err:
        _files.make_dirs(str(tmp_path / 'file' / 'sub'))
    assert str(err.value) == ('cannot create directory %s: something that is not a directory is there'
                              % (tmp_path / 'file'))
    # The file in the way is left exactly as it was (its mode was once set to the directory's).
    assert mode_of(tmp_path / 'file') == 0o644


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
    assert _files.set_attributes(str(path), 0o600, me) is True and mode_of(path) == 0o600
    assert _files.set_attributes(str(path), 0o600, me) is False
    assert _files.set_attributes(str(path)) is False


# --------------------------------------------------------------------------- writing
def test_write_atomic_replaces_the_file_and_keeps_its_mode(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text(u'{}\n')
    os.chmod(str(path), 0o640)
    before = os.stat(str(path)).st_ino
    assert _files.write_atomic(Module(), str(path), str(path), u'{"a": "é"}\n', False, False, expect=u'{}\n') is None
    assert path.read_bytes() == u'{"a": "é"}\n'.encode('utf-8') and mode_of(path) == 0o640
    assert os.stat(str(path)).st_ino != before and leftovers(tmp_path) == []
    # Bytes are written as they are; a secret makes the file private.
    _files.write_atomic(Module(), str(path), str(path), b'{"k": 1}', True, False)
    assert path.read_bytes() == b'{"k": 1}' and mode_of(path) == 0o600


def test_write_atomic_of_a_new_file_and_an_explicit_mode(tmp_path):
    path = tmp_path / 'new.json'
    _files.write_atomic(Module(), str(path), str(path), u'{}', True, True, expect=None)
    assert mode_of(path) == 0o600 and leftovers(tmp_path) == []  # no backup of nothing
    other = tmp_path / 'other.json'
    _files.write_atomic(Module(), str(other), str(other), u'{}', True, False, mode=0o644)
    assert mode_of(other) == 0o644


def test_write_atomic_keeps_a_private_backup_of_what_was_there(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text(u'{"old": 1}')
    os.chmod(str(path), 0o644)
    backup = _files.write_atomic(Module(), str(path), str(path), u'{"new": 1}', False, True, expect=u'{"old": 1}')
    assert backup.startswith(str(path) + '.%d.' % os.getpid()) and backup.endswith('~')
    with open(backup) as handle:
        assert handle.read() == '{"old": 1}'
    assert mode_of(backup) == 0o600 and path.read_text() == u'{"new": 1}'
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
