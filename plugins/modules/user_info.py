#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to omniroute.opencode
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Look up local accounts through the system's password database (no getent)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: user_info
short_description: Look up local accounts (home, uid, primary group) without getent
description:
  - Resolves account names through Python's C(pwd) and C(grp) modules, that is through the
    system's own name services (C(/etc/passwd), NSS, LDAP/SSSD, or macOS Directory Services).
    Works where C(getent) is missing, such as macOS.
  - Read-only; used by the C(omniroute.opencode.opencode) role to check accounts before it
    writes anything on a host.
version_added: 0.1.0
author:
  - OmniRoute OpenCode maintainers (@omniroute)
options:
  names:
    description: Account names to look up.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - omniroute.opencode.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    description: Only reads the account database, so it runs the same in check mode.
  diff_mode:
    support: none
    description: It changes nothing, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Look up developer accounts
  omniroute.opencode.user_info:
    names: [alice, bob]
  register: accounts

- name: Fail when bob is missing
  ansible.builtin.assert:
    that: accounts.users.bob.exists
"""

RETURN = r"""
users:
  description: One entry per requested name.
  returned: always
  type: dict
  sample:
    alice: {exists: true, uid: 1000, gid: 1000, group: alice, home: /home/alice, shell: /bin/bash}
    ghost: {exists: false}
current_user:
  description: Name of the account the module ran as (the connection user, after any become).
  returned: always
  type: str
  sample: root
"""

import os

from ansible.module_utils.basic import AnsibleModule

try:
    import grp
    import pwd
except ImportError:  # pragma: no cover - Windows has neither; the module targets POSIX hosts
    grp = pwd = None


def lookup(name):
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return {"exists": False}
    try:
        group = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        group = str(entry.pw_gid)
    return {
        "exists": True,
        "uid": entry.pw_uid,
        "gid": entry.pw_gid,
        "group": group,
        "home": entry.pw_dir,
        "shell": entry.pw_shell,
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(names=dict(type="list", elements="str", required=True)),
        supports_check_mode=True,
    )
    if pwd is None:
        module.fail_json(msg="user_info needs a POSIX host (Python pwd/grp modules)")
    uid = os.getuid()
    try:
        current = pwd.getpwuid(uid).pw_name
    except KeyError:
        current = str(uid)
    users = {}
    for name in module.params["names"]:
        users[name] = lookup(name)
    module.exit_json(changed=False, users=users, current_user=current)


if __name__ == "__main__":
    main()
