"""tests/setup/venv.sh, the virtualenvs `make venv` and the oldest ansible-core's venv copy from the
project cache: one pip build per set of requirements, copies that run from where they were put,
and a directory the project did not make left to pip.

Everything is under pytest's temporary directories (the cache too). The requirements are a file
of comments only, so pip installs nothing and needs no network; the venvs are Python's own, with
pip.
"""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, 'tests', 'setup', 'venv.sh')
# The interpreter behind the venv running these tests (what `python3` is outside any venv).
BASE_PYTHON = os.path.realpath(getattr(sys, '_base_executable', sys.executable))


def venv_sh(cache, dest, *requirements, **kw):
    env = dict(os.environ, OMNIROUTE_OPENCODE_CACHE=str(cache), PYTHON=kw.get('python', BASE_PYTHON))
    if kw.get('path'):
        env['PATH'] = kw['path'] + os.pathsep + env['PATH']
    proc = subprocess.run(['bash', SCRIPT, str(dest)] + [str(r) for r in requirements], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def entries(cache):
    return sorted(n for n in os.listdir(str(cache / 'venvs')) if not n.startswith('.'))


def prefix(venv):
    return subprocess.run([str(venv / 'bin' / 'python'), '-c', 'import sys; print(sys.prefix)'],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope='module')
def shared(tmp_path_factory):
    """A project cache and a requirements file the tests share (one pip build between them)."""
    root = tmp_path_factory.mktemp('venv-cache')
    req = root / 'requirements.txt'
    req.write_text('# nothing to install\n')
    return root / 'cache', req


def test_one_build_per_requirements_and_copies_that_run_from_their_place(shared, tmp_path):
    cache, req = shared
    first, second = tmp_path / 'clone1' / '.venv', tmp_path / 'clone2' / '.venv'

    venv_sh(cache, first, req)
    (built,) = entries(cache)
    # The second clone, run the way make runs it (its own .venv/bin first on PATH, PYTHON=python3
    # resolving there), gets a copy of the same build.
    second.parent.mkdir()
    venv_sh(cache, second, req)
    venv_sh(cache, second, req, python='python3', path=str(second / 'bin'))
    assert entries(cache) == [built]

    for venv in (first, second):
        assert prefix(venv) == str(venv)
        with open(str(venv / 'bin' / 'pip')) as handle:
            assert handle.readline().startswith('#!%s/bin/python' % venv)
        # ... and the script runs.
        subprocess.run([str(venv / 'bin' / 'pip'), '--version'], capture_output=True, check=True)
        for name in ('bin/activate', 'pyvenv.cfg'):
            text = (venv / name).read_text()
            assert str(cache) not in text and '.build.' not in text, (name, text)
        assert (venv / 'bin' / 'activate').read_text().count(str(venv)) >= 1
        assert (venv / '.venv-sh').exists()

    # Other requirements, another build; the first one stays for the clones that use it.
    other = tmp_path / 'requirements-other.txt'
    other.write_text('# nothing to install\n# another set\n')
    venv_sh(cache, first, other)
    assert len(entries(cache)) == 2 and built in entries(cache)
    assert prefix(first) == str(first)


def test_a_directory_the_project_did_not_make_is_left_to_pip(shared, tmp_path):
    cache, req = shared
    mine = tmp_path / 'my-own-venv'
    # A working venv without this project's marks (made here from a copy, which is quicker than
    # a venv of its own), with a file of its owner's in it.
    venv_sh(cache, mine, req)
    (mine / '.venv-sh').unlink()
    (mine / 'mine.txt').write_text('keep me\n')
    before = entries(cache)

    venv_sh(cache, mine, req)

    assert (mine / 'mine.txt').read_text() == 'keep me\n'
    assert not (mine / '.venv-sh').exists()
    assert entries(cache) == before
