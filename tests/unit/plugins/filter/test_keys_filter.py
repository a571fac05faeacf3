# -*- coding: utf-8 -*-
"""first_user_key: the role's key precedence for the managed-scope gateway catalog."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.omniroute.opencode.plugins.filter import keys


def test_own_key_wins_over_every_map():
    users = [{'name': 'alice', 'api_key': 'sk-own'}]
    assert keys.first_user_key(users, [{'alice': 'sk-issued'}, {'alice': 'sk-vars'}]) == 'sk-own'


def test_maps_in_order_of_precedence():
    users = [{'name': 'alice'}]
    assert keys.first_user_key(users, [{}, {'alice': 'sk-vars'}, {'alice': 'sk-expr'}]) == 'sk-vars'
    assert keys.first_user_key(users, [{'alice': 'sk-issued'}, {'alice': 'sk-vars'}]) == 'sk-issued'
    assert keys.first_user_key(users, [{}, {}, {'alice': 'sk-expr'}]) == 'sk-expr'


def test_first_present_user_with_a_key():
    users = [{'name': 'gone', 'state': 'absent', 'api_key': 'sk-gone'},
             {'name': 'nokey'},
             {'name': 'bob'},
             {'name': 'carol', 'api_key': 'sk-carol'}]
    assert keys.first_user_key(users, [{'gone': 'sk-gone-map', 'bob': 'sk-bob'}]) == 'sk-bob'
    assert keys.first_user_key(users, []) == 'sk-carol'


def test_own_keys_off_for_developer_provided_keys():
    users = [{'name': 'alice', 'api_key': 'sk-own'}]
    assert keys.first_user_key(users, [], own_keys=False) == ''
    assert keys.first_user_key(users, [{'alice': 'sk-map'}], own_keys=False) == 'sk-map'


def test_empty_and_odd_values_are_not_keys():
    users = [{'name': 'alice', 'api_key': ''}, {'name': 'bob', 'api_key': None}]
    assert keys.first_user_key(users, [{'alice': '', 'bob': 42}, None]) == ''
    assert keys.first_user_key([], [{'alice': 'sk-x'}]) == ''


def test_not_a_list_is_an_error():
    with pytest.raises(TypeError, match='list of users'):
        keys.first_user_key({'name': 'alice'})


def test_registered_with_ansible():
    assert keys.FilterModule().filters() == {'first_user_key': keys.first_user_key}
