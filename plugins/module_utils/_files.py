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
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native

SECRET_MODE_MASK = 0o077


class FileError(Exception):
    """A file cannot be read or written; the message names it and says why."""


def running_user():
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def read_text(path):
    """Return ``(text, real_path)``; ``text`` is None when the file does not exist.

    A symlink is followed (its target is what gets edited); a dangling one yields None.
    """
    real = os.path.realpath(path)
    if os.path.isdir(real):
        raise FileError('it is a directory, not a config file')
    try:
        with open(real, 'rb') as handle:
            data = handle.read()
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None, real
        raise FileError('cannot read it: %s' % to_native(exc.strerror))
    try:
        return data.decode('utf-8'), real
    except UnicodeDecodeError as exc:
        line = data.count(b'\n', 0, exc.start) + 1
        column = exc.start - (data.rfind(b'\n', 0, exc.start) + 1) + 1
        raise FileError('it is not UTF-8 text: byte 0x%02x at line %d, column %d'
                        % (bytearray(data[exc.start:exc.start + 1])[0], line, column))


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
                raise FileError('cannot create directory %s: %s' % (path, to_native(exc.strerror)))
        os.chmod(path, mode)
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


def write_atomic(module, path, real_path, text, holds_secret, backup):
    """Write ``text`` to ``real_path`` atomically; return the backup file's path or None.

    The destination's permissions are tightened *before* the rename when the new content holds
    a secret, so there is no moment where a key sits in a file others can read.  A backup is
    made private (0600 at most) for the same reason.
    """
    mode = target_mode(real_path, holds_secret, module.params.get('mode'))
    exists = os.path.exists(real_path)
    backup_file = None
    if exists and backup:
        backup_file = module.backup_local(real_path)
        os.chmod(backup_file, stat.S_IMODE(os.stat(backup_file).st_mode) & 0o600)
    if exists and mode is not None and stat.S_IMODE(os.stat(real_path).st_mode) != mode:
        os.chmod(real_path, mode)
    directory = os.path.dirname(real_path)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(real_path), suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(to_bytes(text, errors='surrogate_or_strict'))
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if exists:
            # Keeps the destination's owner, group, mode and SELinux context.
            module.atomic_move(tmp, real_path, unsafe_writes=module.params.get('unsafe_writes', False))
        else:
            # A new file: atomic_move would widen it to 0666 & ~umask after the rename.
            os.rename(tmp, real_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return backup_file
