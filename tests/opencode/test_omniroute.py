"""Key resolution proven end to end: module -> OpenCode -> a real OmniRoute server.

The server (tests/setup/omniroute.sh, REQUIRE_API_KEY=true, 127.0.0.1 only) gets its own port
and state directory. A key it issued is installed by the module; `opencode run` then sends a
chat request. OmniRoute answers an unknown key with "Invalid API key", no key with
"Authentication required"; a key it accepts gets
past authentication to routing, which fails here with "No credentials for provider: ..."
because the scratch server has no upstream account. The two answers tell whether the key
OpenCode resolved is the one the server issued."""

import os

import pytest

from ansible_collections.omniroute.opencode.tests.support.omniroute import server_fixture

# The corpus runs under pytest-xdist. The server fixture is module-scoped, which is once per
# worker, so both tests here are kept on one worker (xdist_group, `--dist loadgroup`): otherwise
# a second worker would start a second server for nothing. The port still carries the worker
# (tests/support/omniroute.py), so a run without the group cannot collide.
# Port $OPENCODE_TEST_OMNIROUTE_PORT (default 20147) plus 10 per worker; state in
# .build/omniroute-opencode-<port>.
omniroute = server_fixture('opencode', 'OPENCODE_TEST_OMNIROUTE_PORT', 20147)
pytestmark = pytest.mark.xdist_group('omniroute-server')
REJECTED = 'Invalid API key'
ACCEPTED = 'No credentials for provider'
MISSING = 'Authentication required'


@pytest.fixture
def issued_key(omniroute):
    record = omniroute.client.create_key('opencode-compat-%s' % os.urandom(4).hex())
    yield record['key']
    omniroute.client.delete_key(record['id'])


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
