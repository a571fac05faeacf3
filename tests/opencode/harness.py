"""Drive the real OpenCode CLI and the real module against scratch homes.

Everything runs on this machine only: OpenCode gets a scratch HOME, no inherited environment,
OPENCODE_DISABLE_MODELS_FETCH / OPENCODE_DISABLE_AUTOUPDATE, OPENCODE_PURE (no plugin
installs) and every HTTP(S) proxy variable pointed at a closed loopback port, so a request to
any address but 127.0.0.1 fails at once instead of leaving the machine.
"""

import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.omniroute.opencode.tests.support.results import warnings_of
from ansible_collections.omniroute.opencode.tests.support.secrets import assert_no_secret

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_COLLECTIONS = os.path.join(REPO, '.build', 'collections')
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)

from ansible_collections.omniroute.opencode.tests.support.http_server import CLOSED, Answer, Server  # noqa: E402
CORPUS = os.path.join(REPO, 'tests', 'corpus')
OPENCODE_TIMEOUT = 120
MODULE_TIMEOUT = 120
LOG_DIR = os.sep + os.path.join('opencode', 'log')
ANSI = re.compile(r'\x1b\[[0-9;]*m')


def normalize_base_url(url):
    """Independent oracle for the module's normalisation: exactly one trailing /v1."""
    url = url.strip().rstrip('/')
    while url.endswith('/v1'):
        url = url[:-3].rstrip('/')
    return url + '/v1'


def model_ids(models):
    """Ids of the module's `models` option, trimmed, without empties or repeats, in order."""
    seen = []
    for item in models:
        mid = (item.get('id') if isinstance(item, dict) else item).strip()
        if mid and mid not in seen:
            seen.append(mid)
    return seen


class Report(object):
    """What OpenCode resolved: `opencode debug config` and/or `opencode models <name>` (a part
    not asked for is None, and reading what only it knows is an error)."""

    def __init__(self, config_proc, models_proc, name):
        self.asked = tuple(part for part, proc in (('config', config_proc), ('models', models_proc)) if proc)
        self.name = name
        self.raw = {}
        self._config_rc = self._models_rc = None
        if config_proc is not None:
            self._config_rc = config_proc.returncode
            self.raw.update(config_out=config_proc.stdout, config_err=config_proc.stderr)
            self._config = json.loads(config_proc.stdout) if config_proc.returncode == 0 else None
        if models_proc is not None:
            self._models_rc = models_proc.returncode
            self.raw.update(models_out=models_proc.stdout, models_err=models_proc.stderr)
            self._models_err = ANSI.sub('', models_proc.stderr).strip()
            self._models = [line.strip() for line in models_proc.stdout.splitlines() if line.strip()]

    def _need(self, part):
        assert part in self.asked, 'OpenCode was not asked for its %s here (ask(parts=...))' % part

    @property
    def config_rc(self):
        self._need('config')
        return self._config_rc

    @property
    def config(self):
        self._need('config')
        return self._config

    @property
    def models_rc(self):
        self._need('models')
        return self._models_rc

    @property
    def models(self):
        self._need('models')
        return self._models

    @property
    def models_err(self):
        self._need('models')
        return self._models_err

    @property
    def providers(self):
        return sorted((self.config or {}).get('provider', {}))

    @property
    def entry(self):
        return (self.config or {}).get('provider', {}).get(self.name)

    @property
    def base_url(self):
        return ((self.entry or {}).get('options') or {}).get('baseURL')

    @property
    def not_found(self):
        return self.models_rc != 0 and ('Provider not found: %s' % self.name) in self.models_err

    def summary(self):
        out = {}
        if 'config' in self.asked:
            if self.config_rc != 0:
                return {'error': ANSI.sub('', self.raw['config_err']).strip()[-300:]}
            out['providers'] = self.providers
        if 'models' in self.asked:
            if self.not_found:
                out['models'] = 'Provider not found: %s' % self.name
            elif self.models_rc != 0:
                out['models'] = 'error: %s' % self.models_err[-200:]
            else:
                out['models'] = self.models
        if 'config' in self.asked and self.entry is not None:
            out['baseURL'] = self.base_url
            out['apiKey'] = (self.entry.get('options') or {}).get('apiKey', '(none in config)')
        return out


def empty_models_database(path):
    """A models.dev database with no provider at ``path`` (see list_models), written the first
    time and readable by every account; returns ``path``."""
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as handle:
            handle.write('{}')
        os.chmod(path, 0o644)
    return path


def list_models(run, name, empty_database):
    """`opencode models <name>` as ``run(extra_env)`` starts it: first with the models.dev
    database at ``empty_database`` (OPENCODE_MODELS_PATH), which has no provider.

    OpenCode loads its built-in models.dev snapshot for `models` (OPENCODE_DISABLE_MODELS_FETCH)
    and builds every provider in it: about 1.2 of the command's 3.3 CPU seconds here. The
    snapshot has no provider `name` (test_behaviour's test_models_database_knows_no_omniroute
    proves it against the shipped one, and fails the day it is not so), so the listing comes
    from the config alone and is the same without it. OpenCode does fail without the database
    where a provider it looks up there is in use (an OAuth login in auth.json: "undefined is
    not an object (evaluating '$.models')"): an answer that is neither the listing nor "Provider
    not found" is asked again with the shipped database, and that answer is the one returned."""
    proc = run({'OPENCODE_MODELS_PATH': empty_database})
    if proc.returncode != 0 and ('Provider not found: %s' % name) not in proc.stderr:
        proc = run({})
    return proc


class Sandbox(object):
    """A scratch root: home/, the corpus tree, an environment, and every captured output."""

    def __init__(self, root, opencode, env=None, cwd='work', seed=None):
        self.root = root
        # OPENCODE_TEST_MODULE=users: every provider-module call goes through
        # omniroute.opencode.users instead (the role's per-host path), as one users-module run
        # for the current account.
        self.via = os.environ.get('OPENCODE_TEST_MODULE') or 'provider'
        self.home = os.path.join(root, 'home')
        self.opencode = opencode
        self.extra_env = dict(env or {})
        self.cwd = os.path.join(root, cwd)
        self.log = []  # every (label, text) captured, grepped for keys at the end
        self.warnings = []
        self.warm = False
        for d in (self.home, self.cwd):
            os.makedirs(d, exist_ok=True)
        if seed:
            # OpenCode's data directory with the database its first start leaves (see seed_data):
            # a first start migrates a new database, 0.2 to 0.3 CPU seconds of every fresh
            # sandbox, and two OpenCode processes doing that at once race. Only in the default
            # place: a sandbox whose XDG_DATA_HOME points elsewhere (where the module is to create
            # the directory) starts there without one, as before. Config files are never seeded.
            os.makedirs(os.path.join(self.home, '.local', 'share'))
            shutil.copytree(seed, os.path.join(self.home, '.local', 'share', 'opencode'))
            self.warm = 'XDG_DATA_HOME' not in self.extra_env

    # -- layout -------------------------------------------------------------------------
    def sub(self, value):
        if isinstance(value, str):
            return value.replace('{root}', self.root)
        if isinstance(value, list):
            return [self.sub(v) for v in value]
        if isinstance(value, dict):
            return dict((k, self.sub(v)) for k, v in value.items())
        return value

    def lay_out(self, case_dir, symlinks=None):
        tree = os.path.join(case_dir, 'tree')
        if os.path.isdir(tree):
            shutil.copytree(tree, self.root, dirs_exist_ok=True, symlinks=True)
        # The repository keeps LF line endings (ansible-test sanity); a corpus file that must
        # have CRLF is stored as NAME.crlf and gets its CRLF endings here.
        # Likewise ansible-test sanity refuses a file that starts with a byte order mark: a corpus
        # file that must have one is stored as NAME.bom and gets it here.
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if name.endswith('.bom'):
                    src = os.path.join(folder, name)
                    with open(src, 'rb') as handle:
                        data = handle.read()
                    with open(src[:-len('.bom')], 'wb') as handle:
                        handle.write(b'\xef\xbb\xbf' + data)
                    os.unlink(src)
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if name.endswith('.crlf'):
                    src = os.path.join(folder, name)
                    with open(src, 'rb') as handle:
                        data = handle.read()
                    with open(src[:-len('.crlf')], 'wb') as handle:
                        handle.write(data.replace(b'\n', b'\r\n'))
                    os.unlink(src)
        keep = os.path.join(self.home, '.keep')
        if os.path.exists(keep):
            os.unlink(keep)
        for link, target in (symlinks or {}).items():
            path = os.path.join(self.root, link)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.symlink(target, path)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def snapshot(self, modes=False):
        """Bytes of every regular file under root except OpenCode's own state and logs
        (``modes``: ``(bytes, permission bits)`` instead)."""
        snap = {}
        skip = (os.path.join(self.home, '.local', 'share', 'opencode', 'log'),
                os.path.join(self.home, '.local', 'state'), os.path.join(self.home, '.cache'),
                os.path.join(self.home, '.ansible'), os.path.join(self.root, 'tmp'))
        for dirpath, dirnames, filenames in os.walk(self.root):
            # (OpenCode's log directory is <data dir>/opencode/log wherever XDG_DATA_HOME puts it.)
            if dirpath.startswith(skip) or 'node_modules' in dirpath or dirpath.endswith(LOG_DIR):
                dirnames[:] = []
                continue
            for fn in filenames:
                p = os.path.join(dirpath, fn)
                if os.path.islink(p) or fn.startswith('opencode.db') or fn.endswith('.lock'):
                    continue
                with open(p, 'rb') as f:
                    data = f.read()
                snap[os.path.relpath(p, self.root)] = (data, stat.S_IMODE(os.stat(p).st_mode)) if modes else data
        return snap

    def rewind(self, snap):
        """Put the files back as ``snapshot(modes=True)`` found them: contents and modes, and
        files created since removed (a module's backups included)."""
        now = self.snapshot(modes=True)
        for rel in set(now) - set(snap):
            os.unlink(self.path(rel))
        for rel, (data, mode) in snap.items():
            if now.get(rel) != (data, mode):
                with open(self.path(rel), 'wb') as f:
                    f.write(data)
                os.chmod(self.path(rel), mode)

    # -- processes ----------------------------------------------------------------------
    def base_env(self):
        env = {
            'PATH': '/usr/local/bin:/usr/bin:/bin',
            'HOME': self.home,
            'USER': os.environ.get('USER', 'root'),
            'LANG': 'C.UTF-8',
            'TMPDIR': os.path.join(self.root, 'tmp'),
            'OPENCODE_DISABLE_MODELS_FETCH': '1',
            'OPENCODE_DISABLE_AUTOUPDATE': '1',
            'OPENCODE_DISABLE_LSP_DOWNLOAD': '1',
            'OPENCODE_PURE': '1',
            # An administrator's /etc/opencode on the test machine must not leak into results.
            'OPENCODE_TEST_MANAGED_CONFIG_DIR': os.path.join(self.root, 'no-managed-config'),
            'NO_COLOR': '1',
            # The JavaScript engine in the OpenCode binary (Bun's JavaScriptCore) without its
            # top optimising tier (FTL). Each OpenCode process here lives about two seconds, and
            # compiling for FTL costs more CPU than it saves in that time: measured 17 % less CPU
            # for `models` and 9 % for `debug config`, the same output. The code OpenCode runs
            # is the same; only how the engine compiles it differs.
            'BUN_JSC_useFTLJIT': '0',
        }
        for var in ('HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'):
            env[var] = CLOSED
        env['NO_PROXY'] = env['no_proxy'] = '127.0.0.1,localhost'
        env['npm_config_registry'] = env['NPM_CONFIG_REGISTRY'] = CLOSED + '/'
        os.makedirs(env['TMPDIR'], exist_ok=True)
        env.update(self.sub(self.extra_env))
        return env

    def run_opencode(self, *args, env=None, timeout=OPENCODE_TIMEOUT):
        full = self.base_env()
        full.update(env or {})
        for attempt in range(3):
            t0 = time.monotonic()
            proc = subprocess.run([self.opencode] + list(args), cwd=self.cwd, env=full, check=False,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout)
            self.log.append(('opencode %s (%.1fs)' % (' '.join(args), time.monotonic() - t0),
                             proc.stdout + proc.stderr))
            # Two OpenCode processes on one data directory can collide on its SQLite database
            # (seen: "database is locked"); that is about the test running two at once, not
            # about the config, so the command is run again.
            if proc.returncode == 0 or 'database is locked' not in proc.stderr:
                break
            time.sleep(0.5 + attempt)
        return proc

    def empty_models_database(self):
        """The sandbox's empty models.dev database, in its TMPDIR, which snapshots leave out."""
        return empty_models_database(os.path.join(self.root, 'tmp', 'models-dev-empty.json'))

    def ask(self, name='omniroute', env=None, parts=('config', 'models'), models_database=False):
        """What OpenCode resolves here: `debug config` (part ``config``) and `models <name>`
        (part ``models``), only the parts asked for. Both run side by side (two cores), except
        the first time: two OpenCode processes creating the same fresh database race on its
        migrations. `models` is asked as list_models says, or with the models.dev database
        OpenCode ships from the start if ``models_database`` is true."""
        assert parts and set(parts) <= {'config', 'models'}, parts

        def config():
            return self.run_opencode('debug', 'config', env=env)

        def models():
            if models_database:
                return self.run_opencode('models', name, env=env)
            return list_models(lambda extra: self.run_opencode('models', name, env=dict(extra, **(env or {}))),
                               name, self.empty_models_database())

        commands = [(part, ask) for part, ask in (('config', config), ('models', models)) if part in parts]
        if not self.warm or len(commands) == 1:
            procs = dict((part, ask()) for part, ask in commands)
            self.warm = True
        else:
            with ThreadPoolExecutor(2) as pool:
                futures = dict((part, pool.submit(ask)) for part, ask in commands)
                procs = dict((part, future.result()) for part, future in futures.items())
        return Report(procs.get('config'), procs.get('models'), name)

    def module_env(self):
        """The environment a module run gets: the sandbox's, without OpenCode's test switches."""
        env = self.base_env()
        for var in ('OPENCODE_PURE', 'OPENCODE_DISABLE_MODELS_FETCH', 'OPENCODE_DISABLE_AUTOUPDATE',
                    'OPENCODE_DISABLE_LSP_DOWNLOAD', 'NO_COLOR', 'BUN_JSC_useFTLJIT'):
            env.pop(var, None)
        return env

    def module_direct(self, args, via, warnings=False):
        """The module's own process, as Ansible's module runner starts it on the target, without
        the ansible CLI around it: ``python -m ansible_collections...modules.<name> ARGS_FILE``
        (``via``: provider or users, the provider-style ``args`` converted for users), not in
        check mode, with diffs (``warnings``: the result's warnings count as the sandbox's, as
        those of an ansible CLI run do). For the twin of each corpus step, and for the steps after
        the first: the ansible CLI costs about ten times the module's own CPU time."""
        margs = self.sub(args)
        name = via
        if via == 'users':
            margs = users_args(margs)
        margs = dict(margs, _ansible_check_mode=False, _ansible_diff=True,
                     _ansible_remote_tmp=os.path.join(self.root, 'tmp', 'ansible-remote'))
        env = self.module_env()
        collections = os.environ.get('ANSIBLE_COLLECTIONS_PATH',
                                     os.path.join(REPO, '.build', 'collections'))
        env['PYTHONPATH'] = collections.split(os.pathsep)[0]
        args_file = os.path.join(self.root, 'tmp', 'module-args.json')
        # The arguments file holds the key: it goes whatever happens to the run (a timeout, too).
        try:
            with open(args_file, 'w') as f:
                json.dump({'ANSIBLE_MODULE_ARGS': margs}, f)
            t0 = time.monotonic()
            proc = subprocess.run([sys.executable, '-m', 'ansible_collections.omniroute.opencode.plugins.modules.' + name,
                                   args_file], cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, check=False,
                                  capture_output=True, text=True, timeout=MODULE_TIMEOUT)
            elapsed = time.monotonic() - t0
        finally:
            if os.path.lexists(args_file):
                os.unlink(args_file)
        self.log.append(('module %s %s (%.1fs)' % (name, args.get('state', 'present'), elapsed),
                         proc.stdout + proc.stderr))
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError('no module result from %s (rc %s):\n%s\n%s' % (
                name, proc.returncode, proc.stdout, proc.stderr))
        if name == 'users':
            result = dict(result, **result.get('users', {}).get(ME, {}))
        result['_status'] = 'FAILED' if result.get('failed') else 'CHANGED' if result.get('changed') else 'SUCCESS'
        result['_seconds'] = round(elapsed, 2)
        # (Spaces as in the ansible CLI's, whose warnings are read from its wrapped output.)
        result['_warnings'] = [' '.join(w.split()) for w in warnings_of(result)]
        if warnings:
            self.warnings.extend(result['_warnings'])
        return result

    def module(self, args, check=False, verbose=False, name='omniroute.opencode.provider', via=None):
        """Run a module (default omniroute.opencode.provider) ad hoc through ansible with
        ``--diff``, as the sandbox's user (``verbose``: with -vvv, which also prints the module's
        arguments and whole result). With OPENCODE_TEST_MODULE=users, or ``via='users'``, a
        provider call runs as a users-module run."""
        via = via or self.via
        env = self.module_env()
        env.update({
            'PATH': os.path.dirname(sys.executable) + ':' + env['PATH'],
            'ANSIBLE_COLLECTIONS_PATH': os.environ.get(
                'ANSIBLE_COLLECTIONS_PATH', os.path.join(REPO, '.build', 'collections')),
            'ANSIBLE_CALLBACK_RESULT_FORMAT': 'json',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_HOST_KEY_CHECKING': 'False',
            'ANSIBLE_LOCAL_TEMP': os.path.join(self.root, 'tmp', 'ansible-local'),
            'ANSIBLE_REMOTE_TMP': os.path.join(self.root, 'tmp', 'ansible-remote'),
            'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
            'ANSIBLE_DEPRECATION_WARNINGS': 'False',
        })
        margs = self.sub(args)
        if via == 'users' and name == 'omniroute.opencode.provider':
            name, margs = 'omniroute.opencode.users', users_args(margs)
        cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible'), 'localhost',
               '-c', 'local', '-i', 'localhost,', '-m', name, '-a', json.dumps(margs), '--diff']
        if check:
            cmd.append('--check')
        if verbose:
            cmd.append('-vvv')
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, check=False,
                              capture_output=True, text=True, timeout=MODULE_TIMEOUT)
        elapsed = time.monotonic() - t0
        self.log.append(('ansible %s (%.1fs)' % (args.get('state', 'present'), elapsed),
                         proc.stdout + proc.stderr))
        m = re.search(r'^localhost \| (\S+) => ', proc.stdout, re.M)
        if not m:
            raise AssertionError('no module result (rc %s):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
        result = json.JSONDecoder().raw_decode(proc.stdout[m.end():])[0]
        if name == 'omniroute.opencode.users':
            result = dict(result, **result.get('users', {}).get(ME, {}))
        result['_status'] = m.group(1)
        result['_seconds'] = round(elapsed, 2)
        result['_warnings'] = [' '.join(w.split()) for w in re.findall(r'\[WARNING\]: (.*(?:\n(?!\[)\S.*)*)', proc.stderr)]
        self.warnings.extend(result['_warnings'])
        return result

    def module_and_twin(self, args, verbose=False, label='module', cli=True):
        """One module step, proved for both modules: the other module (users when the sandbox
        goes through provider, and the reverse) runs first, in its own process as on a target;
        the files are rewound; then the module under test runs through the ansible CLI (``cli``;
        otherwise in its own process too, as the twin; ``verbose`` always takes the CLI). Both
        must report the same status and changed, and leave the same files, bytes and modes (the
        modules' timestamped backups aside). Returns the result of the module under test."""
        other = 'provider' if self.via == 'users' else 'users'
        pre = self.snapshot(modes=True)
        twin = self.module_direct(args, other)
        by_other = without_backups(self.snapshot(modes=True))
        self.rewind(pre)
        if cli or verbose:
            res = self.module(args, verbose=verbose)
        else:
            res = self.module_direct(args, self.via, warnings=True)
        mine = without_backups(self.snapshot(modes=True))
        assert twin['_status'] == res['_status'] and twin['changed'] == res['changed'], (
            '%s: %s module %s (changed=%s: %s), %s module %s (changed=%s: %s)' % (
                label, self.via, res['_status'], res['changed'], res.get('msg', ''),
                other, twin['_status'], twin.get('changed'), twin.get('msg', '')))
        assert set(by_other) == set(mine), '%s: files only after the %s module: %s; only after the %s module: %s' % (
            label, other, sorted(set(by_other) - set(mine)), self.via, sorted(set(mine) - set(by_other)))
        for rel in mine:
            assert by_other[rel] == mine[rel], '%s: %s differs between the %s and %s modules' % (
                label, rel, other, self.via)
        return res

    def assert_no_secret(self, *secrets, only=None):
        """No secret in any captured output (``only``: outputs whose label starts with it, or with
        one of a tuple)."""
        assert_no_secret([('the output of ' + label, text) for label, text in self.log
                          if not only or label.startswith(only)], *secrets)


BACKUP = re.compile(r'\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$')


def seed_data(opencode, root):
    """OpenCode's own database after its first start, to seed sandboxes with (``Sandbox(seed=)``):
    `opencode debug config` once in a scratch HOME under ``root``, then its data directory's
    database files (``opencode.db`` and its write-ahead log; OpenCode has exited, so the copy is
    consistent). The module never reads this database; config files and auth.json are not in it."""
    sandbox = Sandbox(os.path.join(root, 'first-start'), opencode)
    proc = sandbox.run_opencode('debug', 'config')
    assert proc.returncode == 0, 'OpenCode did not start in an empty HOME:\n%s' % proc.stderr
    data = os.path.join(sandbox.home, '.local', 'share', 'opencode')
    seed = os.path.join(root, 'seed')
    os.makedirs(seed)
    shutil.copymode(data, seed)  # the directory as OpenCode made it
    for name in ('opencode.db', 'opencode.db-wal'):
        if os.path.exists(os.path.join(data, name)):
            shutil.copy2(os.path.join(data, name), seed)
    assert os.path.exists(os.path.join(seed, 'opencode.db')), 'no database in %s: %s' % (data, os.listdir(data))
    return seed


def without_backups(snapshot):
    """A snapshot without the modules' timestamped backup files (their names differ per run)."""
    return dict((rel, data) for rel, data in snapshot.items() if not BACKUP.search(rel))


ME = pwd.getpwuid(os.geteuid()).pw_name
# Options of the provider module that belong to the user entry in the users module.
USER_ENTRY = {'path': 'config_path', 'state': 'state', 'api_key': 'api_key', 'auth_path': 'auth_path'}


def users_args(args):
    """The provider module's arguments as one users-module run for the current account
    (OPENCODE_TEST_MODULE=users: the corpus then goes through the per-host path)."""
    args = dict(args)
    unsupported = set(args) & {'create', 'mode', 'owner', 'group'}
    assert not unsupported, 'the users module has no %s option' % sorted(unsupported)
    entry = {'name': ME}
    for option, field in USER_ENTRY.items():
        if option in args:
            entry[field] = args.pop(option)
    if entry.get('state', 'present') == 'present':
        entry.setdefault('api_key', 'sk_omniroute')  # the provider module's default key
    args['users'] = [entry]
    args['host'] = 'localhost'
    return args


class CaptureServer(Server):
    """An OpenAI-compatible endpoint on 127.0.0.1 (the routed test server) that records the
    Authorization header of every request: ``seen`` lists ``(method, path, authorization)``."""

    def __init__(self):
        Server.__init__(self, default=lambda req: Answer(
            401, b'{"error": {"message": "recorded", "type": "invalid_request_error"}}'))

    @property
    def seen(self):
        return [(r.method, r.path, r.headers.get('authorization')) for r in self.requests]


class WellKnownServer(Server):
    """Answers ``/.well-known/opencode`` on 127.0.0.1 with an empty remote config, for corpus
    cases whose credential store holds a ``wellknown`` login (OpenCode fetches it at start)."""

    def __init__(self):
        Server.__init__(self, default=lambda req: Answer(
            200, b'{"config": {}}') if req.path.startswith('/.well-known/opencode') else Answer(404, b'{}'))


def fill_in(root, rel_paths, values):
    """Replace ``{name}`` placeholders in laid-out files (e.g. a server's address)."""
    for rel in rel_paths:
        path = os.path.join(root, rel)
        with open(path) as f:
            text = f.read()
        for key, value in values.items():
            text = text.replace('{%s}' % key, value)
        with open(path, 'w') as f:
            f.write(text)


def record(results_dir, name, data):
    """Write one case's observations (read by render_report.py)."""
    with open(os.path.join(results_dir, name + '.json'), 'w') as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write('\n')


def load_cases():
    cases = []
    for name in sorted(os.listdir(CORPUS)):
        path = os.path.join(CORPUS, name, 'case.json')
        if os.path.isfile(path):
            with open(path) as f:
                case = json.load(f)
            case['name'] = name
            case['dir'] = os.path.join(CORPUS, name)
            cases.append(case)
    return cases
