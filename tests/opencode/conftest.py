import os
import secrets
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import REPO, Sandbox  # noqa: E402

RESULTS = os.path.join(REPO, '.build', 'opencode-report')


@pytest.fixture(scope='session')
def opencode_bin():
    """The real OpenCode native binary, installed by the project's own setup script."""
    path = os.environ.get('OPENCODE_BIN')
    if not path:
        path = subprocess.run(['bash', os.path.join(REPO, 'tests', 'setup', 'opencode.sh')],
                              check=True, capture_output=True, text=True).stdout.strip()
    assert os.access(path, os.X_OK), path
    return path


@pytest.fixture(scope='session')
def opencode_version(opencode_bin):
    out = subprocess.run([opencode_bin, '--version'], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def api_key():
    """A fresh key per test; every captured output is grepped for it."""
    return 'sk-or-test-' + secrets.token_hex(16)


@pytest.fixture
def sandbox_factory(tmp_path, opencode_bin):
    made = []

    def make(tag='s', env=None, cwd='work', via='provider'):
        root = str(tmp_path / tag)
        os.makedirs(root)
        sb = Sandbox(root, opencode_bin, env=env, cwd=cwd, via=via)
        made.append(sb)
        return sb

    make.made = made
    return make


@pytest.fixture(scope='session')
def results():
    """Per-case observations, written for docs/opencode-compat.md."""
    os.makedirs(RESULTS, exist_ok=True)
    return RESULTS


def pytest_collection_modifyitems(session, config, items):
    """Longest work first: the tests pinned to one worker (xdist_group: the OmniRoute server
    tests, about a minute together), then the corpus cases, then the short tests. On two
    workers the run then ends with short tests, not with one worker alone on a long one."""
    def rank(item):
        if item.get_closest_marker('xdist_group'):
            return 0
        return 1 if item.module.__name__ == 'test_corpus' else 2
    items.sort(key=rank)
