# -*- coding: utf-8 -*-
"""An https ``/v1/models`` gateway with a self-signed certificate for 127.0.0.1.

``validate_certs`` has an effect only against a server whose certificate the client cannot
verify: with the default (true) the request fails, with false it goes through. The certificate
is made with the ``openssl`` command for each test that needs one, in its temporary directory;
the server is the routed test server (tests/support/http_server.py) with TLS.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib

from ansible_collections.omniroute.opencode.tests.support.http_server import self_signed
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import models_gateway

__all__ = ['self_signed', 'https_models_gateway']


@contextlib.contextmanager
def https_models_gateway(directory, key, models):
    """An https ``/v1/models`` server on 127.0.0.1 with a self-signed certificate made in
    ``directory``: ``key`` sees ``models``, any other key gets 401. Yields ``(base_url, seen)``."""
    with models_gateway(key, models, tls=self_signed(directory)) as (url, seen):
        yield url, seen
