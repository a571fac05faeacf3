# -*- coding: utf-8 -*-
"""The role's and pull mode's named rules: key_var_users, key_var_keys, pull_users."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.omniroute.opencode.plugins.filter import key_var_keys, key_var_users, pull_users

USERS = [
    {'name': 'ana'},                                   # no key anywhere: the expression
    {'name': 'ben', 'api_key': 'sk-own-ben'},          # own key wins
    {'name': 'chen'},                                  # key in opencode_api_keys wins
    {'name': 'dev', 'key_store': 'env'},               # env store: no key needed
    {'name': 'olga', 'state': 'absent'},               # leaver: no key needed
    {'name': 'pia', 'state': 'present', 'api_key': ''},  # an empty own key is no key
]


def names(users):
    return [u['name'] for u in users]


def test_key_var_users_are_the_present_users_without_another_key():
    got = key_var_users.key_var_users(USERS, 'my_key', 'vars', [{'chen': 'sk-map-chen'}])
    assert names(got) == ['ana', 'pia']
    assert got[0] is USERS[0]


def test_key_var_users_fleet_env_store_needs_no_key_and_a_user_store_overrides_it():
    users = [{'name': 'ana'}, {'name': 'ben', 'key_store': 'auth'}]
    assert names(key_var_users.key_var_users(users, 'my_key', 'vars', [], 'env')) == ['ben']


@pytest.mark.parametrize('key_var,source', [(None, 'vars'), ('', 'vars'), ('my_key', 'omniroute'), ('my_key', 'user')])
def test_key_var_users_is_empty_without_a_variable_or_with_another_key_source(key_var, source):
    assert key_var_users.key_var_users(USERS, key_var, source, []) == []


def test_key_var_users_refuses_a_non_list():
    with pytest.raises(TypeError, match='expects a list'):
        key_var_users.key_var_users({'name': 'ana'}, 'my_key')


def loop_result(*items):
    results = []
    for name, value in items:
        item = {'opencode_user': {'name': name}, 'changed': False}
        if value is not None:
            item['ansible_facts'] = {'_opencode_key_var_value': value}
        results.append(item)
    return {'changed': False, 'msg': 'All items completed', 'results': results}


def test_key_var_keys_maps_each_user_to_the_evaluated_key():
    got = key_var_keys.key_var_keys(loop_result(('ana', 'sk-ana'), ('pia', 'sk-pia')))
    assert got == {'ana': 'sk-ana', 'pia': 'sk-pia'}


def test_key_var_keys_leaves_out_empty_values_and_passes_a_non_string_on():
    got = key_var_keys.key_var_keys(loop_result(('ana', ''), ('ben', None), ('pia', ['sk-a', 'sk-b'])))
    assert got == {'pia': ['sk-a', 'sk-b']}


@pytest.mark.parametrize('registered', [None, {}, {'skipped': True, 'results': []},
                                        {'results': [{'skipped': True, 'opencode_user': {'name': 'a'}}]}])
def test_key_var_keys_of_a_skipped_or_missing_loop_is_empty(registered):
    assert key_var_keys.key_var_keys(registered) == {}


def test_key_var_keys_other_fact_and_loop_var_names():
    registered = {'results': [{'dev': {'name': 'ana'}, 'ansible_facts': {'k': 'sk-x'}}]}
    assert key_var_keys.key_var_keys(registered, 'k', 'dev') == {'ana': 'sk-x'}


ACCOUNTS = {'ana': {'exists': True, 'home': '/home/ana'}, 'ben': {'exists': False},
            'olga': {'exists': False}, 'dave': {'exists': True}}


def test_pull_users_configures_accounts_here_and_every_leaver_and_skips_the_rest():
    users = [{'name': 'ben'}, {'name': 'ana'}, {'name': 'olga', 'state': 'absent'},
             {'name': 'dave', 'state': 'absent'}, {'name': 'zoe', 'state': 'present'}]
    got = pull_users.pull_users(users, ACCOUNTS)
    assert names(got['configure']) == ['ana', 'olga', 'dave']
    assert got['skipped'] == ['ben', 'zoe']


def test_pull_users_of_an_empty_list():
    assert pull_users.pull_users([], {}) == {'configure': [], 'skipped': []}


def test_pull_users_refuses_what_is_not_a_list_or_a_mapping():
    with pytest.raises(TypeError, match='list of users'):
        pull_users.pull_users('ana', ACCOUNTS)
    with pytest.raises(TypeError, match='accounts as a mapping'):
        pull_users.pull_users([], ['ana'])
