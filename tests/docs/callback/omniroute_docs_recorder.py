# -*- coding: utf-8 -*-
"""Callback of `make test-docs`: records what each ansible-playbook run of a docs example did.

Enabled only in the suite's environment (ANSIBLE_CALLBACK_PLUGINS=tests/docs/callback,
ANSIBLE_CALLBACKS_ENABLED=omniroute_docs_recorder, DOCTEST_RECORD_DIR=<dir>); it prints nothing.
At the end of each run it writes one JSON file (mode 0600) into DOCTEST_RECORD_DIR:

- how to run it again: argv, cwd, the environment (it may hold a key: the file is 0600, read
  only by the suite, never printed), and whether it was a --check run;
- the play recap (per host: ok, changed, failures, unreachable);
- the results of the collection's modules (users, provider, managed) and the role's summary,
  reduced to what the suite checks (models, verify, state; never a key: the modules mask them).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
name: omniroute_docs_recorder
type: aggregate
short_description: records runs of docs examples for make test-docs
description: Writes one JSON record per ansible-playbook run into DOCTEST_RECORD_DIR.
requirements: [enabled in the suite's environment only]
"""

import json
import os
import sys
import time

from ansible import context
from ansible.plugins.callback import CallbackBase

MODULES = ('omniroute.opencode.users', 'omniroute.opencode.provider', 'omniroute.opencode.managed')
USER_FIELDS = ('state', 'path', 'models', 'skipped', 'key', 'key_store')
VERIFY_FIELDS = ('ready', 'cause', 'missing', 'reachable', 'key_accepted', 'scope', 'opencode_version')


def _action(task):
    action = getattr(task, 'resolved_action', None) or task.action
    return action.replace('ansible.builtin.', '')


def _verify(value):
    if not isinstance(value, dict):
        return None
    return dict((k, value.get(k)) for k in VERIFY_FIELDS if k in value)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'omniroute_docs_recorder'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.started = time.time()
        self.playbook = None
        self.plays = []
        self.results = []
        self.summaries = []
        self.failed = []
        self.changed = []

    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.abspath(playbook._file_name)

    def v2_playbook_on_play_start(self, play):
        self.plays.append({'name': play.get_name(), 'hosts': play.hosts})

    def _record(self, result, status):
        task = result._task
        res = result._result
        host = result._host.get_name()
        action = _action(task)
        if status == 'ok' and res.get('changed'):
            self.changed.append({'host': host, 'task': task.get_name()})
        if status in ('failed', 'unreachable') and not res.get('skipped'):
            self.failed.append({'host': host, 'task': task.get_name(), 'action': action, 'status': status,
                                'msg': str(res.get('msg', ''))[:2000]})
        if action in MODULES and status in ('ok', 'failed') and not res.get('censored'):
            args = task.args or {}
            entry = {'host': host, 'action': action, 'status': status, 'changed': bool(res.get('changed')),
                     'check': bool(task.check_mode) if task.check_mode is not None else None,
                     'become': bool(task.become), 'become_user': task.become_user,
                     'remote_user': getattr(task, 'remote_user', None),
                     'scope': args.get('scope') if isinstance(args.get('scope'), str) else None}
            if action == 'omniroute.opencode.users':
                users = {}
                for name, info in (res.get('users') or {}).items():
                    if isinstance(info, dict):
                        row = dict((k, info.get(k)) for k in USER_FIELDS if k in info)
                        row['verify'] = _verify(info.get('verify'))
                        users[name] = row
                entry['users'] = users
            else:
                entry['path'] = res.get('path')
                entry['models'] = res.get('models')
                entry['state'] = args.get('state', 'present') if isinstance(args.get('state', 'present'), str) else None
                entry['verify'] = _verify(res.get('verify'))
            self.results.append(entry)
        if action == 'debug' and status == 'ok':
            msg = res.get('msg')
            if isinstance(msg, dict) and 'ready' in msg and 'not_ready' in msg:
                self.summaries.append({'host': host, 'summary': msg})

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        folder = os.environ.get('DOCTEST_RECORD_DIR')
        if not folder:
            return
        recap = {}
        for host in sorted(stats.processed):
            recap[host] = stats.summarize(host)
        record = {
            'argv': list(sys.argv), 'cwd': os.getcwd(), 'env': dict(os.environ),
            'round': os.environ.get('DOCTEST_ROUND', '1'),
            'check': bool(context.CLIARGS.get('check')), 'playbook': self.playbook, 'plays': self.plays,
            'recap': recap, 'results': self.results, 'summaries': self.summaries, 'failed': self.failed, 'changed': self.changed,
            'started': self.started, 'ended': time.time(),
        }
        name = os.path.join(folder, 'run-%.6f-%d.json' % (self.started, os.getpid()))
        fd = os.open(name + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump(record, handle, default=str)
        os.rename(name + '.tmp', name)
