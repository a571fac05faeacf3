# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``host`` option, shared by provider, managed and users (``_users.HOST_ARGUMENT_SPEC``).

A unit test (tests/unit/plugins/doc_fragments/test_doc_fragments.py) holds it equal to the spec.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  host:
    description:
      - Host name used in messages, such as C(inventory_hostname) (default the host's own name).
    type: str
"""
