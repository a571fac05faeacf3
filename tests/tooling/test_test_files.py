"""Test file names are unique across tests/, so any set of suites collects in one pytest run
(pytest imports a test file outside a package by its base name: two `test_keys.py` collide)."""

import collections
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_test_file_names_are_unique():
    seen = collections.defaultdict(list)
    for folder, dirs, files in os.walk(os.path.join(REPO, 'tests')):
        dirs[:] = [d for d in dirs if d not in ('output', '__pycache__') and not d.startswith('.')]
        for name in files:
            if name.startswith('test_') and name.endswith('.py'):
                seen[name].append(os.path.relpath(os.path.join(folder, name), REPO))
    assert dict((name, paths) for name, paths in seen.items() if len(paths) > 1) == {}
