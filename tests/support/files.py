# -*- coding: utf-8 -*-
"""Files for the tests to start from and look at, and the faults they inject: the one home of these helpers.

``write`` lays out a file (text as UTF-8, or bytes as they are) with its parent directories and a
known mode; ``fmode`` reads a file's permission bits; ``raises`` stands in for a call that fails;
``Module`` is what a file write asks of an AnsibleModule; ``SOMEONE_ELSE`` is a uid that owns
nothing here (another account, for the ownership rules).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

# Not the running user, and the owner of nothing on the test machine: the rules' "another account".
SOMEONE_ELSE = os.geteuid() + 4242


def write(path, data, mode=0o644):
    """``data`` (text, written as UTF-8, or bytes) to ``path`` (a pathlib.Path), its parent
    directories made first; then ``chmod mode`` (None: the mode the umask leaves). Returns the
    path as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode('utf-8') if isinstance(data, str) else data)
    if mode is not None:
        path.chmod(mode)
    return str(path)


def fmode(path):
    """The permission bits of ``path`` (a str or a pathlib.Path)."""
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def raises(exc):
    """A stand-in for a call (``os.open``, ``os.unlink``, a connect...) that raises ``exc``
    whatever it is given: the fault a test puts in the code's way with monkeypatch."""
    def call(*_args, **_kwargs):
        raise exc
    return call


class Module:
    """What a file write (``_files.write_atomic``) asks of an AnsibleModule: its ``mode`` option
    and SELinux (off)."""

    def __init__(self, mode=None):
        self.params = {'mode': mode}

    @staticmethod
    def selinux_enabled():
        return False
