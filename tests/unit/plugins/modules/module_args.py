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


def run_module(main, capsys, args, check=False, diff=False):
    """Run ``main`` with ``args`` (check and diff mode as asked); return (rc, result, raw stdout)."""
    args = dict(args)
    if check:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out), out


@contextlib.contextmanager
def models_gateway(key, models):
    """A 127.0.0.1 ``/v1/models`` server: ``key`` sees ``models``, any other key gets 401.

    Yields ``(base_url, seen)``; ``seen`` collects ``(path, Authorization)`` per request.
    """
    import http.server
    import threading

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get('Authorization')))
            if self.headers.get('Authorization') != 'Bearer ' + key:
                body, code = json.dumps({'error': {'message': 'Invalid API key'}}).encode(), 401
            else:
                body, code = json.dumps({'object': 'list', 'data': list(models)}).encode(), 200
            self.send_response(code)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_port, seen
    finally:
        server.shutdown()
        server.server_close()
