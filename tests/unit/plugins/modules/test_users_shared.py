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
from ansible_collections.omniroute.opencode.plugins.modules import provider
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import models_gateway, run_module
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.test_users import (  # noqa: F401 pylint: disable=unused-import
    KEY, ME, home, run)

MODELS = [{'id': 'openai/gpt-4o', 'context_length': 128000, 'max_output_tokens': 16384}]


def test_catalog_and_verify_ask_the_gateway_once_per_users_process(home, capsys):
    with models_gateway(KEY, MODELS) as (url, seen):
        rc, res, out = run(capsys, {'users': [{'name': ME, 'api_key': KEY}], 'base_url': url,
                                    'catalog': 'gateway', 'verify': True})
    assert rc == 0 and KEY not in out
    mine = res['users'][ME]
    assert mine['models'] == ['openai/gpt-4o'] and mine['verify']['key_accepted'] is True
    # Before: one request for the catalog and one for verify.
    assert seen == [('/v1/models', 'Bearer ' + KEY)]


def test_the_provider_module_asks_once_for_catalog_and_verify(home, capsys):
    with models_gateway(KEY, MODELS) as (url, seen):
        rc, res, out = run_module(provider.main, capsys, {'api_key': KEY, 'base_url': url, 'catalog': 'gateway',
                                                          'verify': True})
    assert rc == 0 and KEY not in out and res['verify']['key_accepted'] is True
    assert seen == [('/v1/models', 'Bearer ' + KEY)]


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
    params = dict(cfg.PARAM_DEFAULTS, api_key=KEY, verify=True, base_url='http://127.0.0.1:9')
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
