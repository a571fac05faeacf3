# -*- coding: utf-8 -*-
"""Run a module's main() with given arguments, on every ansible-core the collection claims."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json

import pytest

__all__ = ['models_gateway', 'patch_module_args', 'run_module']

try:  # ansible-core 2.19+
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core 2.16 - 2.18: the arguments are read from basic._ANSIBLE_ARGS
    @contextlib.contextmanager
    def patch_module_args(args=None):
        from ansible.module_utils import basic
        from ansible.module_utils.common.text.converters import to_bytes
        old = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args or {}}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old


@contextlib.contextmanager
def module_side():
    """Run as a module runs on a target, even when an earlier test of this process imported
    controller code (ansible-core 2.19+ then sends module warnings to the controller's display
    instead of the module result)."""
    try:
        from ansible.module_utils import _internal
    except ImportError:  # ansible-core 2.16 - 2.18
        yield
        return
    old = getattr(_internal, 'is_controller', False)
    _internal.is_controller = False
    try:
        yield
    finally:
        _internal.is_controller = old


def run_module(main, capsys, args, check=False, diff=False):
    """Run ``main`` with ``args`` (check and diff mode as asked); return (rc, result, raw stdout).
    Each run starts without the warnings of earlier runs: Ansible collects a module's warnings per
    process, and a target runs each module in a process of its own."""
    from ansible.module_utils.common import warnings
    warnings._global_warnings.clear()
    args = dict(args)
    if check:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args), module_side():
        with pytest.raises(SystemExit) as exc:
            main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out), out


class _Seen(object):
    """``(path, Authorization)`` of every request the server got so far (a live view)."""

    def __init__(self, server):
        self.server = server

    def __iter__(self):
        return iter([(r.path, r.headers.get('authorization')) for r in self.server.requests])

    def __len__(self):
        return len(self.server.requests)

    def __getitem__(self, index):
        return list(self)[index]

    def __eq__(self, other):
        return list(self) == list(other)

    def __ne__(self, other):
        return not self == other

    __hash__ = None


@contextlib.contextmanager
def models_gateway(key, models, tls=None):
    """A 127.0.0.1 ``/v1/models`` server (the routed test server): ``key`` sees ``models``, any
    other key gets 401; https with ``tls=(certfile, keyfile)``.  Yields ``(base_url, seen)``;
    ``seen`` lists ``(path, Authorization)`` of every request."""
    from ansible_collections.omniroute.opencode.tests.support.http_server import Server, models_route

    with Server({'/v1/models': models_route(key, models)}, tls=tls) as server:
        yield server.url, _Seen(server)
