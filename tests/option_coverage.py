"""Every documented option and role variable is set by at least one test (issue 26).

  option_coverage.py           list the options no test sets; exit 1 when there is one
  option_coverage.py --where   also say, for each option, which test files set it

What counts as an option (generated, nothing listed by hand):
  - a module's options: the argument spec each module in plugins/modules hands to AnsibleModule
    (captured by running its main() against a stand-in AnsibleModule), suboptions included and
    named ``parent.sub``. The file options that ``add_file_common_args`` adds (mode, owner...) are
    ansible-core's own and not counted;
  - the role's variables: every option of every entry point in
    roles/opencode/meta/argument_specs.yml, suboptions included.

What "set by a test" means:
  - a test file is any file under tests/, roles/opencode/molecule/ or roles/opencode/tests/
    (this script aside);
  - a test file runs a module when it names it by its FQCN (``omniroute.opencode.<module>``) or
    imports it (``plugins.modules import <module>`` / ``plugins.modules.<module>``); a corpus case
    (tests/corpus/*/case.json) runs ``provider`` (tests/plan and tests/opencode run its params), and
    a file that imports tests/opencode/harness.py runs ``provider`` and ``users`` (its Sandbox runs
    both);
  - a module option is set when a test file that runs the module has the option's name as a key:
    ``'name':`` or ``"name":`` (Python, JSON), ``name:`` (YAML), or ``name=`` (a keyword argument);
    a suboption likewise, in a file that also sets its parent;
  - a role variable is set when any test file has it as a key; a role suboption when a test
    file sets its parent variable and has the suboption's name as a key.
The tests that set an option check its effect; this script only finds the options nobody sets.
"""
import argparse
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SELF = os.path.abspath(__file__)
ROLE_SPECS = os.path.join(ROOT, 'roles', 'opencode', 'meta', 'argument_specs.yml')
TEST_DIRS = ['tests', os.path.join('roles', 'opencode', 'molecule'), os.path.join('roles', 'opencode', 'tests')]
TEXT_EXT = ('.py', '.yml', '.yaml', '.json', '.sh', '.j2', '.cfg', '.ini', '.txt', '.plain', '.jsonc')


class _Captured(Exception):
    def __init__(self, spec):
        super(_Captured, self).__init__('argument spec captured')
        self.spec = spec


class _StandIn(object):
    """Takes AnsibleModule's place: records the argument spec and stops main()."""

    def __init__(self, argument_spec=None, **_kwargs):
        raise _Captured(argument_spec or {})


def module_specs():
    """``{module: {option: spec}}`` for every module of the collection."""
    collections = os.path.join(ROOT, '.build', 'collections')
    link = os.path.join(collections, 'ansible_collections', 'omniroute', 'opencode')
    if not os.path.lexists(link):
        os.makedirs(os.path.dirname(link))
        os.symlink(ROOT, link)
    sys.path.insert(0, collections)
    import importlib
    specs = {}
    for name in sorted(os.listdir(os.path.join(ROOT, 'plugins', 'modules'))):
        if not name.endswith('.py') or name.startswith('_'):
            continue
        module = name[:-3]
        mod = importlib.import_module('ansible_collections.omniroute.opencode.plugins.modules.' + module)
        mod.AnsibleModule = _StandIn
        try:
            mod.main()
        except _Captured as captured:
            specs[module] = captured.spec
        else:
            raise SystemExit('%s: main() did not build an AnsibleModule' % module)
    return specs


def flatten(spec, prefix=''):
    """``[(dotted name, leaf name, parent dotted name or None)]`` for options and suboptions."""
    out = []
    for option, body in sorted((spec or {}).items()):
        dotted = prefix + option
        out.append((dotted, option, prefix[:-1] or None))
        out.extend(flatten((body or {}).get('options'), dotted + '.'))
    return out


def role_options():
    with open(ROLE_SPECS) as handle:
        data = yaml.safe_load(handle)
    out = []
    for entry, body in sorted(data['argument_specs'].items()):
        out.extend((entry, dotted, leaf, parent) for dotted, leaf, parent in flatten(body.get('options')))
    return out


def test_files():
    files = {}
    for top in TEST_DIRS:
        for directory, dirs, names in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(d for d in dirs if d not in ('__pycache__', 'output', '.pytest_cache'))
            for name in sorted(names):
                path = os.path.join(directory, name)
                if os.path.abspath(path) == SELF or not name.endswith(TEXT_EXT):
                    continue
                with open(path, encoding='utf-8', errors='replace') as handle:
                    files[os.path.relpath(path, ROOT)] = handle.read()
    return files


def key_pattern(name):
    """``name`` used as a key: quoted or bare, then ``:`` (mapping) or ``=`` (keyword, not ``==``)."""
    return re.compile(r'''(?<![\w.$-])\\?["']?%s\\?["']?\s*(?::(?!:)|=(?!=))''' % re.escape(name))


def runs(text, path, module):
    if path.startswith(os.path.join('tests', 'corpus') + os.sep) and path.endswith('case.json'):
        return module == 'provider'
    if re.search(r'(?<![\w.])omniroute\.opencode\.%s\b' % re.escape(module), text):
        return True
    if re.search(r'plugins\.modules\.%s\b' % re.escape(module), text):
        return True
    for names in re.findall(r'plugins\.modules import \(?([\w, \n]+)', text):
        if module in re.split(r'[\s,]+', names):
            return True
    # tests/opencode/harness.py's Sandbox.module runs provider, and its users twin.
    return module in ('provider', 'users') and bool(re.search(r'^from harness import|^import harness', text, re.M))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--where', action='store_true', help='say which files set each option')
    args = parser.parse_args()
    files = test_files()
    keyed = {}

    def setters(name, candidates):
        pattern = keyed.setdefault(name, key_pattern(name))
        return [p for p in candidates if pattern.search(files[p])]

    missing, found = [], []
    for module, spec in sorted(module_specs().items()):
        running = [p for p in sorted(files) if runs(files[p], p, module)]
        for dotted, leaf, parent in flatten(spec):
            candidates = running if parent is None else setters(parent.split('.')[-1], running)
            where = setters(leaf, candidates)
            label = 'module %s: %s' % (module, dotted)
            (found if where else missing).append((label, where))
    for entry, dotted, leaf, parent in role_options():
        candidates = sorted(files) if parent is None else setters(parent.split('.')[-1], sorted(files))
        where = setters(leaf, candidates)
        label = 'role %s: %s' % ('variable' if entry == 'main' else 'entry point %s,' % entry, dotted)
        (found if where else missing).append((label, where))

    if args.where:
        for label, where in found:
            print('%s  <- %s' % (label, ', '.join(where[:4]) + (' ...' if len(where) > 4 else '')))
    total = len(found) + len(missing)
    if missing:
        print('option coverage: %d of %d documented options and variables are set by no test:'
              % (len(missing), total))
        for label, _where in missing:
            print('  ' + label)
        print('(set each in a test that checks its effect; see tests/option_coverage.py for what counts)')
        return 1
    print('option coverage: all %d documented options and variables are set by a test' % total)
    return 0


if __name__ == '__main__':
    sys.exit(main())
