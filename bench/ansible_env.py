"""Running ansible-playbook for the benchmarks: environment, inventory, timing, key hygiene."""
import json
import os
import sys
import time

import common

VENV_BIN = os.path.dirname(sys.executable)


def env(work, extra=None):
    e = dict(os.environ)
    colls = os.environ.get("BENCH_COLLECTIONS") or os.path.join(common.ROOT, ".build", "collections")
    paths = [colls] + [p for p in e.get("ANSIBLE_COLLECTIONS_PATH", "").split(":") if p and p != colls]
    e.update({
        # Never the user's ~/.ansible, also when a benchmark is run directly (not from make bench):
        # the Makefile's home.
        "ANSIBLE_HOME": e.get("ANSIBLE_HOME") or os.path.join(common.ROOT, ".build", "ansible-home"),
        "ANSIBLE_COLLECTIONS_PATH": ":".join(paths),
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(common.BENCH, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCAL_TEMP": os.path.join(work, "tmp-local"),
        "ANSIBLE_REMOTE_TMP": os.path.join(work, "tmp-remote"),
        "ANSIBLE_PIPELINING": "1",
        # No sudo on the CI machine; root becomes each developer with su.
        "ANSIBLE_BECOME_METHOD": "su",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "PATH": VENV_BIN + os.pathsep + e.get("PATH", ""),
    })
    e.pop("ANSIBLE_CONFIG", None)
    if extra:
        e.update(extra)
    return e


def playbook(work, playbook_path, inventory, extra_vars_file=None, forks=None, label="run"):
    """Run one ansible-playbook; return (wall seconds, timer dict). Fails on any failed task
    and if the bench key shows up in the output."""
    out = os.path.join(work, "timer-%s.json" % label)
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, playbook_path]
    if extra_vars_file:
        cmd += ["-e", "@" + extra_vars_file]
    if forks:
        cmd += ["--forks", str(forks)]
    t0 = time.perf_counter()
    p = common.run(cmd, env=env(work, {"BENCH_TIMER_OUT": out}), check=False)
    wall = time.perf_counter() - t0
    common.assert_no_secret(p.stdout, p.stderr)
    if p.returncode != 0:
        raise SystemExit("ansible-playbook failed (%d): %s\n%s\n%s"
                         % (p.returncode, " ".join(cmd), p.stdout[-6000:], p.stderr[-3000:]))
    with open(out) as f:
        timer = json.load(f)
    return wall, timer
