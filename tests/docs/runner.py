"""Run every example of a Markdown page as written and check what it claims (tests/docs/README.md).

One ``Suite`` per test session: the OmniRoute 3.7.9 server (tests/setup/omniroute.sh, its own
port and state, one openai provider connection, keys made through its management API), the
cached OpenCode binary, the laptop image, the venv the docs' own Makefile builds.
One ``Page`` per Markdown file: a scratch clone of the project with a throwaway HOME, the podman
laptops its inventories name, its blocks run top to bottom.
"""

import glob
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, 'tests', 'opencode'))

import mdexamples as md  # noqa: E402
import substitute as sb  # noqa: E402
from harness import ANSI, Sandbox, empty_models_database, list_models  # noqa: E402
from ansible_collections.omniroute.opencode.tests.support.omniroute import OmniRoute  # noqa: E402

WORK = os.path.join(REPO, '.build', 'docs')
SETUP = os.path.join(REPO, 'tests', 'setup')
CALLBACK_DIR = os.path.join(HERE, 'callback')
IMAGE = os.environ.get('OMNIROUTE_OPENCODE_IMAGE', 'localhost/omniroute-opencode-laptop:bookworm')
LABEL = 'omniroute-opencode.doctest'
DEFAULT_LAPTOPS = ('doctest-laptop1', 'doctest-laptop2')
# containers.podman.podman with pipelining (tests/support/connection_plugins/podman_pipelined.py):
# one `podman exec -i` a module task, as one SSH command with pipelining.
PODMAN_CONNECTION = 'podman_pipelined'
CONNECTION_PLUGINS = os.path.join(REPO, 'tests', 'support', 'connection_plugins')
COMMAND_TIMEOUT = int(os.environ.get('DOCS_COMMAND_TIMEOUT', '900'))
ME = pwd.getpwuid(os.getuid())
# page -> (printed lines, outcomes as dicts), filled by test_docs.py, printed by conftest.py.
RESULTS = {}


def run(argv, timeout=COMMAND_TIMEOUT, **kwargs):
    kwargs.setdefault('stdin', subprocess.DEVNULL)
    kwargs.setdefault('capture_output', True)
    kwargs.setdefault('text', True)
    return subprocess.run(argv, timeout=timeout, check=False, **kwargs)


def flat(text):
    """Whitespace collapsed, case folded: Ansible wraps long lines."""
    return ' '.join(text.split()).casefold()


# --------------------------------------------------------------------------- the gateway
class Gateway(OmniRoute):
    """The suite's OmniRoute 3.7.9 (tests/support/omniroute.py starts and stops it): started once,
    one openai connection, keys for the users."""

    def provision(self, names):
        """One provider connection (so /v1/models lists openai/... models) and one key per name,
        through the management API (the project's own client)."""
        self.client._call('POST', '/api/providers', body={'provider': 'openai', 'apiKey': 'sk-upstream-unused',
                                                          'name': 'docs-tests'})
        stamp = time.strftime('%Y%m%d%H%M%S')
        return dict((name, self.client.create_key('doctest-%s-%s' % (stamp, name))['key']) for name in names)

    def models(self, key):
        return sorted(model['id'] for model in self.listing(key))


# --------------------------------------------------------------------------- the suite
class Suite(object):
    def __init__(self, docs_root=None, port=None):
        self.docs_root = os.path.abspath(docs_root or os.environ.get('DOCS_ROOT') or REPO)
        self.port = int(port or os.environ.get('DOCS_TEST_PORT', '20168'))
        self.work = WORK
        self.gateway = Gateway(self.port, os.path.join(REPO, '.build', 'omniroute-%d' % self.port))
        self.subst = None
        self.scrubber = None
        self.opencode = None
        self.podman_collections = None
        # One docs venv per docs tree (another checkout's Makefile may build a different one).
        self.venv = os.path.join(self.work, 'venv' if self.docs_root == REPO else 'venv-%s' % hashlib.sha1(
            self.docs_root.encode()).hexdigest()[:10])
        self.guard_before = None
        self.started = time.time()

    # -- discovery ----------------------------------------------------------------------
    def pages(self):
        """README.md and every docs/**/*.md of the docs tree, sorted (new pages are found)."""
        found = []
        if os.path.exists(os.path.join(self.docs_root, 'README.md')):
            found.append('README.md')
        for path in sorted(glob.glob(os.path.join(self.docs_root, 'docs', '**', '*.md'), recursive=True)):
            found.append(os.path.relpath(path, self.docs_root))
        return found

    # -- setup --------------------------------------------------------------------------
    def setup(self):
        os.makedirs(self.work, exist_ok=True)
        self.guard_before = self.guard()
        self.opencode = run(['bash', os.path.join(SETUP, 'opencode.sh')], timeout=1800).stdout.strip()
        if not os.path.exists(self.opencode):
            raise RuntimeError('tests/setup/opencode.sh gave no OpenCode binary')
        image = run(['bash', os.path.join(SETUP, 'base-image.sh')], timeout=1800)
        if image.returncode != 0:
            raise RuntimeError('tests/setup/base-image.sh failed:\n' + image.stderr[-2000:])
        coll = run(['bash', os.path.join(SETUP, 'podman-collection.sh')], timeout=1800,
                   env=dict(os.environ, PYTHON=sys.executable))
        if coll.returncode != 0:
            raise RuntimeError('tests/setup/podman-collection.sh failed:\n' + coll.stderr[-2000:])
        self.podman_collections = coll.stdout.strip()
        self.build_venv()
        self.gateway.start()
        keys = self.gateway.provision(list(sb.USERS) + ['generic'])
        generic = keys.pop('generic')
        self.subst = sb.Substitution(self.gateway.url, keys, generic, self.gateway.password)
        self.scrubber = sb.Scrubber(self.subst.secrets())
        self.gateway_models = self.gateway.models(generic)

    def build_venv(self):
        """The venv the docs' own Makefile builds for `make configure` (its `venv-run` target,
        the main job's packages only, where the Makefile has one; else `venv`), made in a copy
        of the docs tree and shared by every page's scratch clone as its .venv: what a reader
        has after `make configure`. Make's own stamps keep it between runs."""
        src = self.venv + '-build'
        copy_tree(self.docs_root, src)
        env = clean_make_env()
        target = 'venv'
        if run(['make', '-n', '-C', src, 'venv-run'], env=env, timeout=120).returncode == 0:
            target = 'venv-run'
        out = run(['make', '--no-print-directory', '-C', src, 'VENV=%s' % self.venv, target],
                  env=env, timeout=1800)
        if out.returncode != 0:
            raise RuntimeError('make venv (the docs tree) failed:\n' + (out.stdout + out.stderr)[-3000:])

    def teardown(self):
        self.gateway.stop()

    @staticmethod
    def guard():
        """What the suite must never change on this machine: the running user's own OpenCode
        files (the pwd home, whatever HOME says) and the administrator's /etc/opencode."""
        paths = []
        home = ME.pw_dir
        for pattern in ('.config/opencode/*', '.local/share/opencode/auth.json', '.opencode/*.json*'):
            paths += glob.glob(os.path.join(home, pattern))
        paths += glob.glob('/etc/opencode/*')
        out = {}
        for path in sorted(paths):
            try:
                st = os.stat(path)
                out[path] = (st.st_size, st.st_mtime_ns)
            except OSError:
                pass
        return out

    def check_guard(self):
        after = self.guard()
        if after != self.guard_before:
            changed = sorted(set(after.items()) ^ set(self.guard_before.items()))
            return 'the run changed files outside the clone: %s' % ', '.join(sorted(set(item[0] for item in changed)))
        return None


def clean_make_env():
    """A reader's environment for make: no MAKEFLAGS/MAKELEVEL of the suite's own make."""
    env = dict(os.environ)
    for var in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'VENV', 'BIN'):
        env.pop(var, None)
    return env


def copy_tree(src, dest):
    """The files git knows in ``src`` (tracked and new, with their working-tree content), copied
    to ``dest`` with their modification times."""
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    files = run(['git', '-C', src, 'ls-files', '-z', '-co', '--exclude-standard'], timeout=120)
    if files.returncode != 0:
        raise RuntimeError('git ls-files failed in %s: %s' % (src, files.stderr))
    names = [n for n in files.stdout.split('\0') if n and os.path.lexists(os.path.join(src, n))]
    tar = subprocess.Popen(['tar', '-C', src, '--null', '-T', '-', '-cf', '-'], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE)
    untar = subprocess.Popen(['tar', '-C', dest, '-xf', '-'], stdin=tar.stdout)
    tar.stdout.close()
    tar.stdin.write('\0'.join(names).encode() + b'\0')
    tar.stdin.close()
    if tar.wait() != 0 or untar.wait() != 0:
        raise RuntimeError('copying %s failed' % src)


# --------------------------------------------------------------------------- laptops
class Laptops(object):
    """The podman laptops of one page, each named after its inventory host (ANSIBLE_TRANSPORT is
    the podman connection with pipelining, so Ansible reaches host X in the container X). They
    share the host's network, so the suite's OmniRoute on 127.0.0.1 is reachable from them as
    from the controller.
    Every laptop has the accounts alice, bob and carol, the real OpenCode at
    /usr/local/bin/opencode, and a models.dev database with no provider at MODELS_DATABASE
    (harness.list_models)."""

    MODELS_DATABASE = '/usr/local/share/omniroute-docs/models-dev-empty.json'

    def __init__(self, suite, log):
        self.suite = suite
        self.log = log
        self.running = []

    def ensure(self, hosts):
        for host in hosts:
            if host in self.running:
                continue
            if not re.match(r'^[a-zA-Z0-9][a-zA-Z0-9_.-]*$', host):
                raise RuntimeError('inventory host %r cannot be a podman laptop name' % host)
            existing = run(['podman', 'container', 'inspect', '--format',
                            '{{index .Config.Labels "%s"}}' % LABEL, host], timeout=60)
            if existing.returncode == 0:
                if existing.stdout.strip() != '1':
                    raise RuntimeError('a container named %s exists and is not a docs-test laptop; '
                                       'the suite leaves it alone' % host)
                run(['podman', 'rm', '-f', '-t', '0', host], timeout=120)
            database = empty_models_database(os.path.join(self.suite.work, 'models-dev-empty.json'))
            out = run(['podman', 'run', '-d', '--name', host, '--hostname', host, '--network', 'host',
                       '--label', '%s=1' % LABEL, '-v', '%s:/usr/local/bin/opencode:ro' % self.suite.opencode,
                       '-v', '%s:%s:ro' % (database, self.MODELS_DATABASE),
                       IMAGE, 'sleep', 'infinity'], timeout=300)
            if out.returncode != 0:
                raise RuntimeError('podman run %s failed: %s' % (host, out.stderr[-1000:]))
            self.running.append(host)
            script = ' && '.join('useradd -m -s /bin/bash %s' % u for u in sb.USERS)
            out = run(['podman', 'exec', host, 'sh', '-c', script], timeout=120)
            if out.returncode != 0:
                raise RuntimeError('accounts on %s: %s' % (host, out.stderr[-1000:]))
            self.log('laptop %s started (accounts %s)' % (host, ', '.join(sb.USERS)))

    def home(self, host, user):
        return '/root' if user == 'root' else '/home/%s' % user

    def opencode(self, host, user, args, env):
        argv = ['podman', 'exec', '--user', user, '--workdir', self.home(host, user)]
        for key, value in sorted(env.items()):
            argv += ['-e', '%s=%s' % (key, value)]
        argv += ['-e', 'HOME=%s' % self.home(host, user), host, 'opencode'] + list(args)
        return run(argv, timeout=180)

    def auth_providers(self, host, user):
        """The provider names in ``user``'s OpenCode auth.json on ``host`` (read as that user; an
        empty list when there is no file), or None when it cannot be read as JSON."""
        path = '%s/.local/share/opencode/auth.json' % self.home(host, user)
        out = run(['podman', 'exec', '--user', user, host, 'sh', '-c', 'test ! -e "$1" || cat "$1"', 'sh', path],
                  timeout=120)
        try:
            return sorted(json.loads(out.stdout or '{}')) if out.returncode == 0 else None
        except ValueError:
            return None

    def files(self, host):
        """Text of every OpenCode config and auth file on the laptop (for the keys in them)."""
        script = ('cat /root/.config/opencode/* /root/.local/share/opencode/auth.json /home/*/.config/opencode/* '
                  '/home/*/.local/share/opencode/auth.json /home/*/.opencode/*.json* /etc/opencode/* 2>/dev/null; true')
        return run(['podman', 'exec', host, 'sh', '-c', script], timeout=120).stdout

    def remove_all(self):
        for host in self.running:
            run(['podman', 'rm', '-f', '-t', '0', host], timeout=120)
        self.running = []


# --------------------------------------------------------------------------- outcomes
class Outcome(object):
    """What happened to one example."""

    def __init__(self, block):
        self.block = block
        self.status = None        # pass | fail | skip | illustration
        self.notes = []
        self.problems = []

    def fail(self, text):
        self.problems.append(text)

    def note(self, text):
        self.notes.append(text)

    def finish(self, default='pass'):
        if self.problems:
            self.status = 'fail'
        elif self.status is None:
            self.status = default
        return self

    def line(self, scrub):
        block = self.block
        what = block.kind or '-'
        if block.name:
            what += ' %s' % block.name
        text = '%-6s %s [%s] %s' % (self.status.upper(), block.where, block.lang or 'no language', what)
        details = list(self.problems) + (['skipped: %s' % block.skip] if self.status == 'skip' else []) + self.notes
        if details:
            text += '\n' + '\n'.join('         - %s' % scrub(d) for d in details)
        return text


# --------------------------------------------------------------------------- one page
# Every command of an example runs in a private mount namespace (when the suite runs as root)
# where the system is read-only: only the clone, the project cache, /tmp, /var/tmp and /run can be
# written. An example that writes elsewhere (`install -d /etc/...`, ansible-pull's checkout under
# /var/lib) fails with "Read-only file system" instead of changing this machine.
READ_ONLY = ('/etc', '/usr', '/opt', '/srv', '/home', '/root', '/boot', '/mnt', '/media', '/var/lib',
             '/var/cache', '/var/log', '/var/mail', '/var/spool', '/var/backups', '/var/opt', '/var/local',
             '/bin', '/sbin', '/lib', '/lib64')
SANDBOX = '''set -e
for dir in $DOCTEST_WRITABLE; do
  if [ -d "$dir" ]; then mount --rbind "$dir" "$dir"; fi
done
for dir in $DOCTEST_READ_ONLY; do
  if [ -d "$dir" ] && [ ! -L "$dir" ]; then
    mount --rbind "$dir" "$dir"
    mount -o remount,bind,ro "$dir"
  fi
done
exec "$@"
'''


def sandboxed(argv, env):
    """``argv`` in the read-only sandbox (as root; anyone else cannot write the system anyway)."""
    if os.geteuid() != 0:
        return argv, env
    cache = os.environ.get('OMNIROUTE_OPENCODE_CACHE') or os.path.join(ME.pw_dir, '.cache', 'omniroute-opencode')
    env = dict(env, DOCTEST_READ_ONLY=' '.join(READ_ONLY),
               DOCTEST_WRITABLE=' '.join(os.path.realpath(p) for p in (REPO, cache) if os.path.isdir(p)))
    return ['unshare', '--mount', '--propagation', 'private', 'bash', '-c', SANDBOX, 'sandbox'] + list(argv), env


def run_sandboxed(argv, env, cwd):
    argv, env = sandboxed(argv, env)
    return run(argv, env=env, cwd=cwd)


SHIM = '''#!/usr/bin/env bash
# make test-docs (tests/docs/README.md, rule 6): an example's ansible-playbook, run twice.
real=%(real)s
"$real" "$@"
rc=$?
# One line a run: the suite compares them with the recorder's records (a run it did not record
# would pass unchecked).
if [ -n "${DOCTEST_RECORD_DIR:-}" ] && [ -z "${DOCTEST_ROUND:-}" ]; then
  echo "$rc" >>"$DOCTEST_RECORD_DIR/invocations.log"
fi
check=0
for arg in "$@"; do
  case "$arg" in --check|-C|-[!-]*C*) check=1 ;; esac
done
if [ "$rc" = 0 ] && [ "$check" = 0 ] && [ -n "${DOCTEST_RECORD_DIR:-}" ] && [ -z "${DOCTEST_ROUND:-}" ]; then
  echo "=== second run: ansible-playbook $*" >>"$DOCTEST_RECORD_DIR/second-runs.log"
  DOCTEST_ROUND=2 "$real" "$@" >>"$DOCTEST_RECORD_DIR/second-runs.log" 2>&1 </dev/null
fi
exit "$rc"
'''

OPENCODE_ENV_DROP = ('PATH', 'HOME', 'USER', 'TMPDIR', 'OPENCODE_TEST_MANAGED_CONFIG_DIR',
                     'npm_config_registry', 'NPM_CONFIG_REGISTRY')


class Page(object):
    def __init__(self, suite, rel):
        self.suite = suite
        self.rel = rel
        self.slug = re.sub(r'[^A-Za-z0-9]+', '-', rel).strip('-').lower()
        self.root = os.path.join(suite.work, 'pages', self.slug)
        self.project = os.path.join(self.root, 'project')
        self.home = os.path.join(self.root, 'home')
        self.tmp = os.path.join(self.root, 'tmp')
        self.records = os.path.join(self.root, 'records')
        self.logdir = os.path.join(self.root, 'logs')
        self.outputs = []          # (outcome, label, text): every output, for the leak check
        self.transcript = []
        self.laptops = Laptops(suite, self.log)
        self.sandbox = None
        self.saved = {}            # absolute path -> block that saved it
        self.inventories = []      # saved inventory paths (in page order)
        self.defined = set()       # variable names the page's files define
        self.known_vars = None
        self.prepared = False

    def log(self, text):
        self.transcript.append(text)

    # -- the scratch project ------------------------------------------------------------
    def prepare(self):
        if self.prepared:
            return
        if os.path.exists(self.root):
            shutil.rmtree(self.root)
        for folder in (self.home, self.tmp, self.records, self.logdir):
            os.makedirs(folder)
        os.chmod(self.root, 0o700)
        copy_tree(self.suite.docs_root, self.project)
        self.venv_with_shim()
        colls = os.path.join(self.project, '.build', 'collections', 'ansible_collections')
        os.makedirs(os.path.join(colls, 'omniroute'))
        os.symlink(self.project, os.path.join(colls, 'omniroute', 'opencode'))
        podman = os.path.join(self.suite.podman_collections, 'ansible_collections', 'containers')
        os.symlink(podman, os.path.join(colls, 'containers'))
        # For an example that sets no collections path (Ansible's default: $ANSIBLE_HOME/collections).
        home_colls = os.path.join(self.project, '.build', 'ansible-home', 'collections', 'ansible_collections')
        os.makedirs(home_colls)
        os.symlink(podman, os.path.join(home_colls, 'containers'))
        self.substitute_examples()
        self.sandbox = Sandbox(self.root, self.suite.opencode)
        self.known_vars = known_role_variables(self.project)
        self.prepared = True

    def venv_with_shim(self):
        """The clone's .venv: the docs' venv, entry by entry (symlinks), except
        bin/ansible-playbook, a shim that runs the real one and, when it succeeded and was no
        --check run, runs it again at once with the same arguments and environment (the second
        run of rule 6; its output goes to the records). Make's stamps are the venv's own."""
        venv = os.path.join(self.project, '.venv')
        os.makedirs(os.path.join(venv, 'bin'))
        for name in os.listdir(self.suite.venv):
            if name != 'bin':
                os.symlink(os.path.join(self.suite.venv, name), os.path.join(venv, name))
        real_bin = os.path.join(self.suite.venv, 'bin')
        for name in os.listdir(real_bin):
            if name != 'ansible-playbook':
                os.symlink(os.path.join(real_bin, name), os.path.join(venv, 'bin', name))
        shim = os.path.join(venv, 'bin', 'ansible-playbook')
        with open(shim, 'w') as handle:
            handle.write(SHIM % {'real': os.path.join(real_bin, 'ansible-playbook')})
        os.chmod(shim, 0o755)

    def substitute_examples(self):
        """docs/examples/** of the scratch clone, substituted (URLs, keys, vaulted files)."""
        folder = os.path.join(self.project, 'docs', 'examples')
        password = os.path.join(folder, 'vault-password.example')
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or path == password:
                    continue
                with open(path, 'rb') as handle:
                    data = handle.read()
                if sb.is_vaulted(data):
                    with open(password) as handle:
                        new = sb.revault(data, handle.read(), self.suite.subst)
                else:
                    try:
                        new = self.suite.subst.text(data.decode('utf-8')).encode('utf-8')
                    except UnicodeDecodeError:
                        continue
                if new != data:
                    with open(path, 'wb') as handle:
                        handle.write(new)
                self.note_defined(path)

    def note_defined(self, path):
        """Remember the variables a vars file defines (decrypting a vaulted one)."""
        try:
            with open(path, 'rb') as handle:
                data = handle.read()
            if sb.is_vaulted(data):
                from ansible.parsing.vault import VaultLib, VaultSecret
                with open(os.path.join(self.project, 'docs', 'examples', 'vault-password.example')) as handle:
                    secret = VaultSecret(handle.read().strip().encode())
                data = VaultLib([('default', secret)]).decrypt(data)
            parsed = md.yaml.load(data.decode('utf-8'), Loader=md._Loader)
        except Exception:  # noqa: BLE001 - not a vars file
            return
        if isinstance(parsed, dict):
            self.defined.update(str(k) for k in parsed)
            if md.looks_yaml_inventory(parsed):
                for hvars in md.yaml_inventory_hosts(parsed).values():
                    self.defined.update(str(k) for k in (hvars or {}))

    # -- environments -------------------------------------------------------------------
    def system_path(self):
        parts = [p for p in os.environ.get('PATH', '/usr/bin:/bin').split(os.pathsep)
                 if p and not p.startswith(REPO) and '/.venv/' not in p]
        return os.pathsep.join(parts)

    def env(self, clean=False):
        """The environment of a shell example (and of the suite's own runs): a throwaway HOME
        in the scratch project; the docs' venv on PATH and the collection on
        ANSIBLE_COLLECTIONS_PATH (unless ``clean``: a fresh shell of someone who just cloned);
        Ansible's state in the scratch project; the recorder callback."""
        env = {}
        for var in ('LANG', 'LC_ALL', 'TZ', 'TERM', 'CONTAINERS_CONF', 'CONTAINERS_STORAGE_CONF',
                    'OMNIROUTE_OPENCODE_CACHE', 'XDG_CACHE_HOME', 'PIP_CACHE_DIR', 'npm_config_cache',
                    'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY',
                    'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_FIND_LINKS', 'PIP_CONFIG_FILE',
                    'PYENV_ROOT'):
            if var in os.environ:
                env[var] = os.environ[var]
        build = os.path.join(self.project, '.build')
        env.update({
            'HOME': self.home, 'USER': ME.pw_name, 'LOGNAME': ME.pw_name, 'SHELL': '/bin/bash',
            'TMPDIR': self.tmp, 'PATH': self.system_path(),
            'ANSIBLE_HOME': os.path.join(build, 'ansible-home'),
            'ANSIBLE_ASYNC_DIR': os.path.join(build, 'ansible-async'),
            'ANSIBLE_REMOTE_TMP': os.path.join(build, 'ansible-remote-tmp'),
            'ANSIBLE_LOCAL_TEMP': os.path.join(self.tmp, 'ansible-local'),
            'ANSIBLE_TRANSPORT': PODMAN_CONNECTION,
            'ANSIBLE_CONNECTION_PLUGINS': CONNECTION_PLUGINS,
            'ANSIBLE_CALLBACK_PLUGINS': CALLBACK_DIR,
            'ANSIBLE_CALLBACKS_ENABLED': 'omniroute_docs_recorder',
            'DOCTEST_RECORD_DIR': self.records,
            'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0', 'ANSIBLE_HOST_KEY_CHECKING': 'False',
        })
        if not clean:
            env['PATH'] = os.path.join(self.project, '.venv', 'bin') + os.pathsep + env['PATH']
            env['ANSIBLE_COLLECTIONS_PATH'] = os.path.join(build, 'collections')
            env.update(self.suite.subst.shell_env())
        return env

    # -- the page -----------------------------------------------------------------------
    def run(self):
        with open(os.path.join(self.suite.docs_root, self.rel), encoding='utf-8') as handle:
            blocks = [md.classify(b) for b in md.extract(handle.read(), page=self.rel)]
        outcomes = []
        runnable = [b for b in blocks if b.kind not in ('illustration', 'invalid') and not b.skip]
        try:
            for index, block in enumerate(blocks):
                outcome = Outcome(block)
                outcomes.append(outcome)
                if block.kind == 'invalid':
                    for problem in block.problems:
                        outcome.fail(problem)
                    outcome.finish()
                    continue
                if block.skip:
                    outcome.status = 'skip'
                    continue
                if block.kind == 'illustration':
                    outcome.status = 'illustration'
                    continue
                if runnable:
                    self.prepare()
                try:
                    self.run_block(block, blocks[index + 1:], outcome)
                except Exception as exc:  # noqa: BLE001 - reported, the page goes on
                    outcome.fail('the suite could not run it: %s: %s' % (type(exc).__name__, exc))
                outcome.finish()
            self.leak_check(outcomes)
        finally:
            self.laptops.remove_all()
            self.forget_environments()
        if self.prepared:
            with open(os.path.join(self.logdir, 'transcript-%s.txt' % self.slug), 'w') as handle:
                handle.write(self.suite.scrubber.text('\n'.join(self.transcript)) + '\n')
        return outcomes

    def forget_environments(self):
        """The records hold each run's environment (a key may be in it): dropped after the page."""
        for path in glob.glob(os.path.join(self.records, '*.json')):
            try:
                with open(path) as handle:
                    record = json.load(handle)
                record.pop('env', None)
                with open(path, 'w') as handle:
                    json.dump(record, handle)
            except (OSError, ValueError):
                pass

    def run_block(self, block, later, outcome):
        kind = block.kind
        text = self.suite.subst.text(block.text)
        if kind == 'shell':
            self.run_shell(block, text, outcome)
            return
        if getattr(block, 'abs_name', None):
            outcome.note('a file on the laptop (%s): checked, not saved here' % block.abs_name)
        path = None
        if block.name:
            path = self.save(block.name, text, block)
            outcome.note('saved as %s' % block.name)
        if block.data is not None and kind in ('playbook', 'tasks', 'vars', 'inventory', 'data'):
            unknown = [v for v in md.opencode_variables(block.data) if v not in self.known_vars]
            for name in unknown:
                outcome.fail('%s is not a variable of the role or the playbooks' % name)
        if kind == 'inventory' and path:
            self.inventories.append(path)
        if kind in ('vars', 'inventory') and path:
            self.note_defined(path)
        if kind not in ('playbook', 'tasks'):
            if not path and kind in ('vars', 'data', 'inventory'):
                outcome.note('checked (YAML) and not saved: it names no file')
            return
        if 'file' in block.markers:
            outcome.note('file= marker: saved, not run by the suite')
            return
        if kind == 'playbook' and block.name:
            runners = [b for b in later if b.kind == 'shell' and not b.skip and md.names_file(b.text, block.name)]
            if runners:
                outcome.note('run by the shell example at line %d' % runners[0].line)
                block.run_by = runners[0]
                return
        self.run_example(block, text, path, outcome)

    def save(self, name, text, block):
        path = os.path.join(self.project, name)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
        self.saved[os.path.realpath(path)] = block
        return path

    # -- examples the suite runs itself ---------------------------------------------------
    def run_example(self, block, text, path, outcome):
        """A playbook no shell example runs, or a task list: run it, twice, and check it."""
        doctest = os.path.join(self.project, '.doctest')
        os.makedirs(doctest, exist_ok=True)
        data = block.data
        patterns = md.play_patterns(data) if block.kind == 'playbook' else []
        target = block.markers.get('hosts')
        if target is None:
            if block.kind == 'playbook':
                target = 'localhost' if patterns and all(md.is_local_pattern(p) for p in patterns) else 'laptops'
            else:
                target = 'laptops'
        if block.kind == 'tasks':
            play = {'name': 'docs example %s' % block.where, 'hosts': 'localhost' if target == 'localhost' else 'doctest_laptop',
                    'gather_facts': False, 'tasks': md.yaml.load(text, Loader=md._Loader)}
            if target == 'localhost':
                play['connection'] = 'local'
            path = os.path.join(doctest, 'L%d-play.yml' % block.line)
            with open(path, 'w') as handle:
                handle.write(md.yaml.safe_dump([play], sort_keys=False))
            patterns = ['doctest_laptop'] if target == 'laptops' else ['localhost']
        elif path is None:
            path = os.path.join(doctest, 'L%d.yml' % block.line)
            with open(path, 'w') as handle:
                handle.write(text)
        argv = [os.path.join(self.suite.venv, 'bin', 'ansible-playbook')]
        if target == 'localhost':
            inv = os.path.join(doctest, 'localhost.ini')
            with open(inv, 'w') as handle:
                handle.write('localhost ansible_connection=local ansible_python_interpreter=%s\n'
                             % os.path.join(self.suite.venv, 'bin', 'python'))
            argv += ['-i', inv]
        elif self.inventories and block.kind == 'playbook':
            for inv in self.inventories:
                argv += ['-i', inv]
            self.laptops.ensure(self.inventory_hosts(self.inventories))
        else:
            # A task list runs on the first laptop; a playbook's groups get both.
            laptops = DEFAULT_LAPTOPS[:1] if block.kind == 'tasks' else DEFAULT_LAPTOPS
            inv = os.path.join(doctest, 'laptops.ini')
            groups = [p for p in patterns if not md.is_local_pattern(p) and p != 'all'] or ['laptops']
            with open(inv, 'w') as handle:
                for group in groups:
                    handle.write('[%s]\n%s\n' % (group, '\n'.join(laptops)))
            argv += ['-i', inv]
            self.laptops.ensure(laptops)
        extra = {}
        undefined = [v for v in md.referenced_variables(text) if v not in self.defined]
        try:
            extra.update(self.suite.subst.vault_vars(undefined))
        except sb.SubstitutionError as exc:
            outcome.fail(str(exc))
            return
        extra.update(md.parse_vars(block.markers.get('vars', '')))
        if extra:
            vars_file = os.path.join(doctest, 'L%d-vars.json' % block.line)
            fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, 'w') as handle:
                json.dump(extra, handle)
            argv += ['-e', '@' + vars_file]
            shown = ', '.join(sorted(k for k in extra if not sb.VAULT_VAR.match(k)))
            vaulted = ', '.join(sorted(k for k in extra if sb.VAULT_VAR.match(k)))
            if vaulted:
                outcome.note('vaulted variables given by the suite: %s' % vaulted)
            if shown:
                outcome.note('variables from the vars= marker: %s' % shown)
        password = os.path.join(self.project, 'docs', 'examples', 'vault-password.example')
        if os.path.exists(password):
            argv += ['--vault-password-file', password]
        argv.append(path)
        where = 'this machine (throwaway HOME)' if target == 'localhost' else 'the laptops'
        outcome.note('run by the suite on %s' % where)
        expects = block.expect()
        before = set(os.listdir(self.records))
        proc = run_sandboxed(argv, self.env(), cwd=self.project)
        self.capture(outcome, 'ansible-playbook %s' % os.path.basename(path), proc)
        records = self.new_records(before)
        self.check_rc(outcome, proc.returncode, proc.stdout + proc.stderr, expects, records)
        if proc.returncode == 0 and not records:
            outcome.fail('the run left no record: the recorder callback did not see it, so no claim on '
                         'the run was checked')
        self.check_records(outcome, records, expects)

    # -- shell examples -----------------------------------------------------------------
    def run_shell(self, block, text, outcome):
        if block.lang == 'console':
            text = md.console_commands(text)
        blocked = md.suite_commands(text)
        if blocked:
            outcome.fail('not run: it runs the project\'s own tests or builds (%s), which cannot run inside '
                         'make test; the block needs skip="..." and the prose must say so'
                         % ', '.join(sorted(set(blocked))))
            return
        clean = block.markers.get('env') == 'clean'
        script = os.path.join(self.project, '.doctest', 'L%d.sh' % block.line)
        os.makedirs(os.path.dirname(script), exist_ok=True)
        with open(script, 'w') as handle:
            handle.write(text)
        # The laptops of every inventory the commands name.
        self.laptops.ensure(self.inventory_hosts(self.inventory_args(text)))
        expects = dict(block.expect())
        before = set(os.listdir(self.records))
        proc = run_sandboxed(['bash', '-euo', 'pipefail', script], self.env(clean=clean), cwd=self.project)
        self.capture(outcome, 'shell %s' % block.where, proc)
        records = self.new_records(before)
        # The claims of the playbooks it ran (their own expect markers) count for those runs.
        fails_expected = 'fails' in expects
        for record in records:
            saved = self.saved.get(os.path.realpath(record.get('playbook') or ''))
            if saved is not None and 'fails' in saved.expect():
                fails_expected = True
        if fails_expected and 'fails' not in expects:
            expects['fails'] = ''
        self.check_rc(outcome, proc.returncode, proc.stdout + proc.stderr, expects, records)
        self.check_recorded(outcome, records)
        second = os.path.join(self.records, 'second-runs.log')
        if os.path.exists(second):
            with open(second, encoding='utf-8', errors='replace') as handle:
                text = handle.read()
            os.unlink(second)
            self.outputs.append((outcome, 'the second runs of %s' % block.where, text))
            self.log('=== %s: second runs\n%s' % (block.where, text))
        if not records:
            return
        self.check_records(outcome, records, expects, paired=True)

    def inventory_args(self, text):
        """Inventory sources a shell example names (-i/--inventory), that exist."""
        out = []
        try:
            words = shlex.split(text, comments=True)
        except ValueError:
            words = text.split()
        for i, word in enumerate(words):
            value = None
            if word in ('-i', '--inventory', '--inventory-file') and i + 1 < len(words):
                value = words[i + 1]
            elif word.startswith('--inventory='):
                value = word.split('=', 1)[1]
            elif word.startswith('-i') and len(word) > 2:
                value = word[2:]
            if value:
                path = os.path.join(self.project, os.path.expanduser(value)) if not value.startswith('/') else value
                if os.path.exists(path):
                    out.append(path)
        return out

    def inventory_hosts(self, sources):
        """Hosts of these inventories that the suite plays with laptops: every host not on a
        local connection and not localhost."""
        hosts = []
        for source in sources:
            files = [source]
            if os.path.isdir(source):
                files = [os.path.join(d, f) for d, dirs, fs in os.walk(source)
                         for f in fs if 'group_vars' not in d and 'host_vars' not in d]
            for path in files:
                try:
                    with open(path, encoding='utf-8') as handle:
                        text = handle.read()
                except (OSError, UnicodeDecodeError):
                    continue
                found = {}
                if path.endswith(('.yml', '.yaml')):
                    try:
                        found = md.yaml_inventory_hosts(md.yaml.load(text, Loader=md._Loader))
                    except Exception:  # noqa: BLE001 - not an inventory
                        found = {}
                elif not text.lstrip().startswith('$ANSIBLE_VAULT'):
                    found = md.ini_inventory_hosts(text)
                for host, hvars in found.items():
                    if md.is_local_pattern(host) or str((hvars or {}).get('ansible_connection', '')) == 'local':
                        continue
                    if host not in hosts:
                        hosts.append(host)
        return hosts

    # -- checks -------------------------------------------------------------------------
    def capture(self, outcome, label, proc):
        text = (proc.stdout or '') + (proc.stderr or '')
        self.outputs.append((outcome, label, text))
        self.log('=== %s: %s (rc %s)\n%s' % (outcome.block.where, label, proc.returncode, text))

    def new_records(self, before):
        out = []
        for name in sorted(set(os.listdir(self.records)) - before):
            if name.endswith('.json'):
                with open(os.path.join(self.records, name)) as handle:
                    out.append(json.load(handle))
        return out

    def check_recorded(self, outcome, records):
        """Every ansible-playbook run of a shell example that exited 0 left a record (the shim
        counts the runs in invocations.log): the claims are checked on records only."""
        path = os.path.join(self.records, 'invocations.log')
        if not os.path.exists(path):
            return
        with open(path) as handle:
            codes = handle.read().split()
        os.unlink(path)
        ran = codes.count('0')
        recorded = len([r for r in records if str(r.get('round', '1')) != '2'])
        if recorded < ran:
            outcome.fail('%d ansible-playbook run(s) exited 0 but the recorder callback recorded %d: the '
                         'claims on the other runs were not checked' % (ran, recorded))

    def check_rc(self, outcome, rc, output, expects, records=()):
        if 'fails' in expects:
            if rc == 0:
                outcome.fail('expected to fail (expect="fails:%s") but exited 0' % expects['fails'])
            elif expects['fails'] and flat(expects['fails']) not in flat(output):
                outcome.fail('failed, but its output does not say "%s": %s' % (expects['fails'], gist(output)))
        elif rc != 0:
            if any(broken(r) for r in records):
                outcome.fail('exited %d (the failed hosts are below)' % rc)
            else:
                outcome.fail('exited %d: %s' % (rc, gist(output)))
        if 'output' in expects and flat(expects['output']) not in flat(output):
            outcome.fail('its output does not say "%s"' % expects['output'])

    def check_records(self, outcome, records, expects, paired=False):
        """The claims on each ansible-playbook run: ran on a host, no failure, ready, the real
        OpenCode offers the models, and a second run changes nothing. ``paired``: the shim made
        each second run right after its first (shell examples); else the suite runs it again
        here, after the OpenCode check (examples it runs itself)."""
        firsts = [r for r in records if str(r.get('round', '1')) != '2']
        seconds = [r for r in records if str(r.get('round')) == '2']
        final = []
        for record in firsts:
            name = os.path.relpath(os.path.realpath(record.get('playbook') or '?'), self.project)
            saved = self.saved.get(os.path.realpath(record.get('playbook') or ''))
            claims = dict(expects)
            if saved is not None and saved is not outcome.block:
                claims.update(saved.expect())
            mode = ' --check' if record['check'] else ''
            outcome.note('ran %s%s: %s' % (name, mode, recap_text(record)))
            self.harvest_keys(record)
            for problem in run_problems(record, claims, second=False):
                outcome.fail('%s%s: %s' % (name, mode, problem))
            # A claim that does not hold (not ready, say) does not stop the other checks; a run
            # that reached no host or failed one does.
            if broken(record) or record['check'] or 'fails' in claims:
                continue
            nobody = configured_nobody(record)
            if nobody:
                outcome.fail('%s: %s' % (name, nobody))
            if paired:
                again = next((s for s in seconds if s['argv'] == record['argv'] and s['started'] >= record['ended']), None)
                if again is not None:
                    seconds.remove(again)
                final.append((record, claims, name))
            else:
                self.opencode_check(outcome, configured_users(record), claims, name)
                again = self.rerun(record)
            if again is None:
                outcome.fail('%s: no second run was recorded' % name)
                continue
            self.harvest_keys(again)
            outcome.note('second run of %s: %s' % (name, recap_text(again)))
            for problem in run_problems(again, claims, second=True):
                outcome.fail('%s, second run: %s' % (name, problem))
        if final:
            # After the shell example: each user as the last run that touched them left them.
            users = {}
            for record, claims, name in final:
                for item in configured_users(record):
                    users[item[:2]] = (item, claims, name)
            by_claims = {}
            for item, claims, name in users.values():
                by_claims.setdefault((name, json.dumps(claims, sort_keys=True)), (claims, []))[1].append(item)
            for (name, _key), (claims, items) in by_claims.items():
                self.opencode_check(outcome, items, claims, name)

    def rerun(self, record):
        before = set(os.listdir(self.records))
        env = dict(record['env'], DOCTEST_ROUND='2')
        for var in ('DOCTEST_READ_ONLY', 'DOCTEST_WRITABLE'):
            env.pop(var, None)
        proc = run_sandboxed(record['argv'], env, cwd=record['cwd'])
        self.outputs.append((None, 'second run of %s' % record.get('playbook'), proc.stdout + proc.stderr))
        self.log('=== second run of %s (rc %s)\n%s' % (record.get('playbook'), proc.returncode, proc.stdout + proc.stderr))
        records = self.new_records(before)
        return records[-1] if records else None

    def opencode_check(self, outcome, users, claims, name):
        """As each user a run configured: `opencode models <provider>` lists every model the
        run wrote (and the ones ``models:`` claims); a user removed in user scope has no entry
        ("Provider not found") and, on a laptop, no omniroute key in their auth.json. In
        managed scope the models are the host's entry's, and the user's auth.json holds their key
        (a removed user's holds none)."""
        for host, user, state, models, managed in users:
            where = '%s on %s' % (user, host)
            if state == 'absent' and managed and host in self.laptops.running:
                # The host's entry stays for the others (OpenCode as this user still lists its
                # models); what leaves is this user's key.
                stored = self.laptops.auth_providers(host, user)
                if stored is None:
                    outcome.fail('%s: %s was removed, and their auth.json cannot be read' % (name, where))
                elif 'omniroute' in stored:
                    outcome.fail('%s: %s was removed, yet their auth.json still holds a key for omniroute'
                                 % (name, where))
                else:
                    outcome.note('%s was removed: their auth.json holds no omniroute key (managed scope: the '
                                 'host entry stays)' % where)
                continue
            if host in self.laptops.running:
                proc = list_models(lambda extra, host=host, user=user: self.laptops.opencode(
                    host, user, ['models', 'omniroute'], dict(self.opencode_env(), **extra)),
                    'omniroute', self.laptops.MODELS_DATABASE)
            elif host in ('localhost', '127.0.0.1') and user in (ME.pw_name, None):
                proc = list_models(lambda extra: self.sandbox.run_opencode('models', 'omniroute', env=extra),
                                   'omniroute', self.sandbox.empty_models_database())
            else:
                outcome.note('%s: not checked with OpenCode (not a test laptop or this account)' % where)
                continue
            self.outputs.append((outcome, 'opencode models as %s' % where, proc.stdout + proc.stderr))
            offered = [line.strip()[len('omniroute/'):] for line in proc.stdout.splitlines()
                       if line.strip().startswith('omniroute/')]
            if state == 'absent':
                if managed:
                    outcome.note('%s was removed (managed scope: the host entry stays; not a test laptop, '
                                 'its auth.json not read)' % where)
                elif proc.returncode == 0 and offered:
                    outcome.fail('%s: %s was removed, yet OpenCode still offers %s' % (name, where, ', '.join(offered[:5])))
                elif 'Provider not found: omniroute' not in ANSI.sub('', proc.stderr):
                    # Any other failure (a config OpenCode rejects, a missing account) is not "no entry".
                    outcome.fail('%s: OpenCode as %s (removed) answered neither the models nor "Provider not '
                                 'found": %s' % (name, where, tail(proc.stderr or proc.stdout, 300)))
                elif host in self.laptops.running and 'omniroute' in (self.laptops.auth_providers(host, user) or []):
                    outcome.fail('%s: %s was removed, yet their auth.json still holds a key for omniroute'
                                 % (name, where))
                else:
                    outcome.note('OpenCode as %s (removed) has no omniroute entry' % where)
                continue
            if proc.returncode != 0:
                outcome.fail('%s: OpenCode as %s: %s' % (name, where, tail(proc.stderr or proc.stdout, 300)))
                continue
            want = list(models or []) + [m for m in claims.get('models', []) if m not in (models or [])]
            if not want:
                # Nothing to compare OpenCode's answer with would make the check pass whatever it is.
                outcome.fail('%s: the run names no model for %s, so OpenCode\'s answer cannot be checked'
                             % (name, where))
                continue
            missing = [m for m in want if m not in offered]
            if missing:
                outcome.fail('%s: OpenCode as %s does not offer %s (it offers %s)'
                             % (name, where, ', '.join(missing), ', '.join(offered) or 'nothing'))
                continue
            if managed and host in self.laptops.running:
                # In managed scope the entry is the host's; the user's own part is the key.
                stored = self.laptops.auth_providers(host, user)
                if stored is None or 'omniroute' not in stored:
                    outcome.fail('%s: OpenCode as %s offers the models, but their auth.json holds no key for '
                                 'omniroute' % (name, where))
                    continue
                outcome.note('OpenCode as %s offers the %d model(s) configured, with their key in auth.json'
                             % (where, len(want)))
            else:
                outcome.note('OpenCode as %s offers the %d model(s) configured' % (where, len(want)))

    def opencode_env(self):
        env = self.sandbox.base_env()
        for var in OPENCODE_ENV_DROP:
            env.pop(var, None)
        return env

    def harvest_keys(self, record):
        """Keys the run put on the laptops or in the throwaway HOME (OmniRoute-issued keys
        included) join the secrets every output is searched for."""
        texts = []
        hosts = set(record.get('recap') or {})
        for host in hosts & set(self.laptops.running):
            texts.append(self.laptops.files(host))
        for pattern in ('.config/opencode/*', '.local/share/opencode/auth.json'):
            for path in glob.glob(os.path.join(self.home, pattern)):
                try:
                    with open(path, encoding='utf-8', errors='replace') as handle:
                        texts.append(handle.read())
                except OSError:
                    pass
        for key in sb.keys_in('\n'.join(texts)):
            self.suite.scrubber.add(key)

    def leak_check(self, outcomes):
        # Every key the suite's OmniRoute made so far (the role's too, revoked ones included).
        for key in self.suite.gateway.issued_keys():
            self.suite.scrubber.add(key)
        for outcome, label, text in self.outputs:
            leaks = self.suite.scrubber.leaks(text)
            if leaks:
                target = outcome or (outcomes[-1] if outcomes else None)
                if target is not None:
                    target.fail('a secret (%s) appears in the output of %s' % (', '.join(leaks), label))
                    target.finish()


# --------------------------------------------------------------------------- helpers
def broken(record):
    """The run reached no host, or a host failed or was unreachable."""
    recap = record.get('recap') or {}
    return not recap or any(s.get('failures') or s.get('unreachable') for s in recap.values())


def configured_nobody(record):
    """Why a successful run that set out to configure users (the role's summary, or a result of
    the users or provider module) configured none of them, or None. OpenCode is then asked about
    nobody, and every check of what it offers would pass without looking. A run of other modules
    only (a key sweep, a report) configures nobody by design."""
    if configured_users(record):
        return None
    ran = sorted(set(r['action'] for r in record.get('results', [])
                     if r['action'] in ('omniroute.opencode.users', 'omniroute.opencode.provider')))
    if record.get('summaries'):
        ran.insert(0, "the role's summary")
    if not ran:
        return None
    return ('the run configured no user (%s ran, yet no user is present or removed), so OpenCode '
            'has nobody to be checked as' % ' and '.join(ran))


def run_problems(record, claims, second):
    """What is wrong with one recorded ansible-playbook run, against the claims."""
    problems = []
    recap = record.get('recap') or {}
    if not recap:
        return ['the play ran on no host (does the inventory have the hosts the play names?)']
    if 'fails' not in claims:
        for host, stats in sorted(recap.items()):
            if stats.get('failures') or stats.get('unreachable'):
                msgs = ['%s: %s' % (f['task'], f['msg']) for f in record.get('failed', []) if f['host'] == host]
                problems.append('%s failed: %s' % (host, ' | '.join(msgs)[:1500] or stats))
    if problems:
        return problems
    if second and not claims.get('changed'):
        changed = dict((h, s.get('changed')) for h, s in recap.items() if s.get('changed'))
        if changed:
            tasks = sorted(set('"%s" on %s' % (c['task'], c['host']) for c in record.get('changed', [])))
            problems.append('the second run changed something: %s%s' % (
                ', '.join('%s changed=%s' % hc for hc in sorted(changed.items())),
                (' (%s)' % ', '.join(tasks)) if tasks else ''))
    for item in record.get('summaries', []):
        problems += summary_problems(item['summary'], claims, record['check'])
    if not record.get('summaries'):
        claim = claims.get('not-ready')
        not_ready = 0
        for result in record.get('results', []):
            for user, verify in result_verifies(result):
                if verify.get('ready') is not False:
                    continue
                not_ready += 1
                if claim is None:
                    problems.append('%s on %s is not ready: %s' % (user, result['host'], verify.get('cause')))
                elif flat(claim) not in flat(verify.get('cause') or ''):
                    problems.append('%s on %s is not ready for another reason than "%s": %s'
                                    % (user, result['host'], claim, verify.get('cause')))
        if claim is not None and not not_ready:
            problems.append('the example claims users not ready ("%s"), and none is' % claim)
    return problems


NOISE = re.compile(r'CryptographyDeprecationWarning|from cryptography\.|interpreter discovery|discovered Python '
                   r'interpreter|^\s*$|^PLAY RECAP|^\s*\S+\s+: ok=\d+')
ERRORISH = re.compile(r'fatal:|ERROR|[Ee]rror:|FAILED|failed:|No such file|not found|cannot|Could not|denied')


def gist(text, lines=4, limit=700):
    """The lines of an output that say what went wrong (errors first, else the last lines),
    without the usual warnings."""
    rows = [line.strip() for line in (text or '').splitlines() if not NOISE.search(line)]
    picked = [line for line in rows if ERRORISH.search(line)][-lines:] or rows[-lines:]
    return tail(' | '.join(picked), limit)


def tail(text, limit=800):
    text = ' '.join((text or '').split())
    return text[-limit:] if len(text) > limit else text


def recap_text(record):
    recap = record.get('recap') or {}
    if not recap:
        return 'no host'
    parts = []
    for host, stats in sorted(recap.items()):
        parts.append('%s ok=%s changed=%s failed=%s%s' % (
            host, stats.get('ok'), stats.get('changed'), stats.get('failures'),
            ' unreachable=%s' % stats['unreachable'] if stats.get('unreachable') else ''))
    summaries = record.get('summaries') or []
    if summaries:
        s = summaries[0]['summary']
        parts.append('summary ready=%s not_ready=%s unverified=%s removed=%s' % (
            s.get('ready'), s.get('not_ready'), s.get('unverified'), s.get('removed')))
    return '; '.join(parts)


def summary_problems(summary, claims, check):
    """The role's summary against the claims: every present user verified and ready, unless
    ``ready=N`` or ``not-ready:TEXT`` says otherwise (``not-ready:TEXT``: at least one user is not
    ready, each for a reason holding TEXT; ``ready=0``: an example that turns verify off)."""
    problems = []
    ready, not_ready = summary.get('ready', 0), summary.get('not_ready', 0)
    unverified = summary.get('unverified', 0)
    reasons = summary.get('not_ready_users') or []
    if 'ready' in claims and ready != claims['ready']:
        problems.append('the summary counts %s ready, the example claims %s (not ready: %s)'
                        % (ready, claims['ready'], '; '.join(reasons) or 'none'))
    if 'not-ready' in claims:
        wrong = [r for r in reasons if flat(claims['not-ready']) not in flat(r)]
        if wrong:
            problems.append('not ready for another reason than "%s": %s' % (claims['not-ready'], '; '.join(wrong)))
        if not not_ready:
            problems.append('the example claims users not ready ("%s"), and none is (ready %s, unverified %s)'
                            % (claims['not-ready'], ready, unverified))
        return problems
    if ready + not_ready == 0:
        # Nobody verified: the role verifies by default (in check mode too), so outside --check
        # that is either an example that turns it off (it says ready=0) or verify broken.
        if unverified and not check and claims.get('ready') != 0:
            problems.append('no present user was verified (%s unverified); an example that turns '
                            'opencode_verify off says so with ready=0' % unverified)
        return problems
    if not_ready:
        problems.append('%d user(s) not ready: %s' % (not_ready, '; '.join(reasons)))
    if unverified and not check:
        problems.append('%d present user(s) not verified although the role verified the others' % unverified)
    return problems


def result_verifies(result):
    if result['action'] == 'omniroute.opencode.users':
        for user, row in sorted((result.get('users') or {}).items()):
            if row.get('verify'):
                yield user, row['verify']
    elif result.get('verify'):
        yield result.get('become_user') or '(connection user)', result['verify']


def configured_users(record):
    """(host, user, state, models, managed) of every user a run's modules configured or
    removed (``managed``: the host's entry is in OpenCode's managed config). In managed scope a
    user's row names no models (the users module writes no entry): the models are the managed
    module's, which OpenCode offers every user of that host."""
    out = []
    seen = set()
    managed = {}
    for r in record.get('results', []):
        if (r['action'] == 'omniroute.opencode.managed' and r.get('status') == 'ok'
                and r.get('state', 'present') != 'absent'):
            managed[r['host']] = r.get('models') or managed.get(r['host'])
    for result in record.get('results', []):
        if result.get('status') != 'ok':
            continue
        host = result['host']
        if result['action'] == 'omniroute.opencode.users':
            for user, row in sorted((result.get('users') or {}).items()):
                if row.get('skipped'):
                    continue
                item = (host, user, row.get('state') or 'present', row.get('models') or managed.get(host),
                        host in managed)
                if (host, user) not in seen:
                    seen.add((host, user))
                    out.append(item)
        elif result['action'] == 'omniroute.opencode.provider':
            user = result.get('become_user') if result.get('become') else None
            if user is None:
                user = result.get('remote_user') or ('root' if host not in ('localhost', '127.0.0.1') else ME.pw_name)
            if (host, user) not in seen:
                seen.add((host, user))
                out.append((host, user, result.get('state') or 'present', result.get('models'), host in managed))
    return out


def known_role_variables(project):
    """Every opencode_* name the role and the playbooks know (argument specs, defaults, tasks,
    playbooks): an example that sets another one has a typo or documents a removed variable."""
    names = set()
    pattern = re.compile(r'\bopencode_[a-z0-9_]+')
    for sub in ('roles', 'playbooks'):
        for dirpath, _dirs, files in os.walk(os.path.join(project, sub)):
            if 'molecule' in dirpath:
                continue
            for name in files:
                if name.endswith(('.yml', '.yaml', '.j2')):
                    with open(os.path.join(dirpath, name), encoding='utf-8', errors='replace') as handle:
                        names.update(pattern.findall(handle.read()))
    return names
