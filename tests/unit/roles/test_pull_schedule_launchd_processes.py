# -*- coding: utf-8 -*-
"""The launchd branch of the pull schedule (macOS), which no Linux machine can run for real
(issue 26: a claim with no test). The role's pull_schedule tasks run in check mode with --diff
on this machine, told it is Darwin: the launchd job they would write is taken from the diff and
must be a property list that runs ansible-pull as the schedule says; the Linux units are not
touched; with state absent the job is unloaded and removed.

(Starts ansible-playbook: make test-unit runs it, the ansible-test runs of the matrix leave
``test_*_processes.py`` out.)
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import plistlib
import subprocess
import sys

from ansible_collections.omniroute.opencode.plugins.module_utils import _jsonc

PLAY = '''- name: The pull schedule, as on a Mac
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Pull schedule
      ansible.builtin.include_role:
        name: omniroute.opencode.opencode
        tasks_from: pull_schedule
'''


def run_schedule(tmp_path, schedule):
    (tmp_path / 'play.yml').write_text(PLAY)
    (tmp_path / 'vars.json').write_text(json.dumps({'ansible_system': 'Darwin', 'opencode_pull_schedule': schedule}))
    here = os.path.abspath(_jsonc.__file__)
    env = dict(os.environ, HOME=str(tmp_path), ANSIBLE_HOME=str(tmp_path / 'ansible'),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_REMOTE_TMP=str(tmp_path / 'tmp'),
               ANSIBLE_COLLECTIONS_PATH=here[:here.rindex(os.sep + 'ansible_collections' + os.sep)],
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    proc = subprocess.run([playbook, '-i', 'localhost,', str(tmp_path / 'play.yml'), '-e', '@' + str(tmp_path / 'vars.json'),
                           '-e', 'ansible_python_interpreter=' + sys.executable, '--check', '--diff'],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def written_plist(out):
    """The property list the 'Write the launchd job' task would write, from its diff."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('+<?xml'))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith('+</plist>'))
    return plistlib.loads('\n'.join(line[1:] for line in lines[start:end + 1]).encode('utf-8'))


def test_launchd_job_runs_ansible_pull_as_scheduled(tmp_path):
    rc, out = run_schedule(tmp_path, {'repo_url': 'https://git.example.com/platform/oc.git', 'version': 'stable',
                                      'interval': 15, 'base_dir': '/opt/oc-pull', 'ansible_pull': '/opt/homebrew/bin/ansible-pull',
                                      'vars_files': ['/etc/oc/fleet.yml']})
    assert rc == 0, out[-3000:]
    assert 'TASK [omniroute.opencode.opencode : Write the launchd job]' in out
    assert 'omniroute-opencode-pull.timer' not in out.split('Write the launchd job')[1]
    job = written_plist(out)
    assert job['Label'] == 'com.omniroute.opencode-pull'
    assert job['ProgramArguments'] == [
        '/opt/homebrew/bin/ansible-pull', '-U', 'https://git.example.com/platform/oc.git', '-C', 'stable',
        '-s', '600',  # the default splay, 10 minutes: ansible-pull sleeps up to that before it pulls
        '-d', '/opt/oc-pull/ansible_collections/omniroute/opencode',
        '-e', '{"opencode_pull_vars_files": ["/etc/oc/fleet.yml"]}', 'playbooks/pull.yml']
    assert job['StartInterval'] == 15 * 60 and job['RunAtLoad'] is True
    assert job['EnvironmentVariables']['ANSIBLE_COLLECTIONS_PATH'] == '/opt/oc-pull'
    assert job['EnvironmentVariables']['ANSIBLE_HOME'] == '/opt/oc-pull/ansible-home'
    # No systemd unit on a Mac.
    assert 'Write the service and the timer' not in out or 'skipping' in out.split('Write the service and the timer')[1][:200]


def test_splay_is_ansible_pulls_random_sleep_on_macos(tmp_path):
    """launchd has no random delay of its own: the job asks ansible-pull for one (-s seconds)."""
    schedule = {'repo_url': 'https://git.example.com/platform/oc.git'}
    args = {}
    for splay in (0, 3):
        work = tmp_path / ('splay-%d' % splay)
        work.mkdir()
        rc, out = run_schedule(work, dict(schedule, splay=splay))
        assert rc == 0, out[-3000:]
        args[splay] = written_plist(out)['ProgramArguments']
    assert '-s' not in args[0]
    assert args[3][args[3].index('-s') + 1] == '180'


def test_launchd_job_removed_with_state_absent(tmp_path):
    rc, out = run_schedule(tmp_path, {'state': 'absent'})
    assert rc == 0, out[-3000:]
    assert 'TASK [omniroute.opencode.opencode : Unload the launchd job]' in out
    assert 'TASK [omniroute.opencode.opencode : Remove the launchd job]' in out
    after_write = out.split('Write the launchd job')[1][:300]
    assert 'skipping' in after_write
