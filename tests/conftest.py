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

# Ansible's own state (its home with tmp/, async job files, the temporary directories of tasks run
# on this machine) stays in the clone when a test is run by hand (`pytest tests/unit/...`), as
# under make, which exports the same three (the Makefile; tests/tooling/test_hygiene.py checks
# they agree). Without them, importing ansible made ~/.ansible/tmp in the contributor's home.
# What the caller sets wins.
ANSIBLE_STATE = {
    'ANSIBLE_HOME': os.path.join(ROOT, '.build', 'ansible-home'),
    'ANSIBLE_ASYNC_DIR': os.path.join(ROOT, '.build', 'ansible-async'),
    'ANSIBLE_REMOTE_TMP': os.path.join(ROOT, '.build', 'ansible-remote-tmp'),
}
for _name, _path in ANSIBLE_STATE.items():
    os.environ.setdefault(_name, _path)


# A failing test never prints a key: its report (traceback, assertion values, captured output)
# goes through tests/secret_scrub.py first.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from secret_scrub import pytest_runtest_makereport  # noqa: E402,F401 pylint: disable=unused-import
