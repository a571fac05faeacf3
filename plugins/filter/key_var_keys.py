# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The user -> key map from the role's ``opencode_api_key_var`` loop (see ``key_var_users``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: key_var_keys
short_description: The user to key map from the role's registered opencode_api_key_var loop
version_added: "0.5.0"
description:
  - Takes the registered result of a C(set_fact) loop whose loop variable is a user entry (O(loop_var))
    and which set the fact O(fact) to that user's key, and returns a mapping of user name to key.
  - An item without a value (empty, or the fact not set) is left out, so the user is reported as
    having no key. A value that is not a string is passed on as it is, so that the
    M(omniroute.opencode.users) module refuses it without showing it.
  - A skipped loop, or an undefined or empty result, gives an empty map.
  - The result is a secret. Use it only in C(no_log) tasks or C(no_log) options.
options:
  _input:
    description: The registered loop result (with C(results)).
    type: dict
    required: true
  fact:
    description: The fact each item set.
    type: str
    default: _opencode_key_var_value
  loop_var:
    description: The loop variable holding the user entry.
    type: str
    default: opencode_user
author:
  - OmniRoute OpenCode maintainers (@omniroute)
"""

EXAMPLES = r"""
- name: Hand the evaluated keys to the users module
  omniroute.opencode.users:
    users: "{{ opencode_users }}"
    key_maps:
      - "{{ opencode_api_keys }}"
      - "{{ key_var_run | omniroute.opencode.key_var_keys('key_from_var') }}"
"""

RETURN = r"""
_value:
  description: User name to key.
  type: dict
"""


def key_var_keys(registered, fact='_opencode_key_var_value', loop_var='opencode_user'):
    """``{user name: key}`` from the registered results of the role's key expression loop."""
    if not isinstance(registered, dict):
        return {}
    keys = {}
    for item in registered.get('results') or []:
        if not isinstance(item, dict) or item.get('skipped'):
            continue
        user = item.get(loop_var)
        facts = item.get('ansible_facts')
        if not isinstance(user, dict) or not isinstance(facts, dict):
            continue
        value = facts.get(fact)
        if value is None or value == '':
            continue
        keys[user.get('name')] = value
    return keys


class FilterModule(object):
    def filters(self):
        return {'key_var_keys': key_var_keys}
