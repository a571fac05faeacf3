# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pull mode's rule for a team-wide user list on one laptop (``playbooks/pull.yml``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: pull_users
short_description: Which listed developers pull mode configures on this laptop, and which it skips
version_added: "0.5.0"
description:
  - In pull mode one settings file can list a whole team. On each laptop the role configures the
    listed developers that have an account there, offboards every C(state=absent) entry wherever
    it is (the role itself skips a leaver whose account is gone), and reports the others.
  - Returns C(configure) (the entries for the role's C(opencode_users), in the given order) and
    C(skipped) (the names of present developers without an account on this laptop, in order).
options:
  _input:
    description: The listed developers (the role's C(opencode_users)), each a dict with C(name) and optionally C(state).
    type: list
    elements: dict
    required: true
  accounts:
    description:
      - The accounts of this laptop by name, each a dict with C(exists)
        (M(omniroute.opencode.user_info)'s RV(omniroute.opencode.user_info#module:users)).
    type: dict
    required: true
author:
  - OmniRoute OpenCode maintainers (@omniroute)
"""

EXAMPLES = r"""
- name: Keep the developers who have an account here (and every leaver)
  ansible.builtin.set_fact:
    opencode_users: "{{ here.configure }}"
    pull_skipped: "{{ here.skipped }}"
  vars:
    here: "{{ opencode_users | omniroute.opencode.pull_users(accounts.users) }}"
"""

RETURN = r"""
_value:
  description: C(configure) (list of user entries) and C(skipped) (list of names).
  type: dict
"""


def pull_users(users, accounts):
    """``{'configure': [entries], 'skipped': [names]}`` for one laptop."""
    if not isinstance(users, list):
        raise TypeError('pull_users expects a list of users, got %s' % type(users).__name__)
    if not isinstance(accounts, dict):
        raise TypeError('pull_users expects the accounts as a mapping, got %s' % type(accounts).__name__)
    configure, skipped = [], []
    for user in users:
        if not isinstance(user, dict):
            # Left for the role's argument validation, which names the variable.
            configure.append(user)
            continue
        account = accounts.get(user.get('name'))
        exists = isinstance(account, dict) and bool(account.get('exists'))
        if exists or user.get('state') == 'absent':
            configure.append(user)
        else:
            skipped.append(user.get('name'))
    return {'configure': configure, 'skipped': skipped}


class FilterModule(object):
    def filters(self):
        return {'pull_users': pull_users}
