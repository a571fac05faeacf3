"""`make test-docs`: one Suite for the session (OmniRoute, OpenCode, laptop image, the docs' venv),
one test per Markdown page, and the per-example table at the end of the run."""

import json
import os
import resource
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import runner  # noqa: E402

RESULTS = runner.RESULTS
REPORT_DIR = os.path.join(runner.REPO, '.build', 'docs-report')
STARTED = time.time()


GATEWAY = {}


@pytest.fixture(scope='session')
def suite():
    s = runner.Suite()
    try:
        s.setup()
        GATEWAY['models'] = s.gateway_models
        yield s
    finally:
        s.teardown()


def pytest_generate_tests(metafunc):
    if 'page' in metafunc.fixturenames:
        pages = runner.Suite().pages()
        metafunc.parametrize('page', pages, ids=pages)


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section('docs examples (tests/docs/README.md)')
    counts = {}
    rows = []
    for page, (lines, outcomes) in RESULTS.items():
        for line in lines:
            tr.write_line(line)
        for o in outcomes:
            counts[o['status']] = counts.get(o['status'], 0) + 1
            rows.append(dict(o, page=page))
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = self_usage.ru_utime + self_usage.ru_stime + children.ru_utime + children.ru_stime
    wall = time.time() - STARTED
    tr.write_line('')
    if GATEWAY.get('models'):
        tr.write_line("the suite's OmniRoute lists %d models: %s" % (len(GATEWAY['models']), ', '.join(GATEWAY['models'])))
    tr.write_line('examples: %s' % ', '.join('%d %s' % (n, s) for s, n in sorted(counts.items())))
    tr.write_line('wall %.0f s, CPU %.0f s (this process and its children; podman containers run outside them)'
                  % (wall, cpu))
    os.makedirs(REPORT_DIR, exist_ok=True)
    with open(os.path.join(REPORT_DIR, 'examples.json'), 'w') as handle:
        json.dump({'examples': rows, 'wall_s': round(wall), 'cpu_s': round(cpu)}, handle, indent=1)
    with open(os.path.join(REPORT_DIR, 'examples.txt'), 'w') as handle:
        for page, (lines, _outcomes) in RESULTS.items():
            handle.write('\n'.join(lines) + '\n')
