# -*- coding: utf-8 -*-
"""The main job is lean (issue 25): `make configure` installs requirements.txt only - ansible-core
in the range the README states, nothing for tests - and the test toolchain sits on top of it."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST_TOOLS = ('pytest', 'hypothesis', 'json5', 'molecule', 'ansible-lint', 'ansible-builder', 'ansible-runner',
              'antsibull')


def read(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return handle.read()


def requirements(name):
    lines = [line.split('#')[0].strip() for line in read(name).splitlines()]
    return [line for line in lines if line]


def test_requirements_hold_ansible_core_in_the_readme_range_and_nothing_for_tests():
    reqs = requirements('requirements.txt')
    names = [re.split(r'[<>=!~\[ ]', r)[0].lower() for r in reqs]
    assert not [n for n in names if n in TEST_TOOLS], reqs
    assert 'ansible-core>=2.16,<2.20' in reqs
    assert 'ansible-core **2.16 to 2.19**' in read('README.md')
    # cryptography 51 deprecates DSA, which ansible-core 2.19 imports: every command warned.
    assert 'cryptography<51' in reqs


def test_the_test_toolchain_sits_on_top_of_the_main_job():
    dev = requirements('requirements-dev.txt')
    assert '-r requirements.txt' in dev
    assert any(r.startswith('pytest') for r in dev) and any(r.startswith('molecule') for r in dev)


def test_make_configure_needs_only_the_main_jobs_virtualenv():
    makefile = read('Makefile')
    target = re.search(r'^configure:(.*)$', makefile, re.M).group(1).split()
    assert target == ['collection-link'], target
    core = read('mk', 'core.mk')
    assert re.search(r'^collection-link: venv-run$', core, re.M)
    assert re.search(r'^\$\(VENV_RUN_STAMP\): requirements.txt$', core, re.M)
    run_recipe = core.split('$(VENV_RUN_STAMP): requirements.txt', 1)[1].split('\n\n', 1)[0]
    assert 'requirements-dev.txt' not in run_recipe
