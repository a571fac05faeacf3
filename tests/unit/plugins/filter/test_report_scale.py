# -*- coding: utf-8 -*-
"""The report filters stay linear in the fleet (issue 22): rows are never compared with each other."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.omniroute.opencode.plugins.filter import report as rp


class Row(dict):
    """A row as the controller hands it to the filter; comparing two of them is what made the
    summary quadratic (each comparison renders lazy values), so here it is an error."""

    def __eq__(self, other):
        raise AssertionError('report_summary compared two rows')

    __ne__ = __eq__
    __hash__ = object.__hash__


def test_summary_never_compares_rows():
    rows = [Row(host='h%d' % (i % 3), user='u%d' % i, state='present', ready=[True, False, None][i % 3],
                error=None, reachable=True, cause=None) for i in range(30)]
    rows.append(Row(host='h9', user='gone', state='absent', ready=None, error=None))
    summary = rp.report_summary(rows)
    assert (summary['ready'], summary['not_ready'], summary['unverified'], summary['removed']) == (10, 10, 10, 1)
    assert len(summary['not_ready_users']) == 10
    assert '10 ready, 10 not ready, 10 not verified, 1 removed.' in rp.report_markdown(rows)
