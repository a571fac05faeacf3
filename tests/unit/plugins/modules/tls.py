# -*- coding: utf-8 -*-
"""A self-signed certificate for 127.0.0.1, and local HTTP servers that speak TLS with it.

``validate_certs`` has an effect only against a server whose certificate the client cannot
verify: with the default (true) the request fails, with false it goes through. The certificate
is made with the ``openssl`` command for each test that needs one, in its temporary directory.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import http.server
import json
import os
import ssl
import subprocess
import threading

__all__ = ['self_signed', 'wrap', 'https_models_gateway']


def self_signed(directory):
    """``(certfile, keyfile)`` of a new self-signed certificate for 127.0.0.1 in ``directory``."""
    certfile, keyfile = os.path.join(str(directory), 'cert.pem'), os.path.join(str(directory), 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                    '-nodes', '-days', '2', '-subj', '/CN=omniroute-opencode test gateway',
                    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyfile, '-out', certfile],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return certfile, keyfile


def wrap(httpd, certfile, keyfile):
    """Make ``httpd`` (not yet serving) answer over TLS with the given certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    return httpd


@contextlib.contextmanager
def https_models_gateway(directory, key, models):
    """An https ``/v1/models`` server on 127.0.0.1 with a self-signed certificate: ``key`` sees
    ``models``, any other key gets 401. Yields ``(base_url, seen)``."""
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

    certfile, keyfile = self_signed(directory)
    server = wrap(http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler), certfile, keyfile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'https://127.0.0.1:%d' % server.server_port, seen
    finally:
        server.shutdown()
        server.server_close()
