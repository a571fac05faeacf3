# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File handling shared by the collection's modules: read safely, write atomically.

Private to the collection.  Every write goes to a temporary file in the destination's own
directory and is renamed over it, so a reader never sees a half-written config.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import pwd
import re
import stat
import tempfile
import time

from ansible.module_utils.common.text.converters import to_bytes, to_native

SECRET_MODE_MASK = 0o077
# Temporary files are named ``.<file>.omniroute-<pid>-<random>.tmp`` next to the file, so a later
# run can tell its own leftovers (a killed run's copy may hold a key) from anything else.
TEMP_TAG = 'omniroute'
# A leftover whose process still runs is left alone, unless it is older than this.
STALE_AFTER = 24 * 3600
# Before this naming, temporary files were ``.<file>.<8 random characters>.tmp``.
LEGACY_STALE_AFTER = 600
# The rest of a temporary file's name after ``.<base>.``: this module's (``<tag>-<pid>-<random>.tmp``)
# and the legacy ``<8 characters>.tmp``; compiled once, in the module process.
_OURS = re.compile(r'^%s-(\d+)-[A-Za-z0-9_]+\.tmp$' % TEMP_TAG)
_LEGACY = re.compile(r'^[a-z0-9_]{8}\.tmp$')
_KINDS = (
    (stat.S_ISCHR, 'character device'),
    (stat.S_ISBLK, 'block device'),
    (stat.S_ISFIFO, 'FIFO (named pipe)'),
    (stat.S_ISSOCK, 'socket'),
)


class FileError(Exception):
    """A file cannot be read or written; the message names it and says why."""


class Conflict(FileError):
    """The file changed between the module's read and its write."""


def running_user():
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def why(exc):
    """An OSError in words, with its errno name: ``no space left on device (ENOSPC)``."""
    code = getattr(exc, 'errno', None)
    text = to_native(getattr(exc, 'strerror', None) or exc)
    name = errno.errorcode.get(code)
    text = text[:1].lower() + text[1:]
    return '%s (%s)' % (text, name) if name else text


def file_kind(mode):
    for test, name in _KINDS:
        if test(mode):
            return name
    return 'special file'


def _check_regular(real, st):
    if stat.S_ISDIR(st.st_mode):
        raise FileError('it is a directory, not a config file')
    if not stat.S_ISREG(st.st_mode):
        raise FileError('it is a %s (%s), not a regular file; only regular files are edited, '
                        'nothing was changed' % (file_kind(st.st_mode), real))


def read_snapshot(path):
    """Return ``(data, real_path, stat)``; ``data`` (bytes) and ``stat`` are None when the file
    does not exist.

    A symlink is followed (its target is what gets edited); a dangling one counts as missing.
    Only a regular file is read: the type is checked on the resolved path before anything is
    opened, and the file is opened without blocking, so a FIFO or a device is refused, never
    read (a FIFO would block forever, ``/dev/null`` would read as empty).
    """
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None, real, None
        raise FileError('cannot read it: %s' % why(exc))
    _check_regular(real, st)
    flags = os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0) | getattr(os, 'O_CLOEXEC', 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None, real, None
        raise FileError('cannot read it: %s' % why(exc))
    try:
        opened = os.fstat(fd)
        _check_regular(real, opened)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            raise FileError('it was replaced while being read; nothing was changed, run again')
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        raise FileError('cannot read it: %s' % why(exc))
    finally:
        os.close(fd)
    return b''.join(chunks), real, opened


def decode(data):
    """UTF-8 ``data`` as text, or a FileError naming the first bad byte's line and column."""
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as exc:
        line = data.count(b'\n', 0, exc.start) + 1
        column = exc.start - (data.rfind(b'\n', 0, exc.start) + 1) + 1
        raise FileError('it is not UTF-8 text: byte 0x%02x at line %d, column %d'
                        % (bytearray(data[exc.start:exc.start + 1])[0], line, column))


def read_text(path):
    """Return ``(text, real_path)``; ``text`` is None when the file does not exist."""
    data, real, _st = read_snapshot(path)
    return (None if data is None else decode(data)), real


def make_dirs(directory, mode=0o700):
    """Create ``directory`` and missing parents with ``mode``; return what was created."""
    created = []
    directory = os.path.abspath(directory)
    missing = []
    while not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, mode)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise FileError('cannot create directory %s: %s' % (path, why(exc)))
            if not os.path.isdir(path):
                # A file (or a dangling link) where a directory should be: left exactly as it is.
                raise FileError('cannot create directory %s: something that is not a directory is there' % path)
            continue  # made meanwhile by another process: its mode is not ours to change
        try:
            os.chmod(path, mode)
        except OSError as exc:
            raise FileError('cannot set the mode of directory %s: %s' % (path, why(exc)))
        created.append(path)
    return created


def target_mode(real_path, holds_secret, requested_mode):
    """The permission bits a written file should end up with (None: leave as Ansible sets)."""
    if requested_mode is not None:
        return None
    try:
        current = stat.S_IMODE(os.stat(real_path).st_mode)
    except OSError:
        if holds_secret:
            return 0o600
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
    if holds_secret:
        return current & ~SECRET_MODE_MASK
    return current


def _temp_prefix(real_path):
    return '.%s.%s-%d-' % (os.path.basename(real_path), TEMP_TAG, os.getpid())


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def stale_temps(real_path, now=None):
    """Temporary files an earlier, interrupted run left next to ``real_path``.

    Only files of this module's own naming, regular, and owned by the running user; a file
    whose process still runs is kept (another run may be about to rename it).
    """
    directory, base = os.path.split(real_path)
    head = '.%s.' % base
    now = time.time() if now is None else now
    found = []
    try:
        names = os.listdir(directory)
    except OSError:
        return found
    for name in sorted(names):
        if not name.startswith(head):
            continue
        m = _OURS.match(name[len(head):])
        if m is None and not _LEGACY.match(name[len(head):]):
            continue
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            continue
        age = now - st.st_mtime
        if m is not None:
            if _pid_alive(int(m.group(1))) and age < STALE_AFTER:
                continue
        elif age < LEGACY_STALE_AFTER:
            continue
        found.append(path)
    return found


def remove_files(paths):
    for path in paths:
        try:
            os.unlink(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise FileError('cannot remove %s: %s' % (path, why(exc)))


def _write_temp(directory, prefix, data, mode, owner=None):
    """A fsynced temporary file holding ``data``, made private (or ``mode``) before any byte."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix='.tmp', dir=directory)
    try:
        try:
            os.fchmod(fd, 0o600 if mode is None else (mode & 0o600))
            if owner is not None:
                try:
                    os.fchown(fd, owner[0], owner[1])
                except OSError:
                    pass  # not permitted (another group): the file stays the writer's
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
            if mode is not None:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def backup_name(real_path):
    return '%s.%d.%s' % (real_path, os.getpid(), time.strftime('%Y-%m-%d@%H:%M:%S~'))


def make_backup(real_path, data):
    """A private (0600) copy of ``data`` next to ``real_path``; never left partial.

    The copy is written to a temporary file first and renamed into place only when complete.
    """
    directory = os.path.dirname(real_path)
    try:
        tmp = _write_temp(directory, _temp_prefix(real_path), data, 0o600)
    except OSError as exc:
        raise FileError('cannot write the backup in %s: %s' % (directory, why(exc)))
    name = backup_name(real_path)
    try:
        if os.path.lexists(name):
            raise OSError(errno.EEXIST, 'a backup of that name already exists: %s' % name)
        os.rename(tmp, name)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise FileError('cannot write the backup %s: %s' % (name, why(exc)))
    return name


def attributes(real_path):
    """``(mode, uid, gid)`` of ``real_path`` (permission bits only), or None when it is missing."""
    try:
        st = os.stat(real_path)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def set_attributes(real_path, mode=None, owner=None):
    """Give ``real_path`` ``mode`` and ``owner`` (``(uid, gid)``) where they differ; True if any did."""
    current = attributes(real_path)
    if current is None:
        raise FileError('it does not exist')
    changed = False
    try:
        if owner is not None and current[1:] != tuple(owner):
            os.chown(real_path, owner[0], owner[1])
            changed = True
        if mode is not None and current[0] != mode:
            os.chmod(real_path, mode)
            changed = True
    except OSError as exc:
        raise FileError('cannot set its owner and mode: %s' % why(exc))
    return changed


def write_atomic(module, path, real_path, text, holds_secret, backup, expect=False, mode=None, owner=None):
    """Write ``text`` to ``real_path`` atomically; return the backup file's path or None.

    Nothing about the original changes until the final rename: the new content goes to a
    temporary file in the same directory that is private from its first byte, gets the final
    mode (tightened when it holds a secret) and the original's owner, and only then replaces
    the original.  ``mode`` and ``owner`` (``(uid, gid)``), when given, are the final ones
    whatever the original had.  ``expect`` is the text read when the change was planned (None:
    the file did not exist); when the file no longer holds it, Conflict is raised and nothing
    is written.  A backup is made private (0600), written completely before it appears, and
    removed again if the write fails.  A FileError leaves the file as it was.
    """
    if mode is None:
        mode = target_mode(real_path, holds_secret, module.params.get('mode'))
    directory = os.path.dirname(real_path)
    try:
        current = os.stat(real_path)
    except OSError:
        current = None
    if owner is None and current is not None and (current.st_uid, current.st_gid) != (os.geteuid(), os.getegid()):
        owner = (current.st_uid, current.st_gid)
    data = text if isinstance(text, bytes) else to_bytes(text, errors='surrogate_or_strict')
    try:
        tmp = _write_temp(directory, _temp_prefix(real_path), data, mode, owner)
    except OSError as exc:
        raise FileError(why(exc))
    backup_file = None
    try:
        _selinux_like(module, real_path, tmp, current is not None)
        if expect is not False:
            check_unchanged(real_path, expect)
        if current is not None and backup:
            backup_file = make_backup(real_path, to_bytes(expect, errors='surrogate_or_strict')
                                      if isinstance(expect, str) else read_snapshot(real_path)[0])
        try:
            os.rename(tmp, real_path)
        except OSError as exc:
            raise FileError(why(exc))
    except BaseException:
        _unlink_quietly(tmp)
        if backup_file:
            _unlink_quietly(backup_file)
        raise
    _fsync_dir(directory)
    return backup_file


def remove_file(real_path, expect):
    """Remove ``real_path`` if it still holds ``expect`` (Conflict otherwise)."""
    check_unchanged(real_path, expect)
    try:
        os.unlink(real_path)
    except OSError as exc:
        raise FileError(why(exc))
    _fsync_dir(os.path.dirname(real_path))


# --------------------------------------------------------------------------- checks before writing
def nearest_existing(path):
    """``path`` itself when it exists, else its nearest existing parent."""
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def directory_problem(directory):
    """Why files cannot be written in ``directory`` (created when missing), or None.

    The nearest existing part of it must be a directory the running user may write to and
    search, on a file system mounted read-write.
    """
    existing = nearest_existing(directory)
    try:
        st = os.stat(existing)
    except OSError as exc:
        return '%s cannot be reached: %s' % (existing, why(exc))
    if not stat.S_ISDIR(st.st_mode):
        return '%s is not a directory' % existing
    try:
        if os.statvfs(existing).f_flag & getattr(os, 'ST_RDONLY', 1):
            return '%s is on a read-only file system (EROFS)' % existing
    except OSError:
        pass
    if not os.access(existing, os.W_OK | os.X_OK):
        return '%s is not writable by %s: permission denied (EACCES)' % (existing, running_user())
    return None


def free_space(path):
    """``(device, bytes_free, block_size, inodes_free)`` for the file system holding ``path``,
    as the running user may use it (root may use the reserved blocks); None when unknown."""
    existing = nearest_existing(path)
    try:
        st = os.statvfs(existing)
        device = os.stat(existing).st_dev
    except OSError:
        return None
    if not st.f_blocks:
        return None  # a file system that does not tell (some network or pseudo file systems)
    root = os.geteuid() == 0
    blocks = st.f_bfree if root else st.f_bavail
    inodes = (st.f_ffree if root else st.f_favail) if st.f_files else None
    size = st.f_frsize or st.f_bsize
    return device, blocks * size, size, inodes


def blocks_for(size, block):
    """Bytes a file of ``size`` bytes takes on a file system of ``block``-byte blocks."""
    return -(-size // block) * block if size else 0


def untrusted_directory(directory, trusted_uid=0):
    """Why ``directory`` cannot be trusted for files root writes, or None.

    Every existing directory on the way to it, both as named and once symlinks are resolved,
    must belong to root (``trusted_uid``) and not be writable by group or others; a sticky
    directory owned by root (``/tmp``) may be on the way, not be the directory itself.
    Otherwise another account could swap a part of the path (or the directory's files) for a
    symlink and have root write where it points.
    """
    directory = os.path.abspath(directory)
    seen = set()
    for chain in (directory, os.path.realpath(directory)):
        path = chain
        own = True
        while True:
            if path not in seen and os.path.lexists(path):
                seen.add(path)
                try:
                    st = os.lstat(path)
                except OSError as exc:
                    return '%s cannot be checked: %s' % (path, why(exc))
                if stat.S_ISLNK(st.st_mode):
                    # Its target is checked on the resolved chain; a link may only sit in a
                    # directory that is trusted, which the walk up checks.
                    pass
                elif not stat.S_ISDIR(st.st_mode):
                    return '%s is not a directory' % path
                else:
                    mode = stat.S_IMODE(st.st_mode)
                    if st.st_uid != trusted_uid:
                        return ('%s belongs to %s, not root: another account could put a symlink there '
                                'and have root write where it points' % (path, _user_name(st.st_uid)))
                    if mode & 0o022 and not (mode & stat.S_ISVTX and not own):
                        return ('%s is writable by %s (mode %04o): another account could put a symlink '
                                'there and have root write where it points'
                                % (path, 'its group and others' if mode & 0o022 == 0o022 else
                                   'its group' if mode & 0o020 else 'others', mode))
            own = False
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent
    return None


def _user_name(uid):
    try:
        return '%s (uid %d)' % (pwd.getpwuid(uid).pw_name, uid)
    except KeyError:
        return 'uid %d' % uid


def check_unchanged(real_path, expect):
    """Raise Conflict unless ``real_path`` still holds ``expect`` (None: still missing)."""
    data, _real, _st = read_snapshot(real_path)
    now = None if data is None else data
    want = None if expect is None else to_bytes(expect, errors='surrogate_or_strict')
    if now != want:
        raise Conflict('it changed while the module was running (saved by someone else?); '
                       'that change is kept: run the module again')


def _selinux_like(module, real_path, tmp, exists):
    """Give the temporary file the SELinux context the destination has (or would get)."""
    try:
        if not module.selinux_enabled():
            return
        context = module.selinux_context(real_path) if exists else module.selinux_default_context(real_path)
        module.set_context_if_different(tmp, context, False)
    except Exception:  # pylint: disable=broad-except
        pass  # no SELinux support on this host


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
