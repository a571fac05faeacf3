"""Key resolution proven end to end: module -> OpenCode -> a real OmniRoute server.

The server (tests/setup/omniroute.sh, REQUIRE_API_KEY=true, 127.0.0.1 only) gets its own port
and state directory. A key it issued is installed by the module; `opencode run` then sends a
chat request. OmniRoute answers an unknown key with "Invalid API key", no key with
"Authentication required"; a key it accepts gets
past authentication to routing, which fails here with "No credentials for provider: ..."
because the scratch server has no upstream account. The two answers tell whether the key
OpenCode resolved is the one the server issued."""

import importlib.util
import os
import subprocess

import pytest

from harness import REPO

# The corpus runs under pytest-xdist. A module-scoped fixture is set up once per worker, so
# both tests here are kept on one worker (xdist_group, `--dist loadgroup`): otherwise a second
# worker starts its own server on the same port and state, and the first worker's teardown
# stops the server the second is still using (seen in CI: "Connection refused" mid-test).
# The port and state still carry the worker's name, so a run without the group cannot collide.
WORKER = os.environ.get('PYTEST_XDIST_WORKER', 'gw0')
PORT = str(int(os.environ.get('OPENCODE_TEST_OMNIROUTE_PORT', '20147')) + 10 * int(WORKER[2:] or 0))
STATE = os.path.join(REPO, '.build', 'opencode-omniroute-' + WORKER)
pytestmark = pytest.mark.xdist_group('omniroute-server')
REJECTED = 'Invalid API key'
ACCEPTED = 'No credentials for provider'
MISSING = 'Authentication required'


def _api():
    path = os.path.join(REPO, 'plugins', 'module_utils', '_omniroute_api.py')
    spec = importlib.util.spec_from_file_location('omniroute_api_for_tests', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def omniroute():
    script = os.path.join(REPO, 'tests', 'setup', 'omniroute.sh')
    env = dict(os.environ, OMNIROUTE_PORT=PORT, OMNIROUTE_STATE=STATE)
    out = subprocess.run(['bash', script, 'start'], env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert out.returncode == 0, 'OmniRoute did not start:\n' + out.stderr[-2000:]
    info = dict(line.split('=', 1) for line in out.stdout.split() if '=' in line)
    try:
        with open(info['OMNIROUTE_PASSWORD_FILE']) as f:
            client = _api().Client(info['OMNIROUTE_URL'], password=f.read().strip())
        client.login()
        yield client
    finally:
        subprocess.run(['bash', script, 'stop'], env=env, capture_output=True, timeout=120, check=False)


@pytest.fixture
def issued_key(omniroute):
    record = omniroute.create_key('opencode-compat-%s' % os.urandom(4).hex())
    yield record['key']
    omniroute.delete_key(record['id'])


def chat(sb, env=None):
    proc = sb.run_opencode('run', '-m', 'omniroute/auto', 'reply with one word', env=env, timeout=180)
    return proc.stdout + proc.stderr


@pytest.mark.parametrize('key_store', ['config', 'auth'])
def test_issued_key_is_accepted(sandbox_factory, omniroute, issued_key, key_store):
    sb = sandbox_factory()
    res = sb.module_and_twin({'base_url': omniroute.url, 'api_key': issued_key, 'models': ['auto'],
                              'key_store': key_store})
    assert res['changed'] and res['base_url'] == omniroute.url + '/v1'
    out = chat(sb)
    assert ACCEPTED in out and REJECTED not in out, out[-500:]
    # Control: the same config with a key OmniRoute never issued is rejected.
    wrong = 'sk-never-issued-' + os.urandom(8).hex()
    res = sb.module_and_twin({'base_url': omniroute.url, 'api_key': wrong, 'models': ['auto'], 'key_store': key_store})
    assert res['changed'] and res['auth_changed'] == (key_store == 'auth'), res.get('changes')
    out = chat(sb)
    assert REJECTED in out, out[-500:]
    sb.assert_no_secret(issued_key, wrong)


def test_env_reference_is_accepted(sandbox_factory, omniroute, issued_key):
    sb = sandbox_factory()
    sb.module_and_twin({'base_url': omniroute.url, 'api_key': '{env:OMNIROUTE_API_KEY}', 'models': ['auto']})
    out = chat(sb, env={'OMNIROUTE_API_KEY': issued_key})
    assert ACCEPTED in out and REJECTED not in out, out[-500:]
    out = chat(sb)  # variable unset: OpenCode substitutes "" and sends no key at all
    assert MISSING in out and ACCEPTED not in out, out[-500:]
    sb.assert_no_secret(issued_key)
