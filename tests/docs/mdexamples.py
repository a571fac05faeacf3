"""Find the examples of a Markdown page and say what each one is (tests/docs/README.md, rules 1-4).

Pure functions, no Ansible, no processes: `make check` unit-tests them (tests/unit/docs/).

    blocks = extract(text, page='README.md')       # every fenced block, with its markers
    for block in blocks:
        classify(block)                             # kind, file name, parsed YAML, problems

A block's ``kind`` after classify():

- ``playbook``   YAML list of plays (``hosts:`` or ``import_playbook``); saved, and run by the
                 suite unless a later shell block of the page names its file
- ``tasks``      YAML list of tasks; run inside a play on a test host
- ``inventory``  YAML or INI inventory; saved (needs a file name)
- ``vars``       any other YAML mapping (group_vars, role variables, requirements); saved when named
- ``data``       other YAML (a list of values, a scalar, a vaulted file); saved when named
- ``shell``      ``sh``/``shell``/``bash``/``console``; run with bash -euo pipefail
- ``file``       a block of another language saved by name (``file=`` or a first-line comment)
- ``illustration`` text, JSON, trees, output samples: not run
- ``invalid``    an example that cannot be read (bad YAML, a bad marker); always a failure
"""

import re
import shlex

import yaml

YAML_LANGS = ('yaml', 'yml')
SHELL_LANGS = ('sh', 'shell', 'bash', 'console')
# Languages whose first-line comment may name the file the block is (`# inventory.ini`).
NAMEABLE_LANGS = YAML_LANGS + ('ini', 'cfg', 'toml')

MARKER_KEYS = ('file', 'skip', 'expect', 'hosts', 'vars', 'env')
HOSTS_VALUES = ('laptops', 'localhost')
ENV_VALUES = ('clean',)

FENCE = re.compile(r'^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$')
MARKER = re.compile(r'<!--\s*doctest:(?P<body>.*?)-->', re.S)
# `# site.yml — every developer's ...`, `# group_vars/laptops.yml`, `# inventory`.
FIRST_LINE_NAME = re.compile(r'^#\s*(?P<name>[^\s,;:]+)(?P<rest>.*)$')
NAME_LIKE = re.compile(r'^(?:[\w.-]+/)*[\w.-]+$')
KNOWN_BARE_NAMES = ('inventory', 'hosts', 'ansible.cfg')
FILE_EXTENSIONS = ('.yml', '.yaml', '.ini', '.cfg', '.json', '.jsonc', '.toml', '.sh', '.j2', '.txt')

# Task keywords that are not a module (a dict holding only these is not a task).
TASK_KEYWORDS = frozenset((
    'name', 'when', 'loop', 'loop_control', 'with_items', 'register', 'become', 'become_user',
    'become_method', 'delegate_to', 'run_once', 'no_log', 'tags', 'vars', 'environment',
    'ignore_errors', 'changed_when', 'failed_when', 'notify', 'check_mode', 'diff', 'until',
    'retries', 'delay', 'args', 'connection', 'throttle', 'timeout', 'any_errors_fatal',
    'delegate_facts', 'local_action', 'module_defaults', 'collections', 'debugger',
    'ignore_unreachable', 'listen', 'port', 'remote_user', 'rescue', 'always', 'block',
))


class MarkerError(ValueError):
    """A `<!-- doctest: ... -->` comment the suite cannot read."""


class Block(object):
    """One fenced block of a page."""

    def __init__(self, page, line, indent, fence, info, text, markers=None, marker_line=None,
                 heading=''):
        self.page = page
        self.line = line              # 1-based line of the opening fence
        self.indent = indent
        self.fence = fence
        self.info = info.strip()
        self.lang = (self.info.split() or [''])[0].lower()
        self.text = text
        self.markers = markers or {}
        self.marker_line = marker_line
        self.heading = heading
        # Set by classify():
        self.kind = None
        self.name = None
        self.abs_name = None          # a file on a laptop (`# /etc/...`): checked, never saved
        self.data = None
        self.problems = []

    @property
    def where(self):
        return '%s:%d' % (self.page, self.line)

    @property
    def is_shell(self):
        return self.lang in SHELL_LANGS

    @property
    def is_yaml(self):
        return self.lang in YAML_LANGS

    @property
    def skip(self):
        return self.markers.get('skip')

    def expect(self):
        """The block's ``expect`` claims, parsed (see parse_expect)."""
        return parse_expect(self.markers.get('expect', ''))

    def __repr__(self):
        return '<Block %s %s %s %s>' % (self.where, self.lang or '-', self.kind, self.name)


# --------------------------------------------------------------------------- markers
def parse_markers(body):
    """``file=x skip="a reason"`` -> {'file': 'x', 'skip': 'a reason'}; MarkerError when unreadable."""
    try:
        tokens = shlex.split(body, posix=True)
    except ValueError as exc:
        raise MarkerError('cannot read the marker (%s)' % exc)
    out = {}
    for token in tokens:
        key, sep, value = token.partition('=')
        if not sep:
            raise MarkerError('"%s" is not key=value' % token)
        if key not in MARKER_KEYS:
            raise MarkerError('unknown marker key "%s" (known: %s)' % (key, ', '.join(MARKER_KEYS)))
        if key in out:
            raise MarkerError('marker key "%s" given twice' % key)
        out[key] = value
    if 'skip' in out and not out['skip'].strip():
        raise MarkerError('skip needs a reason: skip="why this example cannot run here"')
    if 'hosts' in out and out['hosts'] not in HOSTS_VALUES:
        raise MarkerError('hosts must be one of %s, not "%s"' % (', '.join(HOSTS_VALUES), out['hosts']))
    if 'env' in out and out['env'] not in ENV_VALUES:
        raise MarkerError('env must be one of %s, not "%s"' % (', '.join(ENV_VALUES), out['env']))
    if 'file' in out and not _safe_relative(out['file']):
        raise MarkerError('file must be a relative path inside the project, not "%s"' % out['file'])
    if 'expect' in out:
        parse_expect(out['expect'])
    if 'vars' in out:
        parse_vars(out['vars'])
    return out


EXPECT_FLAGS = ('changed',)
EXPECT_TEXT = ('fails', 'not-ready', 'output', 'models')
EXPECT_NUMBER = ('ready',)


def parse_expect(value):
    """``fails:no API key; ready=2`` -> {'fails': 'no API key', 'ready': 2}.

    Claims, separated by ``;``:
      fails:TEXT       the run exits non-zero and its output holds TEXT
      ready=N          the role's summary counts N users ready
      not-ready:TEXT   at least one user is not ready, each for a reason holding TEXT
      output:TEXT      the output holds TEXT
      models:ID,ID     the real OpenCode offers omniroute/ID to every present user
      changed          the example changes something on every run (no changed=0 on the re-run)
    """
    out = {}
    for part in value.split(';'):
        part = part.strip()
        if not part:
            continue
        if part in EXPECT_FLAGS:
            out[part] = True
            continue
        key, sep, rest = part.partition(':')
        if sep and key in EXPECT_TEXT and rest.strip():
            if key == 'models':
                out[key] = [m.strip() for m in rest.split(',') if m.strip()]
            else:
                out[key] = rest.strip()
            continue
        key, sep, rest = part.partition('=')
        if sep and key in EXPECT_NUMBER and rest.strip().isdigit():
            out[key] = int(rest)
            continue
        raise MarkerError('unknown expect claim "%s" (known: fails:TEXT, ready=N, not-ready:TEXT, '
                          'output:TEXT, models:ID[,ID], changed)' % part)
    return out


def parse_vars(value):
    """``developer=alice team=red`` -> {'developer': 'alice', 'team': 'red'} (what the prose
    tells the reader to pass with -e)."""
    out = {}
    for token in value.split():
        key, sep, val = token.partition('=')
        if not sep or not re.match(r'^[A-Za-z_]\w*$', key):
            raise MarkerError('vars must be NAME=VALUE words, not "%s"' % token)
        out[key] = val
    return out


def _safe_relative(path):
    return bool(path) and not path.startswith(('/', '~')) and '..' not in path.split('/')


# --------------------------------------------------------------------------- extraction
def extract(text, page='page.md'):
    """Every fenced block of a Markdown text, in order, with the markers right before it.

    A marker is an HTML comment ``<!-- doctest: ... -->`` separated from the fence only by blank
    lines (or by other marker comments). A marker anywhere else, or one that cannot be read,
    gives a block of kind ``invalid`` at the marker's line, so a mistake never passes silently.
    """
    lines = text.split('\n')
    blocks = []
    heading = ''
    pending = []          # (line number, markers or MarkerError) waiting for their fence
    i = 0
    n = len(lines)
    in_comment = False
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not in_comment:
            fence = FENCE.match(line)
            if fence and (fence.group('fence')[0] != '`' or '`' not in fence.group('info')):
                start = i
                indent = fence.group('indent')
                marker = fence.group('fence')
                body = []
                i += 1
                while i < n:
                    close = lines[i].strip()
                    if close and set(close) == {marker[0]} and len(close) >= len(marker):
                        break
                    body.append(_dedent(lines[i], len(indent)))
                    i += 1
                markers, marker_line, errors = _collect(pending)
                block = Block(page, start + 1, indent, marker, fence.group('info'),
                              '\n'.join(body) + ('\n' if body else ''), markers, marker_line, heading)
                if i >= n:
                    block.problems.append('the fence opened here is never closed')
                block.problems.extend(errors)
                blocks.append(block)
                pending = []
                i += 1
                continue
            if stripped.startswith('#') and not line.startswith((' ', '\t')):
                heading = stripped.lstrip('#').strip()
        # Marker comments (possibly spanning lines). Only a comment that starts its line counts: a
        # marker quoted in prose (`<!-- doctest: ... -->` in backticks) is text.
        if stripped.startswith('<!--') and not in_comment:
            chunk = line
            j = i
            while '-->' not in chunk[chunk.index('<!--'):] and j + 1 < n:
                j += 1
                chunk += '\n' + lines[j]
            for match in MARKER.finditer(chunk):
                try:
                    pending.append((i + 1, parse_markers(match.group('body'))))
                except MarkerError as exc:
                    pending.append((i + 1, exc))
            if '-->' not in chunk[chunk.index('<!--'):]:
                in_comment = True
            i = j + 1
            continue
        if in_comment:
            if '-->' in line:
                in_comment = False
            i += 1
            continue
        if stripped and pending:
            # Prose between a marker and the next fence: the marker belongs to no block.
            for lineno, _markers in pending:
                orphan = Block(page, lineno, '', '', '', '', heading=heading)
                orphan.kind = 'invalid'
                orphan.problems.append('doctest marker at line %d is not right before a fenced block' % lineno)
                blocks.append(orphan)
            pending = []
        i += 1
    for lineno, _markers in pending:
        orphan = Block(page, lineno, '', '', '', '', heading=heading)
        orphan.kind = 'invalid'
        orphan.problems.append('doctest marker at line %d is not right before a fenced block' % lineno)
        blocks.append(orphan)
    return blocks


def _dedent(line, width):
    """Remove up to ``width`` leading spaces (the fence's own indentation, in a list item)."""
    k = 0
    while k < width and k < len(line) and line[k] == ' ':
        k += 1
    return line[k:]


def _collect(pending):
    markers, errors, first = {}, [], None
    for lineno, item in pending:
        if isinstance(item, MarkerError):
            errors.append('doctest marker at line %d: %s' % (lineno, item))
            continue
        first = first or lineno
        for key, value in item.items():
            if key in markers:
                errors.append('doctest marker at line %d: key "%s" already given for this block' % (lineno, key))
            markers[key] = value
    return markers, first, errors


# --------------------------------------------------------------------------- classification
def first_line_name(text):
    """The file a block names in its first line (``# site.yml — ...``), or None."""
    first = text.split('\n', 1)[0].strip()
    match = FIRST_LINE_NAME.match(first)
    if not match or match.group('rest').startswith(':'):
        return None
    name = match.group('name').rstrip('.')
    if not NAME_LIKE.match(name) and not name.startswith('/'):
        return None
    base = name.rsplit('/', 1)[-1]
    if base in KNOWN_BARE_NAMES or base.endswith(FILE_EXTENSIONS) or ('/' in name and '.' in base):
        return name
    return None


def classify(block):
    """Fill in block.kind, block.name, block.data and block.problems (see the module docstring)."""
    if block.kind == 'invalid':
        return block
    if block.problems:
        block.kind = 'invalid'
        return block
    name = block.markers.get('file')
    if name is None and block.lang in NAMEABLE_LANGS:
        name = first_line_name(block.text)
    block.name = name
    if name is not None and name.startswith('/'):
        # A file on a laptop (/etc/omniroute-opencode/pull.yml): checked, never saved here.
        block.name = None
        block.abs_name = name
    if block.is_shell:
        block.kind = 'file' if 'file' in block.markers else 'shell'
        return block
    if block.is_yaml:
        _classify_yaml(block)
        return block
    if block.lang == 'ini' and _looks_ini_inventory(block.text) and block.name:
        block.kind = 'inventory'
        return block
    block.kind = 'file' if block.name else 'illustration'
    return block


def _classify_yaml(block):
    text = block.text
    if text.lstrip().startswith('$ANSIBLE_VAULT'):
        block.kind = 'data'
        return
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        block.kind = 'invalid'
        block.problems.append('not valid YAML: %s' % ' '.join(str(exc).split()))
        return
    block.data = data
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        plays = [item for item in data if 'hosts' in item or 'import_playbook' in item
                 or 'ansible.builtin.import_playbook' in item]
        if len(plays) == len(data):
            block.kind = 'playbook'
            return
        if plays:
            block.kind = 'invalid'
            block.problems.append('a list that mixes plays and tasks')
            return
        if all(is_task(item) for item in data):
            block.kind = 'tasks'
        else:
            block.kind = 'data'
        return
    if isinstance(data, dict):
        block.kind = 'inventory' if looks_yaml_inventory(data) else 'vars'
        return
    block.kind = 'data'


SHORT_MODULES = frozenset((
    'debug', 'set_fact', 'include_role', 'import_role', 'include_tasks', 'import_tasks', 'assert', 'fail',
    'command', 'shell', 'copy', 'file', 'template', 'user', 'lineinfile', 'stat', 'slurp', 'uri',
    'include_vars', 'pause', 'meta', 'service', 'systemd', 'package', 'apt', 'pip', 'git',
))


def is_task(item):
    """A task: a block, or exactly one key that is a module (a dotted name such as
    omniroute.opencode.provider, or a short builtin name) besides task keywords."""
    if not isinstance(item, dict):
        return False
    if 'block' in item:
        return True
    modules = [k for k in item if k not in TASK_KEYWORDS]
    return len(modules) == 1 and ('.' in str(modules[0]) or modules[0] in SHORT_MODULES)


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads Ansible's ``!vault`` and ``!unsafe`` tags (as plain text)."""


def _tagged(loader, node):
    return loader.construct_scalar(node)


_Loader.add_constructor('!vault', _tagged)
_Loader.add_constructor('!unsafe', _tagged)


def looks_yaml_inventory(data):
    """A YAML inventory: top-level groups, each a mapping with hosts/children/vars (and at least
    one with hosts or children)."""
    if not isinstance(data, dict) or not data:
        return False
    seen = False
    for value in data.values():
        if value is None:
            continue
        if not isinstance(value, dict) or not set(value) <= {'hosts', 'children', 'vars'}:
            return False
        seen = seen or 'hosts' in value or 'children' in value
    return seen


def _looks_ini_inventory(text):
    return bool(re.search(r'^\s*\[[\w:.-]+\]\s*$', text, re.M))


def yaml_inventory_hosts(data):
    """{host: its vars} of a YAML inventory (every group, children included)."""
    hosts = {}

    def walk(group):
        if not isinstance(group, dict):
            return
        for host, hvars in (group.get('hosts') or {}).items():
            hosts.setdefault(str(host), {}).update(hvars or {})
        for child in (group.get('children') or {}).values():
            walk(child)

    for group in (data or {}).values():
        walk(group)
    return hosts


def ini_inventory_hosts(text):
    """{host: its inline vars} of an INI inventory (``[group:vars]`` and ``[group:children]``
    sections name no hosts)."""
    hosts = {}
    section = None
    for raw in text.split('\n'):
        line = raw.split('#', 1)[0].split(';', 1)[0].strip() if not raw.strip().startswith('[') else raw.strip()
        if not line:
            continue
        if line.startswith('['):
            section = line.strip('[]')
            continue
        if section and (section.endswith(':vars') or section.endswith(':children')):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if not words:
            continue
        hvars = {}
        for word in words[1:]:
            key, sep, value = word.partition('=')
            if sep:
                hvars[key] = value
        hosts.setdefault(words[0], {}).update(hvars)
    return hosts


def play_patterns(plays):
    """Every host pattern word of a list of plays (``laptops``, ``developers``, ``localhost``)."""
    out = []
    for play in plays or []:
        value = play.get('hosts') if isinstance(play, dict) else None
        if value is None:
            continue
        words = value if isinstance(value, list) else re.split(r'[,:]', str(value))
        for word in words:
            word = str(word).strip().lstrip('!&')
            if word and word not in out:
                out.append(word)
    return out


def is_local_pattern(word):
    return word in ('localhost', '127.0.0.1')


def names_file(shell_text, name):
    """True when a shell block runs or names the file ``name`` (as a whole word)."""
    base = name.rsplit('/', 1)[-1]
    for candidate in sorted(set((name, base))):
        if re.search(r'(?<![\w./-])(?:\./)?%s(?![\w.-])' % re.escape(candidate), shell_text):
            return True
    return False


def console_commands(text):
    """The commands of a ``console`` block: lines after a ``$ `` prompt, with their ``\\``
    continuations; output lines are dropped."""
    out = []
    lines = text.split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('$ '):
            cmd = [line[2:]]
            while cmd[-1].rstrip().endswith('\\') and i + 1 < len(lines):
                i += 1
                cmd.append(lines[i])
            out.append('\n'.join(cmd))
        i += 1
    return '\n'.join(out) + ('\n' if out else '')


def opencode_variables(data):
    """Every ``opencode_*`` variable name set in a parsed YAML example: top-level keys of a vars
    file, and the ``vars`` of plays, roles, tasks and include_role."""
    found = []

    def add(mapping):
        if isinstance(mapping, dict):
            for key in mapping:
                if isinstance(key, str) and key.startswith('opencode_') and key not in found:
                    found.append(key)

    def walk(node, top=False):
        if isinstance(node, dict):
            if top:
                add(node)
            for key, value in node.items():
                if key == 'vars':
                    add(value)
                if key in ('roles', 'tasks', 'pre_tasks', 'post_tasks', 'block', 'rescue', 'always',
                           'handlers') or isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data, top=isinstance(data, dict))
    return found


def yaml_variable_names(data):
    """Top-level variable names a vars file defines (None for other data)."""
    return list(data) if isinstance(data, dict) else []


JINJA_VAR = re.compile(r'{{-?\s*([A-Za-z_]\w*)')


def referenced_variables(text):
    """Names of the variables an example's Jinja expressions start with (``{{ vault_x[y] }}``
    -> vault_x)."""
    out = []
    for match in JINJA_VAR.finditer(text):
        name = match.group(1)
        if name not in out:
            out.append(name)
    return out


# The project's own test, benchmark and image targets: an example that runs one would start the
# test suite (or a 20-minute build) inside the test suite. Such an example needs skip="...".
SUITE_TARGETS = re.compile(r'^(?:test|test-[\w.-]+|check|bench|bench-[\w.-]+|ee|mutants[\w.-]*|dist-test[\w.-]*)$')
SHELL_OPERATORS = (';', '&&', '||', '|', '&', '(', ')')


def suite_commands(text):
    """The make targets and scripts of the project's own test suite that a shell example runs
    (``make test``, ``make check``, ``make test-molecule``, ``bash .ci/run``...)."""
    found = []
    for line in _logical_lines(text):
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = '#'
            words = list(lexer)
        except ValueError:
            words = line.split()
        i = 0
        while i < len(words):
            word = words[i]
            if word.endswith('.ci/run'):
                found.append(word)
            if word == 'make' or word.endswith('/make'):
                j = i + 1
                while j < len(words) and words[j] not in SHELL_OPERATORS:
                    target = words[j]
                    if words[j] in ('-C', '-f', '-j') and j + 1 < len(words):
                        j += 2
                        continue
                    if not target.startswith('-') and '=' not in target and SUITE_TARGETS.match(target):
                        found.append('make %s' % target)
                    j += 1
                i = j
                continue
            i += 1
    return found


def _logical_lines(text):
    out, current = [], ''
    for line in text.split('\n'):
        if line.rstrip().endswith('\\'):
            current += line.rstrip()[:-1] + ' '
            continue
        out.append(current + line)
        current = ''
    if current:
        out.append(current)
    return out
