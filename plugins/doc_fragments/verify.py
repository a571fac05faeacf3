# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``verify`` option, shared by provider and users (``verify`` of ``_gateway.CATALOG_ARGUMENT_SPEC``).

A unit test (tests/unit/plugins/doc_fragments/test_doc_fragments.py) holds it equal to the spec.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  verify:
    description:
      - After planning (in check mode too), probe the gateway from the host, as the user whose
        config it is and with the key OpenCode will send, and return what OpenCode will meet
        (see the return values). That covers reachability, the HTTP status, whether the key is
        accepted, the models offered to it, the configured models it is not offered, the
        version of the user's C(opencode) binary and every config layer that overrides the
        entry.
      - The result holds no key. The probe writes nothing; C(opencode --version) runs in a
        scratch home. A gateway that cannot be reached or that refuses the key is reported in
        the result; it does not fail the task.
    type: bool
    default: false
"""
