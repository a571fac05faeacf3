# -*- coding: utf-8 -*-
"""Every key a scratch OmniRoute server makes, recorded in its own database (stdlib only).

A test server (tests/setup/omniroute.sh) keeps its keys, in full, in the ``api_keys`` table of
``<state>/data/storage.sqlite``. :func:`track` adds a table and two triggers there, so every key
the server makes or regenerates from then on stays listed, revoked ones included;
:func:`issued` reads them back. The leak checks of the suites that let the role make keys
search their outputs for all of them, not only for the keys a test happened to read.

Command line (for shell scripts): ``omniroute_db.py track STATE_DIR``, before the keys are made.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sqlite3
import sys

TRACK = """
CREATE TABLE IF NOT EXISTS omr_test_issued (key TEXT);
CREATE TRIGGER IF NOT EXISTS omr_test_issued_insert AFTER INSERT ON api_keys
  BEGIN INSERT INTO omr_test_issued (key) VALUES (NEW.key); END;
CREATE TRIGGER IF NOT EXISTS omr_test_issued_update AFTER UPDATE OF key ON api_keys
  BEGIN INSERT INTO omr_test_issued (key) VALUES (NEW.key); END;
"""


def database(state):
    """The server's database in its state directory."""
    return os.path.join(state, 'data', 'storage.sqlite')


def track(state):
    """Record every key the server of ``state`` makes from now on (the server has created its
    tables: call it once the server answers)."""
    conn = sqlite3.connect(database(state), timeout=30)
    try:
        conn.executescript(TRACK)
    finally:
        conn.close()


def issued(state):
    """Every key made since :func:`track`, in order (none when it was not called)."""
    conn = sqlite3.connect(database(state), timeout=30)
    try:
        if not conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'omr_test_issued'").fetchone():
            return []
        return [row[0] for row in conn.execute('SELECT key FROM omr_test_issued ORDER BY rowid') if row[0]]
    finally:
        conn.close()


def main(argv):
    if len(argv) != 3 or argv[1] != 'track':
        sys.stderr.write('usage: omniroute_db.py track STATE_DIR\n')
        return 2
    track(argv[2])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
