# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenCode's layout: where it reads its configs and keeps its key, as one user sees it.

The one home of every path rule of OpenCode 1.18 the collection relies on:

* the global config directory (``$XDG_CONFIG_HOME/opencode``, default ``~/.config/opencode``) and
  its files ``config.json`` < ``opencode.json`` < ``opencode.jsonc``; :meth:`Layout.discover`
  picks the one that wins, :meth:`Layout.precedence` places an explicit path among them;
* the data directory (``$XDG_DATA_HOME/opencode``) and its credential store ``auth.json``;
* ``~/.opencode``, ``OPENCODE_CONFIG`` and ``OPENCODE_CONFIG_DIR``, loaded after the global files;
* the managed (administrator) directory: ``/etc/opencode`` on Linux,
  ``/Library/Application Support/opencode`` on macOS, ``$OPENCODE_TEST_MANAGED_CONFIG_DIR``
  when set (it wins, as in OpenCode); its files ``opencode.json`` < ``opencode.jsonc``;
* the layers OpenCode loads after a target file and the user layers under the managed one,
  with what each does to a provider (:func:`overriding_layers`, :func:`user_layers`);
* the user's login files that export OpenCode's location variables (:func:`login_exports`);
* the ``opencode`` binary a user would run (:meth:`Layout.find_opencode`) and its version
  (:func:`opencode_version`, bounded in time and output).

One XDG rule: ``$XDG_CONFIG_HOME``/``$XDG_DATA_HOME`` count only when they are absolute and name
a directory the running user owns (see :meth:`Layout.xdg`).

Private to the collection; standard library only; no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fnmatch
import os
import re
import selectors
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import Document

# Global config files, in increasing precedence (a later one overrides an earlier one).
CONFIG_FILES = ('config.json', 'opencode.json', 'opencode.jsonc')
# The files OpenCode loads from ~/.opencode, OPENCODE_CONFIG_DIR and the managed directory.
DIR_FILES = ('opencode.json', 'opencode.jsonc')
# The file written when a directory has none of its files yet.
NEW_FILE = 'opencode.json'
LINUX_MANAGED_DIR = '/etc/opencode'
MACOS_MANAGED_DIR = '/Library/Application Support/opencode'
MANAGED_OVERRIDE = 'OPENCODE_TEST_MANAGED_CONFIG_DIR'
# Variables that move where OpenCode reads its config; set in a login file they escape the module.
LOCATION_VARIABLES = ('OPENCODE_CONFIG', 'OPENCODE_CONFIG_DIR', MANAGED_OVERRIDE)
# The most of a config layer that is read to tell what it does (a 2 MB config is far below).
MAX_LAYER_BYTES = 32 * 1024 * 1024
# The most of a login file (or ~/.npmrc) that is read.
MAX_LOGIN_BYTES = 256 * 1024
# At most this many files of a conf.d-style directory are read.
MAX_DIR_FILES = 64
# ``opencode --version`` of a user's own binary: at most this long, at most this much output.
VERSION_TIMEOUT = 20
VERSION_OUTPUT_LIMIT = 4096
# npm's global prefixes outside any home, searched after PATH (:meth:`Layout.npm_prefixes`).
SYSTEM_NPM_PREFIXES = ('/usr/local', '/opt/homebrew')
# ``prefix = ...`` in ~/.npmrc (every regular expression here is compiled once, at import, in the
# module process: the users module's per-user processes inherit it instead of compiling their own).
_NPM_PREFIX = re.compile(r'^\s*prefix\s*=\s*(.+?)\s*$')


# --------------------------------------------------------------------------- reading
def read_bounded(path, limit):
    """``(data, complete)``: at most ``limit`` bytes of the regular file ``path``.

    ``data`` is None when there is no readable regular file (missing, a directory, a FIFO, a
    device, no permission); a FIFO or a device is never opened for reading in a way that can
    block.  ``complete`` is False when the file is longer than ``limit``.
    """
    flags = os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0) | getattr(os, 'O_CLOEXEC', 0)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None, True
        fd = os.open(path, flags)
    except (OSError, ValueError):
        return None, True
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, True
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return None, True
    finally:
        os.close(fd)
    data = b''.join(chunks)
    return data[:limit], len(data) <= limit


def owned_by(path, uid):
    """True when ``path`` (or, when missing, its nearest existing parent) belongs to ``uid``."""
    path = os.path.abspath(path)
    while True:
        try:
            return os.stat(path).st_uid == uid
        except OSError:
            parent = os.path.dirname(path)
            if parent == path:
                return False
            path = parent


def os_managed_dir(system=None):
    """The managed directory OpenCode reads on ``system`` (``os.uname()[0]``: ``Linux``, ``Darwin``)."""
    system = system or os.uname()[0]
    return MACOS_MANAGED_DIR if system == 'Darwin' else LINUX_MANAGED_DIR


def discover(directory, names=CONFIG_FILES, exists=os.path.lexists):
    """``(target, lower)`` for the files ``names`` (increasing precedence) in ``directory``.

    ``target`` is the file that wins (the highest-precedence one that exists) or a new
    ``opencode.json``; ``lower`` are the existing files it overrides, lowest first.
    """
    present = [os.path.join(directory, n) for n in names if exists(os.path.join(directory, n))]
    if not present:
        return os.path.join(directory, NEW_FILE), []
    return present[-1], present[:-1]


class Layout:
    """OpenCode's paths for one user.

    ``environ`` is that user's environment (default ``os.environ``), ``home`` their home
    (default ``$HOME``, then ``~``), ``uid`` the account the module runs as (default the
    effective uid: in the ``users`` module's child processes, the user), ``system`` the OS name
    as ``os.uname()[0]`` gives it (default this host's).
    """

    def __init__(self, environ=None, home=None, uid=None, system=None):
        self.environ = os.environ if environ is None else environ
        self.home = home or self.environ.get('HOME') or os.path.expanduser('~')
        self.uid = os.geteuid() if uid is None else uid
        self.system = system or os.uname()[0]

    # ----------------------------------------------------------------------- XDG
    def xdg(self, var, fallback):
        """``(base, ignored)``: ``$var`` when it is set, absolute and names a directory the
        running user owns, else ``fallback``; ``ignored`` is the value set aside (None when none).

        With ``become_method: su`` (or ``sudo -E``) the controller's XDG variables travel into
        every user's run; a directory the user does not own is not theirs, so their own default
        is used instead of sending every user to one shared place.
        """
        value = self.environ.get(var)
        if not value:
            return fallback, None
        if not os.path.isabs(value) or not owned_by(value, self.uid):
            return fallback, value
        return value, None

    @property
    def config_base(self):
        return self.xdg('XDG_CONFIG_HOME', os.path.join(self.home, '.config'))[0]

    @property
    def config_dir(self):
        """The directory OpenCode reads the global configs from."""
        return os.path.join(self.config_base, 'opencode')

    @property
    def data_dir(self):
        """The directory of OpenCode's credential store."""
        return os.path.join(self.xdg('XDG_DATA_HOME', os.path.join(self.home, '.local', 'share'))[0], 'opencode')

    @property
    def auth_path(self):
        return os.path.join(self.data_dir, 'auth.json')

    def ignored_xdg(self):
        """``[(var, value)]`` for the XDG variables set aside by :meth:`xdg`."""
        found = []
        for var in ('XDG_CONFIG_HOME', 'XDG_DATA_HOME'):
            ignored = self.xdg(var, '')[1]
            if ignored:
                found.append((var, ignored))
        return found

    # ----------------------------------------------------------------------- user files
    def global_files(self):
        """Every global config path, existing or not, lowest precedence first."""
        return [os.path.join(self.config_dir, n) for n in CONFIG_FILES]

    def discover(self, exists=os.path.lexists):
        """``(target, lower)`` of the global config files (see :func:`discover`)."""
        return discover(self.config_dir, CONFIG_FILES, exists)

    def precedence(self, path, exists=os.path.lexists):
        """For an explicit ``path``: ``(lower, higher)``, the existing global files below and above it."""
        path = os.path.abspath(path)
        names = self.global_files()
        if path not in names:
            # $OPENCODE_CONFIG, project and .opencode files are all loaded after the global ones.
            return [p for p in names if exists(p)], []
        index = names.index(path)
        return [p for p in names[:index] if exists(p)], [p for p in names[index + 1:] if exists(p)]

    def dot_opencode(self):
        """``~/.opencode/opencode.json(c)``, existing or not: loaded after the global files."""
        return [os.path.join(self.home, '.opencode', n) for n in DIR_FILES]

    def dot_opencode_files(self, exists=os.path.lexists):
        return [p for p in self.dot_opencode() if exists(p)]

    def opencode_config(self):
        """The file ``$OPENCODE_CONFIG`` names, absolute, or None."""
        value = self.environ.get('OPENCODE_CONFIG')
        if not value:
            return None
        return os.path.abspath(os.path.join(self.home, value[2:]) if value.startswith('~/') else value)

    def opencode_config_dir(self):
        value = self.environ.get('OPENCODE_CONFIG_DIR')
        return os.path.abspath(value) if value else None

    # ----------------------------------------------------------------------- managed
    @property
    def os_managed_dir(self):
        """The managed directory of this OS, whatever the environment says (where the role writes)."""
        return os_managed_dir(self.system)

    @property
    def managed_dir(self):
        """The managed directory OpenCode reads for this user: ``$OPENCODE_TEST_MANAGED_CONFIG_DIR``
        wins, as in OpenCode."""
        return self.environ.get(MANAGED_OVERRIDE) or self.os_managed_dir

    def managed_files(self, directory=None):
        """The managed directory's files, existing or not, lowest precedence first."""
        return [os.path.join(directory or self.managed_dir, n) for n in DIR_FILES]

    # ----------------------------------------------------------------------- layers
    def layers_after(self, target):
        """``[(kind, path)]``: every config file OpenCode loads after ``target``, in order."""
        target = os.path.abspath(target)
        candidates = []
        names = self.global_files()
        if target in names:
            candidates += [('global file loaded after %s' % os.path.basename(target), p)
                           for p in names[names.index(target) + 1:]]
        if self.opencode_config():
            candidates.append(('OPENCODE_CONFIG', self.opencode_config()))
        candidates += [('~/.opencode', p) for p in self.dot_opencode()]
        if self.opencode_config_dir():
            candidates += [('OPENCODE_CONFIG_DIR', os.path.join(self.opencode_config_dir(), n)) for n in DIR_FILES]
        candidates += [('managed (administrator)', p) for p in self.managed_files()]
        return _unique([(k, p) for k, p in candidates if p != target])

    def user_layer_candidates(self):
        """``[(kind, path)]``: every user-level config file OpenCode merges under the managed layer."""
        candidates = [('global config', p) for p in self.global_files()]
        if self.opencode_config():
            candidates.append(('OPENCODE_CONFIG', self.opencode_config()))
        candidates += [('~/.opencode', p) for p in self.dot_opencode()]
        if self.opencode_config_dir():
            candidates += [('OPENCODE_CONFIG_DIR', os.path.join(self.opencode_config_dir(), n)) for n in DIR_FILES]
        return _unique(candidates)

    # ----------------------------------------------------------------------- login files
    def login_files(self):
        """``[(path, syntax)]``: the user's shell and session start-up files that can set
        environment variables for the OpenCode they start; ``syntax`` is ``sh``, ``csh``,
        ``fish`` or ``env``."""
        home = self.home
        zdot = self.environ.get('ZDOTDIR') or home
        files = [(os.path.join(home, n), 'sh') for n in (
            '.profile', '.bash_profile', '.bash_login', '.bashrc', '.bash_aliases', '.kshrc', '.mkshrc')]
        files += [(os.path.join(zdot, n), 'sh') for n in ('.zshenv', '.zprofile', '.zshrc', '.zlogin')]
        files += [(os.path.join(home, n), 'csh') for n in ('.cshrc', '.tcshrc', '.login')]
        files.append((os.path.join(home, '.pam_environment'), 'env'))
        fish = os.path.join(self.config_base, 'fish')
        files.append((os.path.join(fish, 'config.fish'), 'fish'))
        files += [(p, 'fish') for p in _listing(os.path.join(fish, 'conf.d'), '*.fish')]
        files += [(p, 'env') for p in _listing(os.path.join(self.config_base, 'environment.d'), '*.conf')]
        return _unique(files, at=0)

    # ----------------------------------------------------------------------- the binary
    def npm_prefixes(self):
        """npm's global prefixes this user may have installed OpenCode into."""
        prefixes = [self.environ.get(v) for v in ('NPM_CONFIG_PREFIX', 'npm_config_prefix')]
        data, _complete = read_bounded(os.path.join(self.home, '.npmrc'), MAX_LOGIN_BYTES)
        for line in (data or b'').decode('utf-8', 'replace').splitlines():
            m = _NPM_PREFIX.match(line)
            if m:
                value = m.group(1).replace('${HOME}', self.home)
                prefixes.append(os.path.join(self.home, value[2:]) if value.startswith('~/') else value)
        prefixes += [os.path.join(self.home, '.npm-global')] + list(SYSTEM_NPM_PREFIXES)
        return [p for p in prefixes if p]

    def find_opencode(self):
        """The ``opencode`` the user would run: PATH, ``~/.opencode/bin``, then npm global prefixes."""
        found = shutil.which('opencode', path=self.environ.get('PATH') or os.defpath)
        if found:
            return found
        candidates = [os.path.join(self.home, '.opencode', 'bin', 'opencode')]
        candidates += [os.path.join(p, 'bin', 'opencode') for p in self.npm_prefixes()]
        for path in candidates:
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        return None


def _unique(items, at=1):
    """``items`` (pairs) without the later ones whose element ``at`` (the path) came before."""
    seen, unique = set(), []
    for item in items:
        if item[at] not in seen:
            seen.add(item[at])
            unique.append(item)
    return unique


def _listing(directory, pattern):
    try:
        names = sorted(n for n in os.listdir(directory) if fnmatch.fnmatch(n, pattern))
    except OSError:
        return []
    return [os.path.join(directory, n) for n in names[:MAX_DIR_FILES]]


# --------------------------------------------------------------------------- what a layer does
def layer_text(path, pending=None):
    """The text ``path`` will have after the planned changes (``pending`` maps a path to its
    planned text), None when there is no readable file, or :data:`TOO_LARGE`."""
    if pending and path in pending:
        return pending[path]
    data, complete = read_bounded(path, MAX_LAYER_BYTES)
    if data is None:
        return None
    if not complete:
        return TOO_LARGE
    return data.decode('utf-8', 'replace')


class _TooLarge(str):
    """The text of a layer too large to be read (:data:`MAX_LAYER_BYTES`)."""


TOO_LARGE = _TooLarge('')


def layer_effects(text, name):
    """What a config text does to provider ``name``, in words (empty: nothing)."""
    if text is TOO_LARGE:
        return ['is larger than %d MiB and was not read; check it by hand' % (MAX_LAYER_BYTES >> 20)]
    try:
        doc = Document(text)
        data = doc.get(()) if not doc.empty else None
    except ValueError as exc:
        return ['cannot be parsed (%s); OpenCode refuses to start with it' % exc]
    except RecursionError:
        return ['is nested too deeply to be read']
    if not isinstance(data, dict):
        return []
    effects = []
    provider = data.get('provider')
    if isinstance(provider, dict) and name in provider:
        entry = provider[name]
        keys = sorted(entry) if isinstance(entry, dict) else []
        options = entry.get('options') if isinstance(entry, dict) else None
        if isinstance(options, dict):
            keys = [k for k in keys if k != 'options'] + ['options.%s' % k for k in sorted(options)]
        effects.append('sets provider.%s%s' % (name, (' (%s)' % ', '.join(keys)) if keys else ''))
    disabled = data.get('disabled_providers')
    if isinstance(disabled, list) and name in disabled:
        effects.append('lists %s in disabled_providers' % name)
    enabled = data.get('enabled_providers')
    if isinstance(enabled, list) and name not in enabled:
        effects.append('has enabled_providers without %s' % name)
    for key in ('model', 'small_model'):
        value = data.get(key)
        if isinstance(value, str) and not value.startswith(name + '/'):
            effects.append('sets %s to %s' % (key, value))
    return effects


def layers(name, candidates, pending=None, keep=None):
    """``[{path, kind, effects}]`` for the ``(kind, path)`` candidates that change provider ``name``."""
    found = []
    for kind, path in candidates:
        text = layer_text(path, pending)
        if text is None:
            continue
        effects = [e for e in layer_effects(text, name) if keep is None or keep(e)]
        if effects:
            found.append(dict(path=path, kind=kind, effects=effects))
    return found


def overriding_layers(name, layout, target, pending=None):
    """Every config file OpenCode loads after ``target`` that changes provider ``name``, then
    every login file that moves OpenCode's config (:func:`login_exports`).

    ``pending`` maps a path to the text it will have after the planned changes.
    """
    return layers(name, layout.layers_after(target), pending) + login_exports(layout)


def user_layers(name, layout, pending=None):
    """Managed scope: the user-level config files that still change provider ``name``, then the
    login files that move OpenCode's config.

    Every global file, ``OPENCODE_CONFIG``, ``~/.opencode`` and ``OPENCODE_CONFIG_DIR``, read as
    they will be after the ``pending`` changes.  OpenCode merges them under the managed layer,
    so a ``provider.<name>`` copy there adds its models and options to the gateway entry, and
    ``disabled_providers`` hides it.  The user's own ``model``/``small_model`` choice is not a
    problem here.
    """
    return layers(name, layout.user_layer_candidates(), pending,
                  keep=lambda effect: not effect.startswith(('sets model ', 'sets small_model '))) + login_exports(layout)


# --------------------------------------------------------------------------- login files
_NAMES = r'(%s)' % '|'.join(sorted(LOCATION_VARIABLES, key=len, reverse=True))
_START = r'(?:^|[\s;&|({`])'
_SH_EXPORT = re.compile(_START + r'export\s+(?:-\w+\s+)*(?:[\w]+(?:=(?:"[^"]*"|\'[^\']*\'|\S*))?\s+)*' + _NAMES + r'(?![\w])')
_SH_DECLARE = re.compile(_START + r'(?:declare|typeset)\s+(?:-\w+\s+)*-[a-zA-Z]*x[a-zA-Z]*\s+(?:-\w+\s+)*'
                         r'(?:[\w]+(?:=(?:"[^"]*"|\'[^\']*\'|\S*))?\s+)*' + _NAMES + r'(?![\w])')
_CSH_SETENV = re.compile(_START + r'setenv\s+' + _NAMES + r'(?![\w])')
_FISH_SET = re.compile(_START + r'set\s+((?:-{1,2}[\w-]+\s+)+)' + _NAMES + r'(?![\w])')
_SH_COMMENT = re.compile(r'(?:^|\s)#')
_ENV_LINE = re.compile(r'^\s*(?:export\s+)?' + _NAMES + r'\s*(?:=|\s+(?:DEFAULT|OVERRIDE)\s*=)')


def _exported(line, syntax):
    """The location variables ``line`` exports, in the file's ``syntax``."""
    code = _SH_COMMENT.split(line, 1)[0]
    if not code.strip():
        return []
    if syntax == 'env':
        m = _ENV_LINE.match(code)
        return [m.group(1)] if m else []
    if syntax == 'csh':
        return [m.group(1) for m in _CSH_SETENV.finditer(code)]
    if syntax == 'fish':
        found = []
        for m in _FISH_SET.finditer(code):
            flags = m.group(1).split()
            if any(f == '--export' or (not f.startswith('--') and 'x' in f) for f in flags):
                found.append(m.group(2))
        return found
    return [m.group(1) for m in _SH_EXPORT.finditer(code)] + [m.group(1) for m in _SH_DECLARE.finditer(code)]


def login_exports(layout):
    """``[{path, kind, effects, lines}]``: the user's login files that export a variable moving
    OpenCode's config (``OPENCODE_CONFIG``, ``OPENCODE_CONFIG_DIR``,
    ``OPENCODE_TEST_MANAGED_CONFIG_DIR``), with the line of each.

    Read as the running user (the ``users`` module's child process is that user), at most
    :data:`MAX_LOGIN_BYTES` of each regular file.  Such a variable is outside the module's
    reach: the OpenCode a developer starts from that shell reads another config than the one
    the module writes, so verify is not ``ready`` with one of them.
    """
    found = []
    for path, syntax in layout.login_files():
        data, _complete = read_bounded(path, MAX_LOGIN_BYTES)
        if not data:
            continue
        effects, lines = [], []
        for number, line in enumerate(data.decode('utf-8', 'replace').splitlines(), 1):
            for var in _exported(line, syntax):
                effects.append('exports %s (line %d)' % (var, number))
                lines.append(number)
        if effects:
            found.append(dict(path=path, kind='login file', effects=effects, lines=lines))
    return found


# --------------------------------------------------------------------------- the binary's version
_CONTROL = re.compile(u'[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]')


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.kill()
    except OSError:
        pass


def run_bounded(argv, env, cwd, timeout, limit):
    """``(returncode, stdout, stderr, why)`` of ``argv``, bounded in time and output.

    The process (in a session of its own, so whatever it starts goes too) is killed when it
    runs longer than ``timeout`` seconds or writes more than ``limit`` bytes; ``why`` then says
    which, and ``returncode`` is None.
    """
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout
    out = {proc.stdout: [], proc.stderr: []}
    size = 0
    why = None
    sel = selectors.DefaultSelector()
    try:
        for stream in out:
            os.set_blocking(stream.fileno(), False)
            sel.register(stream, selectors.EVENT_READ)
        while sel.get_map() and why is None:
            left = deadline - time.monotonic()
            if left <= 0:
                why = 'no answer within %d s' % timeout
                break
            for key, _mask in sel.select(left):
                try:
                    chunk = os.read(key.fileobj.fileno(), 4096)
                except OSError as exc:
                    if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                        continue
                    chunk = b''
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                out[key.fileobj].append(chunk)
                size += len(chunk)
                if size > limit:
                    why = 'more than %d bytes of output' % limit
                    break
        if why is None:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                why = 'no answer within %d s' % timeout
    finally:
        sel.close()
        if why is not None or proc.poll() is None:
            _kill_group(proc)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    stdout, stderr = b''.join(out[proc.stdout]), b''.join(out[proc.stderr])
    return (None if why else proc.returncode), stdout[:limit], stderr[:limit], why


# ``opencode --version`` answers this process already has, by :func:`binary_identity` (filled by
# :func:`share_version`; a child process of the users module inherits them).
_VERSIONS = {}


def binary_identity(path):
    """What tells one file apart, for sharing its version: its real path, device, inode, size,
    modification and change times; None when it cannot be read."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except (OSError, ValueError):
        return None
    return (real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _safe_for_all(path, uid):
    """``path`` (a file or directory) belongs to ``uid`` and no one else can change it: not
    writable by group or others, unless it is a sticky directory (``/tmp``), where no one else can
    rename or remove what ``uid`` owns."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if st.st_uid != uid:
        return False
    if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX:
        return True
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def shared_binary(path, uid=0):
    """True when the binary ``path`` is the same file for every user of the host and none of them
    can change it: the file it resolves to is a regular file of ``uid`` (root) that group and
    others may run but not write, and every directory above it, and above ``path`` itself, is
    ``uid``'s and not writable by anyone else (a link's own mode means nothing: whoever may write
    its directory may replace it).  Only then may one ``--version`` answer stand for every user
    (:func:`share_version`); each user's process still looks the binary up itself and uses the
    answer only for that very file (:func:`binary_identity`)."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except (OSError, ValueError):
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    if st.st_mode & (stat.S_IXGRP | stat.S_IXOTH) != (stat.S_IXGRP | stat.S_IXOTH):
        return False
    for start in (os.path.dirname(real), os.path.dirname(os.path.abspath(path))):
        directory = start
        while True:
            if not _safe_for_all(directory, uid):
                return False
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    return True


def _version_key(identity, path=None):
    # The answer also depends on PATH (an ``#!/usr/bin/env node`` launcher), which opencode_version
    # passes on from the running process.
    if identity is None:
        return None
    return (tuple(identity), os.environ.get('PATH', os.defpath) if path is None else path)


def shared_candidates(path):
    """The ``opencode`` binaries outside every home that a user's lookup can end at with ``path``
    as PATH (the first on it, the system npm prefixes) and that no user can change
    (:func:`shared_binary`).  Looks only at root's locations, never in a home."""
    found = [shutil.which('opencode', path=path or os.defpath)]
    found += [os.path.join(p, 'bin', 'opencode') for p in SYSTEM_NPM_PREFIXES]
    return [f for f in found if f and os.path.isfile(f) and shared_binary(f)]


def share_version(identity, answer, path):
    """Record ``answer`` (``(version, why)``) of ``opencode --version`` for the binary ``identity``,
    run with ``path`` as PATH: :func:`opencode_info` (in a process with that PATH) then uses it
    instead of running that binary again."""
    key = _version_key(identity, path)
    if key is not None:
        _VERSIONS[key] = tuple(answer)


def opencode_info(layout):
    """``{opencode, opencode_version[, opencode_error]}``: the user's binary and its version.

    The binary is looked up as the user (:meth:`Layout.find_opencode`); its version is asked only
    when no answer for that very file was shared (:func:`share_version`).
    """
    info = dict(opencode=None, opencode_version=None)
    binary = layout.find_opencode()
    if binary:
        info['opencode'] = binary
        known = _VERSIONS.get(_version_key(binary_identity(binary))) if _VERSIONS else None
        info['opencode_version'], why = known if known is not None else opencode_version(binary)
        if why:
            info['opencode_error'] = why
    return info


def _shown(data, limit):
    """Output of a user's binary as text fit for a result: no control characters, cut."""
    return _CONTROL.sub('', data.decode('utf-8', 'replace')).strip()[-limit:]


def opencode_version(path, timeout=VERSION_TIMEOUT, limit=VERSION_OUTPUT_LIMIT):
    """``(version, why)``: ``opencode --version`` of ``path`` in a throw-away HOME, so probing
    writes nothing of the user's; at most ``timeout`` seconds and ``limit`` bytes of output."""
    scratch = tempfile.mkdtemp(prefix='omniroute-opencode-version-')
    try:
        env = dict(PATH=os.environ.get('PATH', os.defpath), HOME=scratch, LANG='C.UTF-8',
                   XDG_CONFIG_HOME=os.path.join(scratch, 'config'),
                   XDG_DATA_HOME=os.path.join(scratch, 'data'),
                   XDG_CACHE_HOME=os.path.join(scratch, 'cache'),
                   XDG_STATE_HOME=os.path.join(scratch, 'state'),
                   OPENCODE_DISABLE_AUTOUPDATE='1', NO_COLOR='1')
        code, out, err, why = run_bounded([path, '--version'], env, scratch, timeout, limit)
        if why:
            return None, '--version: %s' % why
        lines = [_shown(line, 200) for line in out.splitlines()]
        lines = [line for line in lines if line]
        if code != 0 or not lines:
            return None, 'exit %s: %s' % (code, _shown(err, 200))
        return lines[-1], None
    except (OSError, ValueError) as exc:
        return None, str(exc)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
