# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute descriptions shared by the collection's modules.

Used next to ansible-core's ``ansible.builtin.action_common_attributes`` fragments, which give
the attribute names and their general meaning; the modules then say how far each one applies.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Modules that run on the managed host (a developer's laptop).
    DOCUMENTATION = r"""
attributes:
  platform:
    support: full
    platforms: posix
    description: Linux and macOS; only Python 3.8+ and its standard library are needed on the target.
"""

    # The modules of the opencode action group (meta/runtime.yml), which share the entry and
    # catalog options. Listed before action_common_attributes.actiongroups, which adds the
    # attribute's general description (in a merge of fragments the first one listed wins).
    ACTION_GROUP = r"""
attributes:
  action_group:
    support: full
    membership:
      - omniroute.opencode.opencode
    details:
      - C(module_defaults) for C(group/omniroute.opencode.opencode) reach M(omniroute.opencode.provider),
        M(omniroute.opencode.users) and M(omniroute.opencode.managed). Set there only options all
        three have, the entry and catalog options (not C(verify), which M(omniroute.opencode.managed)
        does not have); a module fails on an option it does not have.
"""

    # Modules that talk to the OmniRoute server and run on the controller.
    CONTROLLER = r"""
attributes:
  platform:
    support: full
    platforms: posix
    description: Runs where the task is delegated (normally the controller, C(delegate_to=localhost)); POSIX only (C(fcntl) locks).
"""
