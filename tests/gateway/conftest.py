"""Fixtures for the gateway-aware catalog tests: a real OmniRoute set up through its own API,
the real OpenCode CLI, the module run through Ansible (harness from tests/opencode)."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'opencode'))

from harness import REPO, Sandbox  # noqa: E402
import secret_scrub  # noqa: E402  (tests/, on the path through tests/conftest.py)

SCRIPT = os.path.join(REPO, 'tests', 'setup', 'omniroute.sh')
PORT = os.environ.get('GATEWAY_TEST_PORT', '20148')
STATE = os.environ.get('GATEWAY_TEST_STATE', os.path.join(REPO, '.build', 'omniroute-%s' % PORT))
RESULTS = os.path.join(REPO, '.build', 'gateway-report')
# The restricted key's policy: a combo and a glob that also matches two audio models.
ALLOWED = ['team-fast', 'openai/gpt-4o*']


def _api():
    path = os.path.join(REPO, 'plugins', 'module_utils', '_omniroute_api.py')
    spec = importlib.util.spec_from_file_location('omniroute_api_for_gateway_tests', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Gateway(object):
    """The running server, its admin client, the keys issued for the tests."""

    def __init__(self, env):
        self.env = env
        self.running = False
        self.client = None
        self.keys = {}

    def start(self):
        out = subprocess.run(['bash', SCRIPT, 'start'], env=self.env, capture_output=True, text=True,
                             timeout=1800, check=False)
        assert out.returncode == 0, 'OmniRoute did not start:\n' + out.stderr[-2000:]
        info = dict(line.split('=', 1) for line in out.stdout.split() if '=' in line)
        self.url = info['OMNIROUTE_URL']
        with open(info['OMNIROUTE_PASSWORD_FILE']) as f:
            self.password = f.read().strip()
        secret_scrub.register(self.password)  # never in a failing test's report
        self.running = True

    def stop(self):
        subprocess.run(['bash', SCRIPT, 'stop'], env=self.env, capture_output=True, timeout=120, check=False)
        self.running = False

    def provision(self):
        """Everything through OmniRoute's API: a provider connection, a combo, two keys."""
        self.client = _api().Client(self.url, password=self.password)
        self.client.login()
        self.client._call('POST', '/api/providers', body={'provider': 'openai', 'apiKey': 'sk-upstream-unused',
                                                          'name': 'gateway-tests'})
        self.client._call('POST', '/api/combos', body={'name': 'team-fast',
                                                       'models': [{'model': 'openai/gpt-4o-mini'}]})
        full = self.client.create_key('gateway-full')
        restricted = self.client.create_key('gateway-restricted')
        self.client.update_key(restricted['id'], {'allowedModels': ALLOWED})
        self.keys = {'full': full['key'], 'restricted': restricted['key']}
        secret_scrub.register(*self.keys.values())

    def listing(self, key):
        """The gateway's own /v1/models answer for ``key`` (the oracle the tests compare with)."""
        import urllib.request
        req = urllib.request.Request(self.url + '/v1/models', headers={'Authorization': 'Bearer ' + key})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)['data']


@pytest.fixture(scope='session')
def gateway():
    env = dict(os.environ, OMNIROUTE_PORT=PORT, OMNIROUTE_STATE=STATE)
    gw = Gateway(env)
    gw.start()
    try:
        gw.provision()
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope='session')
def opencode_bin():
    path = os.environ.get('OPENCODE_BIN')
    if not path:
        path = subprocess.run(['bash', os.path.join(REPO, 'tests', 'setup', 'opencode.sh')],
                              check=True, capture_output=True, text=True).stdout.strip()
    assert os.access(path, os.X_OK), path
    return path


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
