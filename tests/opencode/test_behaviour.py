"""OpenCode behaviours the collection relies on, pinned against the real client.

When OPENCODE_VERSION is bumped and one of these fails, docs/opencode-compat.md and the module's
handling of that behaviour need a look."""

import json
import os

import pytest

from harness import Report

SCHEMA = 'https://opencode.ai/config.json'
ENTRY = {'npm': '@ai-sdk/openai-compatible', 'name': 'OmniRoute',
         'options': {'baseURL': 'http://127.0.0.1:20128/v1', 'apiKey': 'sk_omniroute'},
         'models': {'auto': {}, 'gpt-5.5': {}}}


def write(sb, rel, data):
    path = os.path.join(sb.root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', newline='') as f:
        f.write(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


def cfg(**top):
    top.setdefault('provider', {'omniroute': json.loads(json.dumps(ENTRY))})
    return top


G = 'home/.config/opencode/'


@pytest.mark.parametrize('where,extra,visible', [
    ('top', {'disabled_providers': ['omniroute']}, None),
    ('top', {'enabled_providers': ['anthropic']}, None),
    ('top', {'enabled_providers': ['anthropic', 'omniroute']}, ['auto', 'gpt-5.5']),
    ('entry', {'whitelist': ['auto']}, ['auto']),
    ('entry', {'blacklist': ['auto']}, ['gpt-5.5']),
    ('entry', {'whitelist': []}, None),
    ('entry', {'models': {}}, None),
    ('model', {'status': 'deprecated'}, ['gpt-5.5']),
    ('model', {'status': 'alpha'}, ['gpt-5.5']),
], ids=['disabled_providers', 'enabled_providers-without', 'enabled_providers-with', 'whitelist',
        'blacklist', 'whitelist-empty', 'no-models', 'status-deprecated', 'status-alpha'])
def test_settings_that_hide(sandbox_factory, where, extra, visible):
    sb = sandbox_factory()
    data = cfg()
    if where == 'top':
        data.update(extra)
    elif where == 'entry':
        data['provider']['omniroute'].update(extra)
    else:
        data['provider']['omniroute']['models']['auto'].update(extra)
    write(sb, G + 'opencode.json', data)
    report = sb.ask(parts=('models',))
    if visible is None:
        assert report.not_found, report.summary()
    else:
        assert sorted(report.models) == ['omniroute/' + m for m in visible]


OVERRIDE = {'provider': {'omniroute': {'options': {'baseURL': 'http://127.0.0.1:9/v1'}}}}


@pytest.mark.parametrize('rel,env,cwd', [
    (G + 'opencode.jsonc', {}, 'work'),
    ('team/custom.json', {'OPENCODE_CONFIG': '{root}/team/custom.json'}, 'work'),
    ('work/opencode.json', {}, 'work/a/b'),
    ('work/opencode.jsonc', {}, 'work'),
    ('work/.opencode/opencode.json', {}, 'work'),
    ('home/.opencode/opencode.json', {}, 'work'),
    ('extra/opencode.json', {'OPENCODE_CONFIG_DIR': '{root}/extra'}, 'work'),
    (None, {'OPENCODE_CONFIG_CONTENT': json.dumps(OVERRIDE)}, 'work'),
    ('etc/opencode.json', {'OPENCODE_TEST_MANAGED_CONFIG_DIR': '{root}/etc'}, 'work'),
], ids=['global-jsonc', 'OPENCODE_CONFIG', 'project-parent', 'project-jsonc', 'project-.opencode',
        'home-.opencode', 'OPENCODE_CONFIG_DIR', 'OPENCODE_CONFIG_CONTENT', 'managed-etc'])
def test_sources_that_override_global_opencode_json(sandbox_factory, rel, env, cwd):
    sb = sandbox_factory(env=env, cwd=cwd)
    write(sb, G + 'opencode.json', cfg())
    if rel:
        write(sb, rel, OVERRIDE)
    report = sb.ask()
    assert report.base_url == 'http://127.0.0.1:9/v1'
    assert sorted(report.models) == ['omniroute/auto', 'omniroute/gpt-5.5']


def test_project_config_can_be_disabled(sandbox_factory):
    sb = sandbox_factory(env={'OPENCODE_DISABLE_PROJECT_CONFIG': '1'})
    write(sb, G + 'opencode.json', cfg())
    write(sb, 'work/opencode.json', OVERRIDE)
    assert sb.ask(parts=('config',)).base_url == ENTRY['options']['baseURL']


def test_xdg_config_home_replaces_dot_config(sandbox_factory):
    sb = sandbox_factory(env={'XDG_CONFIG_HOME': '{root}/xdg'})
    write(sb, G + 'opencode.json', cfg())
    assert sb.ask(parts=('models',)).not_found
    write(sb, 'xdg/opencode/opencode.json', cfg())
    assert sb.ask(parts=('config',)).base_url == ENTRY['options']['baseURL']


def test_global_files_deep_merge(sandbox_factory):
    """config.json < opencode.json < opencode.jsonc; models of a lower file are merged in."""
    sb = sandbox_factory()
    write(sb, G + 'config.json', {'provider': {'omniroute': {'options': {'baseURL': 'http://127.0.0.1:1/v1'},
                                                             'models': {'stale': {}}}}})
    write(sb, G + 'opencode.json', cfg())
    write(sb, G + 'opencode.jsonc', {'provider': {'omniroute': {'options': {'baseURL': 'http://127.0.0.1:2/v1'}}}})
    report = sb.ask()
    assert report.base_url == 'http://127.0.0.1:2/v1'
    assert sorted(report.models) == ['omniroute/auto', 'omniroute/gpt-5.5', 'omniroute/stale']


def test_schema_insertion(sandbox_factory):
    """A loaded file without $schema is rewritten: '{' -> '{\\n  "$schema": ...,' (LF, 2 spaces),
    whatever its own newline/indent style; a file with any $schema, or starting with a comment,
    is left byte-identical."""
    sb = sandbox_factory(env={'OPENCODE_CONFIG': '{root}/c/crlf.json', 'OPENCODE_CONFIG_DIR': '{root}/d'})
    crlf = '{\r\n\t"autoupdate": false\r\n}\r\n'
    p_crlf = write(sb, 'c/crlf.json', crlf)
    keep = {
        G + 'opencode.json': '{\r\n  "$schema": "https://example.invalid/s.json",\r\n  "autoupdate": false\r\n}\r\n',
        'd/opencode.json': '// header\n{\n  "autoupdate": false\n}\n',
    }
    for rel, text in keep.items():
        write(sb, rel, text)
    assert sb.ask(parts=('config',)).config_rc == 0
    with open(p_crlf, newline='') as f:
        assert f.read() == '{\n  "$schema": "%s",\r\n\t"autoupdate": false\r\n}\r\n' % SCHEMA
    for rel, text in keep.items():
        with open(os.path.join(sb.root, rel), newline='') as f:
            assert f.read() == text, rel


def test_first_start_creates_opencode_jsonc(sandbox_factory):
    sb = sandbox_factory(fresh=True)
    assert sb.ask(parts=('config',)).config_rc == 0
    cdir = os.path.join(sb.home, '.config', 'opencode')
    with open(os.path.join(cdir, 'opencode.jsonc'), newline='') as f:
        assert f.read() == '{\n  "$schema": "%s"\n}' % SCHEMA


@pytest.mark.parametrize('existing', ['config.json', 'opencode.json'])
def test_no_jsonc_when_a_global_file_exists(sandbox_factory, existing):
    sb = sandbox_factory()
    write(sb, G + existing, cfg(**{'$schema': SCHEMA}))
    assert sb.ask(parts=('models',)).models == ['omniroute/auto', 'omniroute/gpt-5.5']
    assert sorted(f for f in os.listdir(os.path.join(sb.home, '.config', 'opencode'))
                  if f.endswith(('.json', '.jsonc'))) == [existing]


def test_tui_keys_dropped_not_moved_by_cli(sandbox_factory):
    """theme/keybinds/tui are removed from the resolved config; only the TUI moves them to
    tui.json, the CLI commands used here leave the file alone."""
    sb = sandbox_factory()
    text = json.dumps(cfg(**{'$schema': SCHEMA, 'theme': 'tokyonight', 'keybinds': {'leader': 'ctrl+x'},
                             'tui': {'scroll_speed': 3}}), indent=2)
    path = write(sb, G + 'opencode.json', text)
    report = sb.ask()
    assert not {'theme', 'keybinds', 'tui'} & set(report.config)
    assert report.models == ['omniroute/auto', 'omniroute/gpt-5.5']
    with open(path) as f:
        assert f.read() == text
    assert not os.path.exists(os.path.join(sb.home, '.config', 'opencode', 'tui.json'))


def test_debug_config_masks_keys(sandbox_factory):
    sb = sandbox_factory()
    data = cfg()
    data['provider']['omniroute']['options']['apiKey'] = 'sk-visible-if-not-masked-123'
    write(sb, G + 'opencode.json', data)
    report = sb.ask(parts=('config',))
    assert report.entry['options']['apiKey'] == '***'
    sb.assert_no_secret('sk-visible-if-not-masked-123')


@pytest.mark.parametrize('models', [ENTRY['models'], {}], ids=['configured', 'no-models'])
def test_models_database_knows_no_omniroute(sandbox_factory, models):
    """The other tests, and the docs suite, ask `models <name>` without the models.dev database
    first (harness.list_models: about 1.2 CPU seconds less a run). That stands only while the
    database OpenCode ships knows no `omniroute` provider: then the listing comes from the config
    alone. Proved here against the built-in snapshot, which is loaded (its own providers list
    models), for an entry with models and for one without."""
    sb = sandbox_factory()
    data = cfg()
    data['provider']['omniroute']['models'] = models
    write(sb, G + 'opencode.json', data)
    everything = sb.run_opencode('models')
    assert everything.returncode == 0, everything.stderr
    from_database = [line for line in everything.stdout.split() if not line.startswith('omniroute/')]
    assert from_database, 'the built-in models.dev snapshot was not loaded: %s' % everything.stdout
    builtin = Report(None, sb.run_opencode('models', 'omniroute'), 'omniroute')
    without = Report(None, sb.run_opencode('models', 'omniroute',
                                           env={'OPENCODE_MODELS_PATH': sb.empty_models_database()}),
                     'omniroute')
    assert (builtin.models_rc, builtin.models, builtin.not_found) == (without.models_rc, without.models, without.not_found), \
        (builtin.summary(), without.summary())
    if models:
        assert builtin.models == ['omniroute/auto', 'omniroute/gpt-5.5']
    else:
        assert builtin.not_found, builtin.summary()
