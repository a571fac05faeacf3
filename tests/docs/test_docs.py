"""Every example of README.md and docs/**/*.md runs as written and does what its text claims
(tests/docs/README.md). One test per page; the table of examples is printed at the end."""

import runner


def test_page(suite, page):
    outcomes = runner.Page(suite, page).run()
    scrub = suite.scrubber.text
    lines = ['--- %s' % page] + [o.line(scrub) for o in outcomes if o.status != 'illustration']
    shown = sum(1 for o in outcomes if o.status == 'illustration')
    if shown:
        lines.append('         (%d illustration block(s) not run: text, JSON, trees, output samples)' % shown)
    rows = [{'where': o.block.where, 'lang': o.block.lang, 'kind': o.block.kind, 'status': o.status,
             'problems': [scrub(p) for p in o.problems], 'notes': [scrub(n) for n in o.notes]} for o in outcomes]
    runner.RESULTS[page] = (lines, rows)
    failed = [o for o in outcomes if o.status == 'fail']
    assert not failed, '%d example(s) of %s failed:\n%s' % (len(failed), page, '\n'.join(o.line(scrub) for o in failed))


def test_nothing_changed_outside_the_clone(suite):
    """The suite never touched the running user's own OpenCode files or /etc/opencode."""
    assert suite.check_guard() is None, suite.check_guard()
