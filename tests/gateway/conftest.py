"""Fixtures for the gateway-aware catalog tests: a real OmniRoute set up through its own API,
the real OpenCode CLI, the module run through Ansible (harness from tests/opencode; the server
and the OpenCode binary from tests/support)."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'opencode'))

from harness import REPO, Sandbox  # noqa: E402
import secret_scrub  # noqa: E402  (tests/, on the path through tests/conftest.py)
from ansible_collections.omniroute.opencode.tests.support.omniroute import server_fixture  # noqa: E402
from ansible_collections.omniroute.opencode.tests.support.opencode import opencode_bin  # noqa: E402,F401 pylint: disable=unused-import

RESULTS = os.path.join(REPO, '.build', 'gateway-report')
# The restricted key's policy: a combo and a glob that also matches two audio models.
ALLOWED = ['team-fast', 'openai/gpt-4o*']

# Port $GATEWAY_TEST_PORT (default 20148, mk/gateway.mk), state in .build/omniroute-gateway-<port>.
omniroute = server_fixture('gateway', 'GATEWAY_TEST_PORT', 20148)


class Gateway(object):
    """The suite's server (tests/support/omniroute.py) as the tests see it: ``url``, ``password``,
    ``keys`` (``full``, and ``restricted`` to the models of ``allowed``), ``listing(key)`` and
    ``stop()``."""

    def __init__(self, server, keys):
        self.server = server
        self.url = server.url
        self.password = server.password
        self.keys = keys
        self.allowed = list(ALLOWED)

    def listing(self, key):
        return self.server.listing(key)

    def stop(self):
        self.server.stop()


@pytest.fixture(scope='module')
def gateway(omniroute):
    """The server, set up through OmniRoute's own API: a provider connection, a combo, two keys."""
    client = omniroute.client
    client._call('POST', '/api/providers', body={'provider': 'openai', 'apiKey': 'sk-upstream-unused',
                                                 'name': 'gateway-tests'})
    client._call('POST', '/api/combos', body={'name': 'team-fast', 'models': [{'model': 'openai/gpt-4o-mini'}]})
    full = client.create_key('gateway-full')
    restricted = client.create_key('gateway-restricted')
    client.update_key(restricted['id'], {'allowedModels': ALLOWED})
    secret_scrub.register(omniroute.password, full['key'], restricted['key'])  # never in a failing test's report
    return Gateway(omniroute, {'full': full['key'], 'restricted': restricted['key']})


@pytest.fixture
def sandbox(tmp_path, opencode_bin, gateway):
    sb = Sandbox(str(tmp_path / 's'), opencode_bin)
    yield sb
    # Every output captured in the test (module results, warnings, diffs, OpenCode) is searched
    # for every key and for the admin password.
    sb.assert_no_secret(gateway.password, *gateway.keys.values())


@pytest.fixture(scope='session')
def results():
    os.makedirs(RESULTS, exist_ok=True)
    return RESULTS
