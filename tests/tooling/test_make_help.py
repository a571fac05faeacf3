"""`make help` lists every target of the Makefile and mk/*.mk, each in one line."""

import glob
import os
import re
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAKEFILES = [os.path.join(REPO, 'Makefile')] + sorted(glob.glob(os.path.join(REPO, 'mk', '*.mk')))


def read(path):
    with open(path) as handle:
        return handle.read()


def rule_targets():
    """Every target that has a rule (``name:`` at the start of a line; not file targets)."""
    found = []
    for path in MAKEFILES:
        found += re.findall(r'^([a-z][a-z0-9_-]*):(?!=)', read(path), re.M)
    return found


def phony_targets():
    found = []
    for path in MAKEFILES:
        for line in re.findall(r'^\.PHONY:(.*)$', read(path), re.M):
            found += line.split()
    return found


def help_lines():
    out = subprocess.run(['make', '--no-print-directory', '-C', REPO, 'help'], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         timeout=60, check=True)
    return [line for line in out.stdout.splitlines() if line.startswith('  make ')]


def test_every_target_is_listed_once_with_what_it_does():
    listed = {}
    for line in help_lines():
        match = re.match(r'^  make (\S+) +(\S.*)$', line)
        assert match, 'a help line without a description: %r' % line
        assert match.group(1) not in listed, '%s is documented twice' % match.group(1)
        listed[match.group(1)] = match.group(2)
    targets = rule_targets()
    assert sorted(set(targets)) == sorted(targets), 'a target has two rules'
    assert sorted(listed) == sorted(targets)


def test_every_phony_target_has_a_rule():
    assert sorted(set(phony_targets()) - set(rule_targets())) == []


def test_each_target_is_documented_in_one_line():
    """A `#   make` line is followed by another one or by a plain comment, never by a wrapped
    continuation (`#` and more than three spaces), which `make help` would not show."""
    for path in MAKEFILES:
        lines = read(path).splitlines()
        for number, line in enumerate(lines[:-1]):
            if line.startswith('#   make '):
                assert not re.match(r'^# {4,}\S', lines[number + 1]), '%s:%d wraps onto the next line' % (
                    os.path.relpath(path, REPO), number + 2)
