import os
import secrets
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import REPO, Sandbox, seed_data  # noqa: E402
# The shared fixtures of the suites that run the real parts (tests/support).
from ansible_collections.omniroute.opencode.tests.support.opencode import opencode_bin, opencode_version  # noqa: E402,F401 pylint: disable=unused-import

RESULTS = os.path.join(REPO, '.build', 'opencode-report')


@pytest.fixture
def api_key():
    """A fresh key per test; every captured output is grepped for it."""
    return 'sk-or-test-' + secrets.token_hex(16)


@pytest.fixture(scope='session')
def opencode_seed(tmp_path_factory, opencode_bin):
    """OpenCode's database after a first start, made once per test process (harness.seed_data)."""
    return seed_data(opencode_bin, str(tmp_path_factory.mktemp('opencode-seed')))


@pytest.fixture
def sandbox_factory(tmp_path, opencode_bin, opencode_seed):
    """``make(tag='s', env=None, cwd='work', fresh=False)``: a new Sandbox under the test's
    tmp_path. Its data directory holds the database OpenCode's first start made (opencode_seed),
    unless ``fresh``: then OpenCode starts there for the first time."""
    def make(tag='s', env=None, cwd='work', fresh=False):
        root = str(tmp_path / tag)
        os.makedirs(root)
        return Sandbox(root, opencode_bin, env=env, cwd=cwd, seed=None if fresh else opencode_seed)

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
