# -*- coding: utf-8 -*-
"""The one check that no secret appears in what a test captured.

Used by the unit tests (module output) and by the sandboxes of tests/opencode and tests/gateway
(every labelled output of a test). A failure names the output and which secret it was, never
the secret itself, so a failing test does not print a key either.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json


def forms(secret):
    """The ways ``secret`` can be written in an output: as is, and JSON-escaped."""
    escaped = json.dumps(secret)[1:-1]
    return [secret] if escaped == secret else [secret, escaped]


def assert_no_secret(outputs, *secrets):
    """Fail when any of ``secrets`` is in ``outputs``: one text, or ``(label, text)`` pairs.

    Empty secrets (None, '') are skipped. Raised explicitly rather than with ``assert``, so that
    pytest's assertion rewriting never shows the values.
    """
    if isinstance(outputs, (str, bytes)):
        outputs = [('the output', outputs)]
    outputs = [(label, text.decode('utf-8', 'replace') if isinstance(text, bytes) else text)
               for label, text in outputs]
    real = [s for s in secrets if s]
    for number, secret in enumerate(real, 1):
        for label, text in outputs:
            if any(form in text for form in forms(secret)):
                raise AssertionError('secret %d of %d (%d characters) appeared in %s'
                                     % (number, len(real), len(secret), label))
