"""The docs-examples suite's parser and classifier (tests/docs/mdexamples.py), without running
anything: which blocks are examples, what each is, which markers it has, and which mistakes in
a page are refused."""

import os
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'docs'))

import mdexamples as md  # noqa: E402


def blocks(text):
    return [md.classify(b) for b in md.extract(textwrap.dedent(text), page='p.md')]


def test_fences_languages_lines_and_headings():
    found = blocks('''\
        # Title

        ## Install

        ```sh
        make configure
        ```

        ~~~yaml
        - hosts: laptops
          roles: [omniroute.opencode.opencode]
        ~~~

        ```text
        plain output
        ```

        ```
        no language
        ```
        ''')
    assert [(b.line, b.lang, b.kind, b.heading) for b in found] == [
        (5, 'sh', 'shell', 'Install'), (9, 'yaml', 'playbook', 'Install'),
        (14, 'text', 'illustration', 'Install'), (18, '', 'illustration', 'Install')]
    assert found[0].text == 'make configure\n'


def test_a_fence_in_a_list_item_is_dedented_and_a_longer_fence_holds_a_shorter_one():
    found = blocks('''\
        - Store your key:

          ```sh
          opencode auth login
            --flag
          ```

        ````markdown
        ```yaml
        a: 1
        ```
        ````
        ''')
    assert found[0].text == 'opencode auth login\n  --flag\n'
    assert found[1].lang == 'markdown' and found[1].text == '```yaml\na: 1\n```\n'
    assert found[1].kind == 'illustration'


def test_hash_lines_inside_a_shell_block_are_not_headings():
    found = blocks('''\
        ## Real

        ```sh
        # not a heading
        true
        ```

        ```sh
        true
        ```
        ''')
    assert [b.heading for b in found] == ['Real', 'Real']


@pytest.mark.parametrize('lang', ['yaml', 'yml', 'sh', 'shell', 'bash', 'console'])
def test_example_languages_are_run_by_default(lang):
    body = '- hosts: all\n  tasks: []' if lang in ('yaml', 'yml') else 'true'
    [block] = blocks('```%s\n%s\n```\n' % (lang, body))
    assert block.kind in ('playbook', 'shell')


@pytest.mark.parametrize('lang', ['text', 'json', 'jsonc', 'ini', '', 'python', 'markdown'])
def test_other_languages_are_illustrations(lang):
    [block] = blocks('```%s\n{"a": 1}\n```\n' % lang)
    assert block.kind == 'illustration'


def test_markers_right_before_a_fence():
    [block] = blocks('''\
        Some prose.

        <!-- doctest: skip="needs your real gateway" -->
        <!-- doctest: hosts=localhost -->

        ```yaml
        - hosts: laptops
          roles: [x]
        ```
        ''')
    assert block.markers == {'skip': 'needs your real gateway', 'hosts': 'localhost'}
    assert block.skip == 'needs your real gateway'
    assert block.marker_line == 3


def test_a_marker_may_span_lines_and_other_comments_are_ignored():
    [block] = blocks('''\
        <!-- a comment for editors -->
        <!-- doctest:
             expect="fails:no API key; output:nothing was changed" -->
        ```sh
        false
        ```
        ''')
    assert block.expect() == {'fails': 'no API key', 'output': 'nothing was changed'}


def test_a_marker_followed_by_prose_is_an_error_not_a_silent_no_op():
    found = blocks('''\
        <!-- doctest: skip="macOS only" -->
        This paragraph separates the marker from the block.

        ```sh
        true
        ```
        ''')
    assert [b.kind for b in found] == ['invalid', 'shell']
    assert 'not right before a fenced block' in found[0].problems[0]
    assert found[1].markers == {}


def test_a_marker_at_the_end_of_the_page_is_an_error():
    found = blocks('text\n\n<!-- doctest: skip="x" -->\n')
    assert [b.kind for b in found] == ['invalid']


@pytest.mark.parametrize('body, message', [
    ('skip', 'is not key=value'),
    ('skip=""', 'skip needs a reason'),
    ('run=yes', 'unknown marker key "run"'),
    ('hosts=everywhere', 'hosts must be one of'),
    ('env=dirty', 'env must be one of'),
    ('file=/etc/passwd', 'relative path inside the project'),
    ('file=../outside.yml', 'relative path inside the project'),
    ('expect="ready=two"', 'unknown expect claim'),
    ('expect="fails"', 'unknown expect claim'),
    ('vars="developer"', 'vars must be NAME=VALUE'),
    ('skip="a" skip="b"', 'given twice'),
    ('skip="unterminated', 'cannot read the marker'),
])
def test_unreadable_markers_make_the_block_invalid(body, message):
    [block] = blocks('<!-- doctest: %s -->\n```sh\ntrue\n```\n' % body)
    assert block.kind == 'invalid'
    assert message in block.problems[0]


def test_expect_claims():
    assert md.parse_expect('fails:no API key') == {'fails': 'no API key'}
    assert md.parse_expect('ready=2; models:openai/gpt-4o-mini, openai/gpt-4o ; changed') == {
        'ready': 2, 'models': ['openai/gpt-4o-mini', 'openai/gpt-4o'], 'changed': True}
    assert md.parse_expect('not-ready:auto is not listed') == {'not-ready': 'auto is not listed'}
    assert md.parse_expect('') == {}


def test_an_unclosed_fence_is_invalid():
    [block] = blocks('```sh\ntrue\n')
    assert block.kind == 'invalid' and 'never closed' in block.problems[0]


# ------------------------------------------------------------------------ classification
def test_playbook_task_list_inventory_vars_and_data():
    def kind(yaml_text):
        [block] = blocks('```yaml\n%s```\n' % textwrap.dedent(yaml_text))
        return block.kind

    assert kind('- hosts: laptops\n  roles: [r]\n') == 'playbook'
    assert kind('- import_playbook: site.yml\n- hosts: all\n  tasks: []\n') == 'playbook'
    assert kind('- name: x\n  omniroute.opencode.provider:\n    base_url: u\n') == 'tasks'
    assert kind('- ansible.builtin.debug: {msg: hi}\n- block:\n    - ansible.builtin.debug: {msg: hi}\n') == 'tasks'
    assert kind('laptops:\n  hosts:\n    laptop1:\n    laptop2:\n') == 'inventory'
    assert kind('all:\n  children:\n    laptops:\n      hosts: {a: }\n') == 'inventory'
    assert kind('opencode_base_url: https://omniroute.example.com\n') == 'vars'
    # A list of users is data, not tasks (api_key is no module).
    assert kind('- name: alice\n  api_key: sk-...\n- name: bob\n') == 'data'
    assert kind('[auto, claude-opus-4-7]\n') == 'data'
    assert kind('$ANSIBLE_VAULT;1.1;AES256\n6162\n') == 'data'
    assert kind('secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n') == 'vars'


def test_a_list_mixing_plays_and_tasks_and_bad_yaml_are_invalid():
    [mixed] = blocks('```yaml\n- hosts: all\n- ansible.builtin.debug: {msg: x}\n```\n')
    [bad] = blocks('```yaml\nkey: [unclosed\n```\n')
    assert mixed.kind == 'invalid' and 'mixes plays and tasks' in mixed.problems[0]
    assert bad.kind == 'invalid' and bad.problems[0].startswith('not valid YAML')


@pytest.mark.parametrize('first, name', [
    ("# site.yml \u2014 every developer's OpenCode on every laptop", 'site.yml'),
    ('# group_vars/laptops.yml', 'group_vars/laptops.yml'),
    ('# group_vars/laptops/vault.yml (encrypt it: see below)', 'group_vars/laptops/vault.yml'),
    ('# inventory', 'inventory'),
    ('# inventory/hosts.yml - the laptops', 'inventory/hosts.yml'),
    ('#site.yml', 'site.yml'),
    ('# 1. per user', None),
    ('# Fleet-wide settings (plain text).', None),
    ('# hosts: every laptop', None),
    ('# Switching a host back to per-user configs', None),
    ('opencode_models: [auto]  # site.yml', None),
])
def test_a_first_line_comment_names_the_file(first, name):
    [block] = blocks('```yaml\n%s\nopencode_models: [auto]\n```\n' % first)
    assert block.name == name


def test_an_absolute_first_line_name_is_a_laptop_file_never_saved():
    [block] = blocks('```yaml\n# /etc/omniroute-opencode/pull.yml, no key in it\nopencode_users: []\n```\n')
    assert block.name is None and block.abs_name == '/etc/omniroute-opencode/pull.yml'


def test_the_file_marker_names_any_block_and_keeps_its_kind():
    found = blocks('''\
        <!-- doctest: file=inventory.ini -->
        ```ini
        [laptops]
        laptop1
        ```

        <!-- doctest: file=playbooks/site.yml -->
        ```yaml
        - hosts: laptops
          roles: [r]
        ```

        <!-- doctest: file=scripts/check.sh -->
        ```sh
        exit 1
        ```
        ''')
    assert [(b.kind, b.name) for b in found] == [
        ('inventory', 'inventory.ini'), ('playbook', 'playbooks/site.yml'), ('file', 'scripts/check.sh')]


def test_an_ini_block_named_in_its_first_line_is_saved():
    [block] = blocks('```ini\n# inventory\n[laptops]\nlaptop1.example.com\n```\n')
    assert (block.kind, block.name) == ('inventory', 'inventory')


# ------------------------------------------------------------------------ helpers
def test_inventory_hosts_yaml_and_ini():
    data = md.yaml.safe_load(textwrap.dedent('''\
        laptops:
          hosts:
            laptop1.example.com:
            laptop2.example.com: {ansible_python_interpreter: /usr/bin/python3}
          children:
            macs:
              hosts: {mbp: }
        control:
          hosts:
            localhost: {ansible_connection: local}
        '''))
    assert md.yaml_inventory_hosts(data) == {
        'laptop1.example.com': {}, 'laptop2.example.com': {'ansible_python_interpreter': '/usr/bin/python3'},
        'mbp': {}, 'localhost': {'ansible_connection': 'local'}}
    ini = textwrap.dedent('''\
        # the laptops
        [laptops]
        laptop1.example.com ansible_user=admin
        laptop2.example.com   ; a comment

        [laptops:vars]
        ansible_python_interpreter=/usr/bin/python3

        [all:children]
        laptops
        ''')
    assert md.ini_inventory_hosts(ini) == {'laptop1.example.com': {'ansible_user': 'admin'}, 'laptop2.example.com': {}}


def test_play_patterns_and_local_plays():
    plays = [{'hosts': 'laptops:&linux'}, {'hosts': ['developers', 'localhost']}, {'hosts': 'laptops'}]
    assert md.play_patterns(plays) == ['laptops', 'linux', 'developers', 'localhost']
    assert md.is_local_pattern('localhost') and not md.is_local_pattern('laptops')


def test_a_shell_block_names_a_file():
    text = 'ansible-playbook -i inventory site.yml --check --diff\nansible-playbook -i inventory ./fleet.yml\n'
    assert md.names_file(text, 'site.yml')
    assert md.names_file(text, 'fleet.yml')
    assert md.names_file(text, 'playbooks/fleet.yml')
    assert not md.names_file(text, 'other-site.yml')
    assert not md.names_file('ansible-playbook my-site.yml', 'site.yml')
    assert not md.names_file('ansible-playbook site.yml.bak', 'site.yml')


def test_console_blocks_run_only_their_commands():
    text = '$ make configure\nok: [localhost]\n$ ansible-playbook -i inventory \\\n    site.yml\nPLAY RECAP\n'
    assert md.console_commands(text) == 'make configure\nansible-playbook -i inventory \\\n    site.yml\n'


def test_opencode_variables_set_by_an_example():
    data = md.yaml.safe_load(textwrap.dedent('''\
        - hosts: laptops
          vars: {opencode_report_dir: reports}
          roles:
            - role: omniroute.opencode.opencode
              vars:
                opencode_base_url: u
                opencode_users: [{name: alice}]
          tasks:
            - ansible.builtin.include_role: {name: omniroute.opencode.opencode}
              vars: {opencode_modles: [auto]}
        '''))
    assert md.opencode_variables(data) == ['opencode_report_dir', 'opencode_base_url', 'opencode_users',
                                           'opencode_modles']
    assert md.opencode_variables({'opencode_key_store': 'auth', 'other': 1}) == ['opencode_key_store']


def test_referenced_variables():
    text = 'api_key: "{{ vaulted_keys[developer] }}"\npassword: "{{vault_pw}}"\nname: "x@{{ inventory_hostname }}"'
    assert md.referenced_variables(text) == ['vaulted_keys', 'vault_pw', 'inventory_hostname']


def test_shell_examples_that_start_the_test_suite_are_found():
    assert md.suite_commands('make configure   # you\nmake test        # every test\n') == ['make test']
    assert md.suite_commands('SUITES_LANES=1 make test') == ['make test']
    assert md.suite_commands('make -C clone check && BENCH_ONLY=engine make bench') == ['make check', 'make bench']
    assert md.suite_commands('make ee EE_IMAGE=x\nmake test-molecule \\\n  MOLECULE_SCENARIOS=default') == [
        'make ee', 'make test-molecule']
    assert md.suite_commands('bash .ci/run') == ['.ci/run']
    assert md.suite_commands("make configure ARGS='--check --diff'\nmake collection && export X=1") == []
