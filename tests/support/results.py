# -*- coding: utf-8 -*-
"""What tests read from a module's result, whatever ansible-core wrote it."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


def warnings_of(res):
    """The texts of a module result's warnings: ansible-core 2.19+ returns each warning as a
    summary dict (``{"event": {"msg": ...}}``), older ones as a string."""
    return [w['event']['msg'] if isinstance(w, dict) else w for w in res.get('warnings', [])]
