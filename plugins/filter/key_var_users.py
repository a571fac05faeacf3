# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which users of the ``opencode`` role take their key from ``opencode_api_key_var``.

The role evaluates the expression named by ``opencode_api_key_var`` once per user, on the
controller, with that user's entry in scope as ``opencode_user`` (a ``set_fact`` loop: only a
task can bind a variable for a template).  This filter decides the loop's users, so the rule
has a name, a docstring and unit tests instead of a ``when:`` list in the role; the companion
filter ``key_var_keys`` turns the loop's registered results into the user -> key map.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.omniroute.opencode.plugins.filter.keys import first_user_key

DOCUMENTATION = r"""
---
name: key_var_users
short_description: The users whose key the role takes from opencode_api_key_var
version_added: "0.5.0"
description:
  - Returns the entries of O(_input) (the role's C(opencode_users)), in order, for which the role
    evaluates the variable named by O(key_var) - present users that keep a key (key store not
    C(env)) and have none from a higher precedence (their own C(api_key), then O(key_maps)).
  - Returns an empty list when O(key_var) is empty or O(key_source) is not C(vars), so the role's
    loop has no item at all (and prints no line per user) in those runs.
options:
  _input:
    description: The users, each a dict with C(name) and optionally C(state), C(api_key), C(key_store).
    type: list
    elements: dict
    required: true
  key_var:
    description: The role's C(opencode_api_key_var) (the name of the variable holding the expression).
    type: str
  key_source:
    description: The role's C(opencode_api_key_source); only C(vars) reads O(key_var).
    type: str
    default: vars
  key_maps:
    description: Mappings of user name to key that win over O(key_var) (the role's C(opencode_api_keys)).
    type: list
    elements: dict
    default: []
  key_store:
    description: The fleet-wide key store (the role's C(opencode_key_store)), for users that set none.
    type: str
    default: config
author:
  - OmniRoute OpenCode maintainers (@omniroute)
"""

EXAMPLES = r"""
- name: Evaluate the key expression for each user that needs it
  ansible.builtin.set_fact:
    key_from_var: "{{ lookup('vars', opencode_api_key_var) }}"
  loop: "{{ opencode_users | omniroute.opencode.key_var_users(opencode_api_key_var, 'vars', [opencode_api_keys]) }}"
  loop_control:
    loop_var: opencode_user
  register: key_var_run
  no_log: true
"""

RETURN = r"""
_value:
  description: The users (their entries as given) whose key comes from O(key_var).
  type: list
  elements: dict
"""


def key_var_users(users, key_var=None, key_source='vars', key_maps=None, key_store='config'):
    """The entries of ``users`` whose key the role evaluates from ``key_var``, in order."""
    if not isinstance(users, list):
        raise TypeError('key_var_users expects a list of users, got %s' % type(users).__name__)
    if not key_var or key_source != 'vars':
        return []
    chosen = []
    for user in users:
        if not isinstance(user, dict) or (user.get('state') or 'present') != 'present':
            continue
        if (user.get('key_store') or key_store) == 'env':
            continue
        # first_user_key of this one user: the role's precedence above the expression.
        if first_user_key([user], key_maps or []):
            continue
        chosen.append(user)
    return chosen


class FilterModule(object):
    def filters(self):
        return {'key_var_users': key_var_users}
