"""Print the per-case results of the last `make test-opencode` as Markdown.

    python tests/opencode/render_report.py [.build/opencode-report]

The output is pasted into docs/opencode-compat.md ("What OpenCode reported per corpus case")."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(os.path.dirname(os.path.dirname(HERE)), '.build', 'opencode-report')


def short(rep):
    if 'error' in rep:
        return 'config error: ' + rep['error']
    models = rep.get('models')
    if models is None:  # the untouched corpus: OpenCode's resolved config only
        if 'omniroute' in rep['providers']:
            text = 'entry baseURL %s' % rep.get('baseURL')
        else:
            text = 'no omniroute'
    elif isinstance(models, list):
        text = ', '.join(m.split('/', 1)[1] for m in models)
        if rep.get('baseURL'):
            text += ' @ ' + rep['baseURL']
    elif 'providers' not in rep:  # after absent only `models <name>` is asked
        text = models
    elif 'omniroute' not in rep['providers']:
        text = 'no omniroute (%s)' % models
    else:
        text = 'hidden (%s)' % models
        if rep.get('baseURL'):
            text += ', entry baseURL ' + rep['baseURL']
    if 'apiKey' in rep and rep['apiKey'] != '***':
        text += ' (apiKey: %s)' % rep['apiKey']
    if 'providers' in rep:  # (after absent only `models <name>` is asked)
        others = [p for p in rep['providers'] if p != 'omniroute']
        text += '; other providers: ' + (', '.join(others) or 'none')
    return text


def main(directory):
    names = sorted(f[:-5] for f in os.listdir(directory) if f.endswith('.json'))
    print('| case | before | present | present again | absent | present | result |')
    print('|---|---|---|---|---|---|---|')
    notes = []
    for name in names:
        with open(os.path.join(directory, name + '.json')) as f:
            data = json.load(f)
        cells = [short(data['before'])]
        for step in data['steps']:
            cells.append('%s%s' % ('changed: ' if step['changed'] else 'ok: ', short(step['opencode'])))
        cells += [''] * (5 - len(cells))
        result = 'pass' if not data['failures'] else 'FAIL'
        cells = [' '.join(c.replace('|', '/').split()) for c in cells]
        print('| %s | %s | %s |' % (name, ' | '.join(cells), result))
        for failure in data['failures']:
            notes.append('- %s: %s' % (name, failure))
        for warning in data.get('warnings', []):
            notes.append('- %s (module warning): %s' % (name, warning))
    if notes:
        print()
        print('\n'.join(notes))


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT)
