"""Make the working tree importable as ansible_collections.omniroute.opencode for every test."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
_link = os.path.join(COLLECTIONS, 'ansible_collections', 'omniroute', 'opencode')
if not os.path.lexists(_link):
    os.makedirs(os.path.dirname(_link), exist_ok=True)
    os.symlink(ROOT, _link)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


# A failing test never prints a key: its report (traceback, assertion values, captured output)
# goes through tests/secret_scrub.py first.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from secret_scrub import pytest_runtest_makereport  # noqa: E402,F401 pylint: disable=unused-import
