# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key precedence of the ``opencode`` role, on the controller.

The managed-scope gateway catalog is fetched once per host with one user's key; this picks it
with the same precedence as the ``users`` module (a user's own ``api_key``, then the key maps in
order).  The result is a secret: the role only uses it in ``no_log`` tasks and options.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: first_user_key
short_description: The key of the first present user that has one, by the role's key precedence
version_added: "0.4.0"
description:
  - Walks O(_input) (the role's C(opencode_users)) in order, skipping users with C(state=absent),
    and returns the first key found for a user - their own C(api_key) (unless O(own_keys=false)),
    else the first of O(key_maps) that has a non-empty string for the user's name. An empty
    string when no user has one.
  - The result is a secret. Use it only in C(no_log) tasks or C(no_log) options.
options:
  _input:
    description: The users, each a dict with C(name) and optionally C(state) and C(api_key).
    type: list
    elements: dict
    required: true
  key_maps:
    description: Mappings of user name to key, highest precedence first.
    type: list
    elements: dict
    default: []
  own_keys:
    description: Whether a user's own C(api_key) counts (the role passes false with C(opencode_api_key_source=user)).
    type: bool
    default: true
author:
  - OmniRoute OpenCode maintainers (@omniroute)
"""

EXAMPLES = r"""
- name: A key to ask the gateway for the catalog
  ansible.builtin.set_fact:
    catalog_key: "{{ opencode_users | omniroute.opencode.first_user_key([opencode_api_keys]) }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: The key, or an empty string.
  type: str
"""


from ansible_collections.omniroute.opencode.plugins.module_utils._redact import pick_key  # noqa: E402


def first_user_key(users, key_maps=None, own_keys=True):
    """The first present user's key: own ``api_key`` (if ``own_keys``), then ``key_maps`` in order
    (the precedence of ``_redact.pick_key``, which the ``users`` module uses too)."""
    if not isinstance(users, list):
        # A TypeError, which Ansible reports as a templating error: importing ansible.errors here
        # would load the controller's error machinery into every process that imports the filter
        # (in ansible-core 2.19 that reroutes module warnings in the unit tests).
        raise TypeError('first_user_key expects a list of users, got %s' % type(users).__name__)
    for user in users:
        if not isinstance(user, dict) or user.get('state', 'present') != 'present':
            continue
        found = pick_key(user, key_maps, own_keys)
        if isinstance(found, str) and found:
            return found
    return ''


class FilterModule(object):
    def filters(self):
        return {'first_user_key': first_user_key}
