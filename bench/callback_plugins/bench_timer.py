# -*- coding: utf-8 -*-
# Benchmark helper (not part of the collection's public content): records the wall time of every
# task, host by host, into the JSON file named by $BENCH_TIMER_OUT.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
name: bench_timer
type: aggregate
short_description: per-task wall times for the benchmarks
description: Writes [{task, host, seconds, changed, failed, skipped}] to $BENCH_TIMER_OUT at the end of the run.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._start = {}
        self._rows = []
        self._play_start = None

    def v2_playbook_on_play_start(self, play):
        self._play_start = time.perf_counter()

    def v2_runner_on_start(self, host, task):
        self._start[(host.get_name(), task._uuid)] = time.perf_counter()

    def _done(self, result, failed=False, skipped=False):
        key = (result._host.get_name(), result._task._uuid)
        t0 = self._start.pop(key, None)
        if t0 is None:
            return
        self._rows.append({"task": result._task.get_name(), "host": key[0],
                           "seconds": time.perf_counter() - t0,
                           "changed": bool(result._result.get("changed")), "failed": failed,
                           "skipped": skipped})

    def v2_runner_on_ok(self, result):
        self._done(result)

    def v2_runner_on_skipped(self, result):
        # A skipped task still costs the controller a worker per host: counted (issue 22).
        self._done(result, skipped=True)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, failed=True)

    def v2_playbook_on_stats(self, stats):
        out = os.environ.get("BENCH_TIMER_OUT")
        if out:
            with open(out, "w") as f:
                json.dump({"tasks": self._rows,
                           "play_seconds": time.perf_counter() - (self._play_start or 0)}, f)
