"""Every corpus case through present, present again, absent, present, asking the real OpenCode
after each step what it resolved. See tests/corpus/README.md for the cases."""

import json
import os
import re
import stat

import pytest

from harness import WellKnownServer, fill_in, load_cases, model_ids, normalize_base_url, record

CASES = load_cases()
CONFIG_NAMES = ('config.json', 'opencode.json', 'opencode.jsonc', 'tui.json')
STEPS = (('present', True), ('present', False), ('absent', True), ('present', True))


def comments(text):
    """The // and /* */ comments of a JSONC text (strings skipped)."""
    found, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == '\\' else 1
            i += 1
        elif text.startswith('//', i):
            j = i
            while j < n and text[j] not in '\r\n':
                j += 1
            found.append(text[i:j])
            i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            found.append(text[i:j])
            i = j
        else:
            i += 1
    return found


def keep_markers(snapshot):
    out = {}
    for rel, data in snapshot.items():
        if rel.endswith(('.json', '.jsonc')):
            found = [c for c in comments(data.decode('utf-8', 'replace')) if 'KEEP' in c]
            if found:
                out[rel] = found
    return out


def resolve(sb, rel):
    return os.path.realpath(sb.path(rel))


@pytest.fixture
def wellknown():
    server = WellKnownServer()
    yield server.url
    server.close()


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_corpus_case(case, sandbox_factory, api_key, results, opencode_version, wellknown):
    name = case['params'].get('name', 'omniroute')
    mode = case.get('expect', {}).get('mode', 'exact')
    env = case.get('env', {})
    cwd = case.get('cwd', 'work')

    # What OpenCode resolves from the untouched corpus: its config (the providers every step is
    # compared with; in a separate copy, because OpenCode itself may rewrite the files it loads).
    base = sandbox_factory('baseline', env=env, cwd=cwd)
    base.lay_out(case['dir'], case.get('symlinks'))
    fill_in(base.root, case.get('templated', []), {'wellknown': wellknown})
    before = base.ask(name, parts=('config',))
    assert before.config_rc == 0, 'corpus case is not a valid OpenCode config: %s' % before.raw['config_err']
    providers0 = set(before.providers)

    sb = sandbox_factory('case', env=env, cwd=cwd, fresh=case.get('fresh_start', False))
    sb.lay_out(case['dir'], case.get('symlinks'))
    fill_in(sb.root, case.get('templated', []), {'wellknown': wellknown})
    original = sb.snapshot()
    markers = keep_markers(original)
    args = dict(case['params'])
    args.setdefault('api_key', api_key)
    args.setdefault('base_url', 'http://localhost:20128')
    want_url = normalize_base_url(args['base_url'])
    want_models = sorted('%s/%s' % (name, m) for m in model_ids(args.get('models', [])))
    key_store = args.get('key_store', 'config')

    observed = dict(case=case['name'], purpose=case['purpose'], opencode=opencode_version,
                    before=before.summary(), steps=[])
    failures = []

    def check(cond, msg):
        if not cond:
            failures.append(msg)

    answers = {}
    for index, (state, want_changed) in enumerate(STEPS):
        step_args = dict(args, state=state)
        label = 'step %d (%s)' % (index + 1, state)
        # Each step is proved for both modules (Sandbox.module_and_twin: the other module's
        # files must be the same bytes and modes); only the result of the module under test is
        # shown to OpenCode. (This replaces a second pass of the whole corpus through the users
        # module.) The first step, which writes the entry, goes through the ansible CLI with
        # --diff, as a user runs it, and every step of a `verbose` case with -vvv; the other
        # steps run the module in its own process, as Ansible starts it on a target: the CLI
        # around it costs about 1.2 CPU seconds a run and shows the same result (its output
        # without secrets in every mode is also proved by tests/unit's *_processes tests).
        res = sb.module_and_twin(step_args, verbose=case.get('verbose', False), label=label,
                                 cli=index == 0)
        assert res['_status'] in ('CHANGED', 'SUCCESS'), '%s: module failed: %s' % (label, res.get('msg'))
        written = sb.snapshot()
        # Files exactly as at an earlier question in this sandbox (same environment): OpenCode's
        # answer is the same, so it is not asked again. That is the idempotent step, and usually
        # the last one, which puts back what the first wrote. An answer is kept only when
        # OpenCode left every file as it was; the one thing its first start adds,
        # ~/.config/opencode/.gitignore, is not config, so the answer also stands for the files
        # with it.
        # After absent, OpenCode's `models <name>` answer is the evidence (the provider is not
        # found); whether the other providers survived is checked by the next present step,
        # which compares every provider with the untouched corpus.
        parts = ('config', 'models') if state == 'present' else ('models',)
        seen = tuple(sorted(written.items()))
        report = answers.get(seen)
        asked = report is None or not set(parts) <= set(report.asked)
        if asked:
            report = sb.ask(name, parts=parts)
        after = sb.snapshot()
        added = set(after) - set(written)
        if (all(after.get(rel) == data for rel, data in written.items())
                and all(os.path.basename(rel) == '.gitignore' for rel in added)):
            answers.setdefault(seen, report)
            answers.setdefault(tuple(sorted(after.items())), report)
        step = dict(state=state, changed=res['changed'], seconds=res['_seconds'],
                    changes=res.get('changes'), warnings=res['_warnings'], opencode=report.summary(),
                    asked=asked)
        observed['steps'].append(step)

        check(res['changed'] == want_changed,
              '%s: module changed=%s, want %s (changes: %s)' % (label, res['changed'], want_changed,
                                                                res.get('changes')))
        if 'target' in case:
            check(res['path'] == sb.path(case['target']),
                  '%s: module edited %s, want %s' % (label, res['path'], sb.path(case['target'])))

        # No churn: OpenCode leaves what the module wrote alone and creates no config file.
        for rel in written:
            if rel in after and after[rel] != written[rel]:
                mine = sb.path(rel) in res.get('files', []) or resolve(sb, rel) == os.path.realpath(res['path'])
                msg = '%s: OpenCode rewrote %s%s' % (label, rel, ' (written by the module)' if mine else '')
                step.setdefault('opencode_rewrote', []).append(rel)
                if mine:
                    check(False, msg)
        # (A first start creates opencode.jsonc where there is no global file at all; that only
        # matters next to the file the module manages.)
        for rel in set(after) - set(written):
            if (os.path.basename(rel) in CONFIG_NAMES
                    and os.path.dirname(sb.path(rel)) == os.path.dirname(res['path'])):
                check(False, '%s: OpenCode created %s' % (label, rel))

        # Strings that must be gone from every file once the module ran (stale duplicate keys).
        for rel, data in after.items():
            for gone in case.get('gone', []):
                check(gone.encode() not in data, '%s: %s still in %s' % (label, gone, rel))
        # A byte order mark stays where it was.
        if case.get('bom'):
            check(after.get(case['bom'], b'').startswith(b'\xef\xbb\xbf{'),
                  '%s: the byte order mark of %s was lost' % (label, case['bom']))

        # Comments marked KEEP survive every step.
        for rel, found in markers.items():
            text = after.get(rel, b'').decode('utf-8', 'replace')
            for comment in found:
                check(comment in text, '%s: comment lost in %s: %r' % (label, rel, comment))

        if 'config' in report.asked and report.config_rc != 0:
            check(False, '%s: OpenCode rejects the config: %s' % (label, report.summary()))
            continue

        if state == 'present':
            if mode == 'exact':
                check(not report.models_rc and sorted(report.models) == want_models,
                      '%s: OpenCode offers %s, want %s' % (label, report.summary()['models'], want_models))
                check(report.base_url == want_url,
                      '%s: OpenCode uses baseURL %r, want %r' % (label, report.base_url, want_url))
                check(set(report.providers) == providers0 | {name},
                      '%s: providers %s, want %s' % (label, report.providers, sorted(providers0 | {name})))
                opts = (report.entry or {}).get('options') or {}
                if key_store == 'auth':
                    check('apiKey' not in opts, '%s: config still sets apiKey (hides auth.json)' % label)
                else:
                    check(opts.get('apiKey') == '***', '%s: no apiKey resolved: %r' % (label, opts.get('apiKey')))
            else:
                exp = case['expect']
                if exp.get('hidden'):
                    check(report.not_found, '%s: expected OpenCode to hide %s, got %s' % (label, name, report.summary()))
                else:
                    check(report.base_url == exp['url'],
                          '%s: expected the override %s, got %s' % (label, exp['url'], report.base_url))
                    check(sorted(report.models) == sorted('%s/%s' % (name, m) for m in exp['models']),
                          '%s: models %s' % (label, report.models))
            # The file the module wrote carries its entry even where OpenCode is overridden.
            preserve = case.get('preserve', {})
            target_bytes = after.get(preserve.get('file', ''), b'')
            if preserve:
                check(target_bytes, '%s: %s, whose line endings and indentation are checked, is missing or empty'
                      % (label, preserve.get('file')))
            if preserve.get('newline') == 'crlf':
                check(target_bytes.count(b'\n') == target_bytes.count(b'\r\n'),
                      '%s: LF-only lines in a CRLF file' % label)
            if preserve.get('indent') == 'tab':
                bad = [ln for ln in target_bytes.decode().splitlines() if re.match(r'^\t* +\S', ln)]
                check(not bad, '%s: space-indented lines in a tab file: %r' % (label, bad[:3]))
        else:
            check(report.not_found, '%s: after absent OpenCode still offers %s: %s' % (label, name, report.summary()))

        if key_store == 'auth':
            auth = sb.path(os.path.join(sb.sub(env.get('XDG_DATA_HOME', '{root}/home/.local/share')), 'opencode', 'auth.json'))
            with open(auth) as f:
                stored = json.load(f)
            if state == 'present':
                check(stored.get(name) == {'type': 'api', 'key': args['api_key']},
                      '%s: auth.json has no api entry for %s' % (label, name))
                check(stat.S_IMODE(os.stat(auth).st_mode) == 0o600, '%s: auth.json not 0600' % label)
            else:
                check(name not in stored, '%s: auth.json still holds %s' % (label, name))
            check(set(stored) - {name} == set(json.loads(original.get(os.path.relpath(auth, sb.root), b'{}'))) - {name},
                  '%s: other credentials lost' % label)

    for link in case.get('symlinks', {}):
        check(os.path.islink(sb.path(link)), 'symlink %s replaced by a file' % link)

    observed['warnings'] = sorted(set(sb.warnings))
    observed['failures'] = failures
    record(results, case['name'], json.loads(json.dumps(observed).replace(sb.root, '{root}')))
    sb.assert_no_secret(api_key, *case.get('secrets', []))
    # Secrets of the user's files that OpenCode's own debug output may show, but the module never.
    sb.assert_no_secret(*case.get('module_secrets', []), only=('ansible', 'module'))
    base.assert_no_secret(*case.get('secrets', []))
    assert not failures, '\n'.join(failures)
