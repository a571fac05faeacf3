# -*- coding: utf-8 -*-
"""A real OmniRoute server for the suites that test against one (tests/opencode, tests/gateway,
tests/docs).

The server is started by the project's own script (tests/setup/omniroute.sh: 127.0.0.1 only,
REQUIRE_API_KEY=true, a scratch state directory with a random admin password in a 0600 file),
logged in to through the collection's own management client, and stopped at the end of the test
module whatever the outcome.

Each suite gives its server its own port and state directory, so suites running side by side
(the two lanes of `make test`) never share one; under pytest-xdist each worker adds 10 to the
port, so two workers never start two servers on one port and state (the first worker's teardown
would otherwise stop the server the second is still using). A suite's conftest makes its fixture
with :func:`server_fixture`.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _omniroute_api
from ansible_collections.omniroute.opencode.tests.support import omniroute_db

# The clone itself, not the collection link in .build/collections it is imported through.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
SCRIPT = os.path.join(REPO, 'tests', 'setup', 'omniroute.sh')
# Next.js starts in 10-30 s on an idle machine; the script itself gives up after 300 s, and a
# first run also installs the server (minutes).
START_TIMEOUT = 1800
STOP_TIMEOUT = 120


def worker_index():
    """0 outside pytest-xdist, N on worker ``gwN``."""
    worker = os.environ.get('PYTEST_XDIST_WORKER', 'gw0')
    return int(worker[2:] or 0)


def place(suite, port_variable, default_port):
    """``(port, state)`` of ``suite``'s server on this worker: the port from ``$port_variable``
    (default ``default_port``) plus 10 per xdist worker, and ``.build/omniroute-<suite>-<port>``."""
    port = int(os.environ.get(port_variable) or default_port) + 10 * worker_index()
    return port, os.path.join(REPO, '.build', 'omniroute-%s-%d' % (suite, port))


class OmniRoute(object):
    """One server: ``url``, ``password`` (the admin's), ``client`` (logged in)."""

    def __init__(self, port, state):
        self.port = port
        self.state = state
        self.env = dict(os.environ, OMNIROUTE_PORT=str(port), OMNIROUTE_STATE=state)
        self.url = self.password = self.client = None

    def start(self):
        out = subprocess.run(['bash', SCRIPT, 'start'], env=self.env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                             timeout=START_TIMEOUT, check=False)
        if out.returncode != 0:
            raise AssertionError('OmniRoute did not start on port %d:\n%s' % (self.port, out.stderr[-2000:]))
        info = dict(line.split('=', 1) for line in out.stdout.split() if '=' in line)
        self.url = info['OMNIROUTE_URL']
        with open(info['OMNIROUTE_PASSWORD_FILE']) as handle:
            self.password = handle.read().strip()
        self.client = _omniroute_api.Client(self.url, password=self.password)
        self.client.login()
        omniroute_db.track(self.state)
        return self

    def issued_keys(self):
        """Every key the server made since it started here, revoked ones included (for the leak
        checks: tests/support/omniroute_db.py)."""
        return omniroute_db.issued(self.state)

    def stop(self):
        """Stop the server (nothing happens when it is not running)."""
        subprocess.run(['bash', SCRIPT, 'stop'], env=self.env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=STOP_TIMEOUT, check=False)

    def listing(self, key):
        """The server's own ``/v1/models`` answer for ``key`` (the ``data`` list): the oracle
        tests compare the modules' catalogs with."""
        import urllib.request
        request = urllib.request.Request(self.url + '/v1/models', headers={'Authorization': 'Bearer ' + key})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.load(resp)['data']


def server_fixture(suite, port_variable, default_port):
    """A module-scoped ``omniroute`` fixture for a suite's conftest::

        omniroute = server_fixture('gateway', 'GATEWAY_TEST_PORT', 20148)

    It yields a started :class:`OmniRoute` and stops it after the test module.
    """
    @pytest.fixture(scope='module')
    def omniroute():
        server = OmniRoute(*place(suite, port_variable, default_port))
        try:
            yield server.start()
        finally:
            server.stop()
    return omniroute
