# -*- coding: utf-8 -*-
"""Issue 22: what the users module does once per host instead of once per user, and what it never
shares. Non-root part: one user (the one running the tests); the uid-switching part is in
test_users_shared_processes.py.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _layout
from ansible_collections.omniroute.opencode.plugins.modules import provider, users
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import models_gateway, run_module
# ``home`` comes from tests/unit/conftest.py (tests/support).
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.test_users import KEY, ME
from ansible_collections.omniroute.opencode.tests.support.http_server import CLOSED


def run(capsys, args, check=False, diff=False):
    """The users module as Ansible runs it (host named as the role names it)."""
    args = dict(args)
    args.setdefault('host', 'laptop9')
    return run_module(users.main, capsys, args, check, diff)


MODELS = [{'id': 'openai/gpt-4o', 'context_length': 128000, 'max_output_tokens': 16384}]


def test_catalog_and_verify_ask_the_gateway_once_per_users_process(home, capsys):
    with models_gateway(KEY, MODELS) as (url, seen):
        rc, res, out = run(capsys, {'users': [{'name': ME, 'api_key': KEY}], 'base_url': url,
                                    'catalog': 'gateway', 'verify': True})
    assert rc == 0 and KEY not in out
    mine = res['users'][ME]
    assert mine['models'] == ['openai/gpt-4o'] and mine['verify']['key_accepted'] is True
    # Before: one request for the catalog and one for verify.
    assert list(seen) == [('/v1/models', 'Bearer ' + KEY)]


def test_the_provider_module_asks_once_for_catalog_and_verify(home, capsys):
    with models_gateway(KEY, MODELS) as (url, seen):
        rc, res, out = run_module(provider.main, capsys, {'api_key': KEY, 'base_url': url, 'catalog': 'gateway',
                                                          'verify': True})
    assert rc == 0 and KEY not in out and res['verify']['key_accepted'] is True
    assert list(seen) == [('/v1/models', 'Bearer ' + KEY)]


def test_answers_are_shared_per_key_and_only_inside_a_run(home):
    with models_gateway(KEY, MODELS) as (url, seen):
        with gw.share_answers():
            first = gw.fetch_models(url + '/v1', KEY, 5, True)
            again = gw.fetch_models(url + '/v1', KEY, 5, True)
            other = gw.fetch_models(url + '/v1', 'sk-someone-else-000000', 5, True)
            gw.forget_answers(KEY)
            assert gw._SHARED[-1] and all(k[1] == KEY for k in gw._SHARED[-1])  # pylint: disable=protected-access
        after = gw.fetch_models(url + '/v1', KEY, 5, True)
    assert first is again and first.outcome == gw.OK and other.outcome == gw.REJECTED and after.outcome == gw.OK
    # Two keys, two questions; outside share_answers every call asks.
    assert [h for _p, h in seen] == ['Bearer ' + KEY, 'Bearer sk-someone-else-000000', 'Bearer ' + KEY]


def test_verify_takes_the_layers_the_plan_read_from_the_plan(home, monkeypatch):
    """~/.opencode is read by the plan (it is merged after the global files); verify used to read it
    a second time."""
    dot = home / '.opencode' / 'opencode.json'
    dot.parent.mkdir()
    dot.write_text('{"small_model": "anthropic/claude-haiku-4-5"}\n')
    params = dict(cfg.PARAM_DEFAULTS, api_key=KEY, verify=True, base_url=CLOSED)
    user_plan = cfg.plan(params, dict(os.environ), 'user %s on laptop9' % ME)
    assert str(dot) in user_plan.texts
    reads = []
    real = _layout.read_bounded
    monkeypatch.setattr(_layout, 'read_bounded', lambda path, limit: reads.append(path) or real(path, limit))
    result = gw.verify(dict(params, base_url=user_plan.spec.base_url), KEY, dict(os.environ), str(home),
                       target=user_plan.target, configured=user_plan.spec.model_ids,
                       pending=cfg.known_texts(user_plan))
    assert str(dot) not in reads
    assert [(layer['path'], layer['effects']) for layer in result['layers']] == [
        (str(dot), ['sets small_model to anthropic/claude-haiku-4-5'])]


def _counting_script(tmp_path, version):
    counter = tmp_path / 'runs'
    script = tmp_path / 'opencode'
    script.write_text('#!/bin/sh\necho run >> %s\necho %s\n' % (counter, version))
    script.chmod(0o755)
    return script, counter


def test_opencode_info_reuses_a_shared_answer_only_for_that_very_file_and_path(tmp_path, monkeypatch):
    script, counter = _counting_script(tmp_path, '1.2.3')
    layout = _layout.Layout(dict(os.environ, PATH=str(tmp_path), HOME=str(tmp_path)), str(tmp_path))
    monkeypatch.setattr(_layout, '_VERSIONS', {})
    _layout.share_version(_layout.binary_identity(str(script)), ('9.9.9', None), os.environ.get('PATH', os.defpath))
    assert _layout.opencode_info(layout)['opencode_version'] == '9.9.9' and not counter.exists()
    # Another PATH (the answer of a launcher can depend on it): asked again.
    monkeypatch.setenv('PATH', str(tmp_path) + os.pathsep + os.environ.get('PATH', os.defpath))
    assert _layout.opencode_info(layout)['opencode_version'] == '1.2.3' and len(counter.read_text().split()) == 1
    # The same path but another file (replaced, or changed in place): asked again.
    _layout.share_version(_layout.binary_identity(str(script)), ('9.9.9', None), os.environ['PATH'])
    script.write_text(script.read_text().replace('1.2.3', '1.2.4'))
    assert _layout.opencode_info(layout)['opencode_version'] == '1.2.4' and len(counter.read_text().split()) == 2


# --------------------------------------------------------------------------- managed_cleanup
def _managed_entry(capsys, directory, text=None):
    """A managed config: written by the managed module (with its record), or ``text`` by hand."""
    from ansible_collections.omniroute.opencode.plugins.modules import managed
    if text is not None:
        directory.mkdir(parents=True)
        (directory / 'opencode.json').write_text(text)
        return
    rc, _res, _out = run_module(managed.main, capsys, {'directory': str(directory), 'models': ['auto'],
                                                       'base_url': 'http://gw.example.com:20128'})
    assert rc == 0


def test_managed_cleanup_names_the_managed_entry_this_collection_wrote(home, capsys):
    """Issue 22: the role's read-only managed run per host is now part of the users run."""
    etc = home / 'etc' / 'opencode'
    args = {'users': [{'name': ME, 'api_key': KEY}], 'managed_cleanup': True, 'managed_dir': str(etc)}
    rc, res, _out = run(capsys, args)
    assert rc == 0 and res['managed_files'] == [] and not etc.exists()  # nothing there
    _managed_entry(capsys, etc)
    before = (etc / 'opencode.json').read_text()
    rc, res, out = run(capsys, args, check=True)
    assert rc == 0 and res['managed_files'] == [str(etc / 'opencode.json')] and KEY not in out
    assert (etc / 'opencode.json').read_text() == before  # only read
    rc, res, _out = run(capsys, dict(args, managed_cleanup=False))
    assert rc == 0 and 'managed_files' not in res


def test_managed_cleanup_leaves_an_entry_another_tool_wrote(home, capsys):
    etc = home / 'etc' / 'opencode'
    _managed_entry(capsys, etc, '{"provider": {"omniroute": {"options": {"baseURL": "http://x/v1"}}}}\n')
    rc, res, _out = run(capsys, {'users': [{'name': ME, 'api_key': KEY}], 'managed_cleanup': True,
                                 'managed_dir': str(etc)})
    assert rc == 0 and res['managed_files'] == []


def test_managed_cleanup_without_a_present_user_is_refused_before_anything_is_written(home, capsys):
    etc = home / 'etc' / 'opencode'
    _managed_entry(capsys, etc)
    before = (etc / 'opencode.json').read_text()
    rc, res, _out = run(capsys, {'users': [{'name': ME, 'state': 'absent'}], 'managed_cleanup': True,
                                 'managed_dir': str(etc)})
    assert rc == 1 and res['managed_files'] == [str(etc / 'opencode.json')]
    assert res['msg'].startswith('host laptop9: opencode_scope user removes the managed OmniRoute entry from %s'
                                 % (etc / 'opencode.json'))
    assert 'List the developers in opencode_users' in res['msg'] and res['msg'].endswith('Nothing was changed on laptop9')
    assert (etc / 'opencode.json').read_text() == before
    rc, res, _out = run(capsys, {'users': [], 'managed_cleanup': True, 'managed_dir': str(etc)})
    assert rc == 1 and 'opencode_users lists no developer to configure on laptop9' in res['msg']


def test_verify_reads_the_managed_entry_as_the_cleanup_leaves_it(home, capsys, monkeypatch):
    """Back in user scope the role removes the managed entry after the users run: the same run's
    verify must not call each user overridden by it (and still does without managed_cleanup)."""
    etc = home / 'etc' / 'opencode'
    monkeypatch.setenv('OPENCODE_TEST_MANAGED_CONFIG_DIR', str(etc))
    _managed_entry(capsys, etc)
    with models_gateway(KEY, MODELS) as (url, _seen):
        args = {'users': [{'name': ME, 'api_key': KEY}], 'base_url': url, 'models': ['openai/gpt-4o'],
                'verify': True, 'managed_dir': str(etc)}
        rc, res, _out = run(capsys, args, check=True)
        assert rc == 0
        layers = res['users'][ME]['verify']['layers']
        assert [layer['path'] for layer in layers] == [str(etc / 'opencode.json')], layers
        rc, res, out = run(capsys, dict(args, managed_cleanup=True), check=True)
    assert rc == 0 and res['managed_files'] == [str(etc / 'opencode.json')] and KEY not in out
    assert res['users'][ME]['verify']['layers'] == []
