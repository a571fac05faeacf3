"""Plan-only pass over every corpus case (make check): present, present again, absent on each
fixture through the module_utils functions the modules use (_configure.plan / describe), with
no OpenCode and no Ansible process. The real-OpenCode pass is tests/opencode/test_corpus.py.

Each planned change is written with a plain write, standing in for the module's atomic write
(tested by the unit and integration tests), so the next step plans against the new text.
"""

import json
import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'opencode'))

from harness import Sandbox, load_cases, model_ids, normalize_base_url  # noqa: E402
from test_corpus import keep_markers  # noqa: E402  (the same KEEP rule as the OpenCode pass)

from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg  # noqa: E402
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse  # noqa: E402

CASES = load_cases()
KEY = 'sk-plan-only-3b7e1c9d5a2f'
XDG = ('XDG_CONFIG_HOME', 'XDG_DATA_HOME')


def write(change):
    os.makedirs(os.path.dirname(change.real), exist_ok=True)
    with open(change.real, 'w', encoding='utf-8', newline='') as handle:
        handle.write(change.new)


def text_of(path):
    with open(path, encoding='utf-8', newline='') as handle:
        return handle.read()


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_plan_present_present_absent(case, tmp_path, monkeypatch):
    sb = Sandbox(str(tmp_path), None, env=case.get('env'), cwd=case.get('cwd', 'work'))
    sb.lay_out(case['dir'], case.get('symlinks'))
    # The functions read HOME and the XDG variables the way the module does, from the process.
    monkeypatch.setenv('HOME', sb.home)
    for var in XDG:
        monkeypatch.delenv(var, raising=False)
    for var, value in sb.sub(case.get('env', {})).items():
        if var in XDG:
            monkeypatch.setenv(var, value)
    environ = dict(os.environ)

    params = dict(cfg.PARAM_DEFAULTS)
    params.update(sb.sub(case['params']))
    if 'api_key' not in case['params']:
        params['api_key'] = KEY
    name = params['name']
    want_url = normalize_base_url(params['base_url'])
    want_models = model_ids(params['models'])
    original = sb.snapshot()
    markers = keep_markers(original)

    for step, (state, want_changed) in enumerate((('present', True), ('present', False), ('absent', True))):
        label = 'step %d (%s)' % (step + 1, state)
        plan = cfg.plan(dict(params, state=state), environ, who='plan-only test')
        assert bool(plan.changes) == want_changed, '%s: planned %s' % (label, [c.words for c in plan.changes])
        if 'target' in case:
            assert plan.target == sb.path(case['target']), label
        shown = json.dumps(cfg.describe(plan, [params['api_key']], diff=True))
        assert KEY not in shown, '%s: the key shows in the result or diff' % label
        for change in plan.changes:
            write(change)

        target = text_of(plan.target)
        data = parse(target) or {}
        entry = data.get('provider', {}).get(name)
        if state == 'present':
            assert entry is not None, '%s: no provider.%s in %s' % (label, name, plan.target)
            assert entry['options']['baseURL'] == want_url, label
            assert sorted(entry['models']) == sorted(want_models), label
            assert name not in data.get('disabled_providers', []), label
            if params['key_store'] == 'config':
                assert entry['options']['apiKey'] == params['api_key'], label
            else:
                assert 'apiKey' not in entry['options'], label
                assert json.loads(text_of(plan.auth_path))[name] == {'type': 'api', 'key': params['api_key']}
            preserve = case.get('preserve', {})
            if preserve.get('newline') == 'crlf':
                kept = text_of(sb.path(preserve['file']))
                assert kept.count('\n') == kept.count('\r\n'), '%s: LF-only lines in a CRLF file' % label
            if preserve.get('indent') == 'tab':
                bad = [ln for ln in text_of(sb.path(preserve['file'])).splitlines() if re.match(r'^\t* +\S', ln)]
                assert not bad, '%s: space-indented lines in a tab file: %r' % (label, bad[:3])
        else:
            assert entry is None, '%s: provider.%s still in %s' % (label, name, plan.target)
            if os.path.exists(plan.auth_path):
                assert name not in json.loads(text_of(plan.auth_path)), label
        # Comments marked KEEP survive every step, byte for byte.
        for rel, found in markers.items():
            now = text_of(sb.path(rel)) if os.path.exists(sb.path(rel)) else ''
            for comment in found:
                assert comment in now, '%s: comment lost in %s: %r' % (label, rel, comment)
    for link in case.get('symlinks', {}):
        assert os.path.islink(sb.path(link)), 'symlink %s replaced by a file' % link
