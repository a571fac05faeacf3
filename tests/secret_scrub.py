"""No key in a failing test's report (issue 26): what pytest prints about a failure is scrubbed.

A failing ``assert KEY not in out`` would print the key and the output around it; so would an
``assert sent == {'Bearer ' + api_key}``. tests/conftest.py hands every failed report through
:func:`scrub` before pytest prints it, so a failure shows a masked form (``sk-t...(19 chars)``)
instead. The secrets of a test are found without the test's help:

- every string (or dict/list/tuple of strings) that the test's module defines under a
  secret-looking name (``KEY``, ``OLD_KEY``, ``PASSWORD``, ``FILE_SECRETS``...);
- every fixture value of the test under such a name (``api_key``, ``password``...);
- every secret a test registered with :func:`register` (keys made at run time);
- anything shaped like an OpenAI-style key: ``sk-`` and at least 8 more characters.
"""
import re

import pytest

# Names of module constants and fixtures that hold secrets (KEY, OLD_KEY, api_key, PASSWORD,
# FILE_SECRETS; not KEY_NAME).
_SECRET_NAME = re.compile(r'(?:^|_)(?:keys?|secrets?|passwords?|passwd|pw|tokens?|cookies?|credentials?)$', re.I)
# Key-shaped text (OmniRoute's and the tests' keys are sk-...).
_KEY_SHAPE = re.compile(r'sk-[A-Za-z0-9][A-Za-z0-9_-]{7,}')
_registered = set()


def register(*secrets):
    """Mask these (made at run time, e.g. keys a server issued) in every failure report."""
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= 6:
            _registered.add(secret)


def masked(secret):
    """What a report shows instead of ``secret``: its first 4 characters and its length."""
    return '%s...(%d chars)' % (secret[:4], len(secret))


def _strings(value, depth=0):
    if isinstance(value, str):
        yield value
    elif depth < 3 and isinstance(value, (dict, list, tuple, set, frozenset)):
        for item in (value.values() if isinstance(value, dict) else value):
            yield from _strings(item, depth + 1)


def secrets_of(item):
    """The secrets a test item may print: see the module docstring."""
    found = set(_registered)
    named = []
    module = getattr(item, 'module', None)
    if module is not None:
        named.extend((name, value) for name, value in vars(module).items() if not name.startswith('__'))
    named.extend((getattr(item, 'funcargs', None) or {}).items())
    for name, value in named:
        if isinstance(name, str) and _SECRET_NAME.search(name):
            found.update(s for s in _strings(value) if len(s) >= 6)
    return found


# A run of this many characters of a secret is masked too (pytest cuts long values in the middle).
FRAGMENT = 8


def _fragments(text, secret):
    """Mask every run of FRAGMENT or more consecutive characters of ``secret`` in ``text``."""
    if len(secret) < FRAGMENT:
        return text
    grams = set(secret[i:i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1))
    i = 0
    while i <= len(text) - FRAGMENT:
        if text[i:i + FRAGMENT] in grams:
            j = i + FRAGMENT
            while j < len(text) and text[i:j + 1] in secret:
                j += 1
            text, i = text[:i] + masked(secret) + text[j:], i + len(masked(secret))
            continue
        i += 1
    return text


def scrub(text, secrets=()):
    """``text`` with every secret (longest first), every run of 8 or more of its characters, and
    every key-shaped word masked."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, masked(secret))
        # As repr() and JSON print it too.
        for shown in (repr(secret)[1:-1], secret.encode('unicode_escape').decode('ascii')):
            if shown != secret and shown in text:
                text = text.replace(shown, masked(secret))
        text = _fragments(text, secret)
    return _KEY_SHAPE.sub(lambda m: masked(m.group(0)), text)


def scrub_report(report, item):
    """Mask secrets in a failed report's traceback and captured output, in place."""
    if not report.failed:
        return
    secrets = secrets_of(item)
    report.longrepr = scrub(report.longreprtext, secrets)
    report.sections = [(title, scrub(content, secrets)) for title, content in report.sections]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """The hook tests/conftest.py uses (also loadable as a plugin: ``-p secret_scrub``)."""
    outcome = yield
    scrub_report(outcome.get_result(), item)
