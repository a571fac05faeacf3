# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test instrument of rotation.py (not part of the collection): cut a role run between the
phases of a key rotation, the way a real run gets cut.

OMR_CUT says where and how, ``<phase>:<how>``:

- phase ``phase1`` - right after the controller made the new keys (the api_key task that gets
  the run's listing); ``phase2`` - right after the users run that installs them;
- how ``kill`` - SIGKILL to ansible-playbook itself once OMR_CUT_HOSTS hosts' results are in;
  ``stop=<host>=<container>`` - ``podman stop`` that host's laptop when its result comes in, so
  that the rest of the run finds it unreachable.

Callbacks run in ansible-playbook's main process before the strategy queues the next task, so the
cut lands exactly between two tasks.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal
import subprocess

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: omr_cut
type: aggregate
short_description: cut a role run between the phases of a key rotation (test instrument)
description: See the module docstring; driven by the OMR_CUT environment variable.
requirements: [enabled in callbacks_enabled]
"""


def _phase(task):
    action = task.action or ''
    args = task.args or {}
    if action.endswith('api_key') and 'records' in args:
        return 'phase1'
    # (Neither the read of the installed keys nor the check of the new ones from the laptop.)
    if action.endswith('.users') and not args.get('installed_keys') and 'probe_keys' not in args \
            and not task.check_mode:
        return 'phase2'
    return None


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'omr_cut'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        spec = os.environ.get('OMR_CUT', '')
        parts = spec.split(':', 1)
        self.phase, self.how = parts[0], parts[1] if len(parts) > 1 else ''
        self.seen = set()
        self.hosts = int(os.environ.get('OMR_CUT_HOSTS') or 1)

    def _result(self, result):
        if not self.phase or _phase(result._task) != self.phase:
            return
        host = result._host.get_name()
        self.seen.add(host)
        if self.how.startswith('stop='):
            name, container = self.how.split('=', 2)[1:]
            if host == name:
                self._display.display('omr_cut: stopping %s (%s) after %s' % (name, container, self.phase))
                subprocess.run(['podman', 'stop', '-t', '0', container], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)
                self.phase = ''
        elif self.how == 'kill' and len(self.seen) >= self.hosts:
            self._display.display('omr_cut: killing ansible-playbook after %s' % self.phase)
            os.kill(os.getpid(), signal.SIGKILL)

    def v2_runner_on_ok(self, result):
        self._result(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result)
