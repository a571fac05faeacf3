# -*- coding: utf-8 -*-
"""KNOWN BUG, found by issue 26's launchd test; not part of any tier until the role is fixed.

Run: .venv/bin/python -m pytest -q -p no:cacheprovider tests/known_bugs

roles/opencode/meta/argument_specs.yml documents ``opencode_pull_schedule.splay`` as "each run is
delayed by up to this many minutes, so a fleet does not reach the git server at once". The
systemd timer honours it (``RandomizedDelaySec``), but the launchd job ignores it: its property
list is the same whatever splay says, so every Mac of a fleet pulls on the same StartInterval
tick. (launchd has no random delay of its own; the job could sleep a random time before
ansible-pull, or the docs could say that splay is Linux-only.) The test fails today and passes
when splay has an effect on the launchd job; move it into
tests/unit/roles/test_pull_schedule_launchd_processes.py with the fix.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.omniroute.opencode.tests.unit.roles.test_pull_schedule_launchd_processes import (
    run_schedule, written_plist)


def test_splay_changes_the_launchd_job(tmp_path):
    schedule = {'repo_url': 'https://git.example.com/platform/oc.git'}
    jobs = []
    for splay in (0, 10):
        work = tmp_path / ('splay-%d' % splay)
        work.mkdir()
        rc, out = run_schedule(work, dict(schedule, splay=splay))
        assert rc == 0, out[-3000:]
        jobs.append(written_plist(out))
    assert jobs[0] != jobs[1], 'the launchd job is the same with splay 0 and splay 10'
