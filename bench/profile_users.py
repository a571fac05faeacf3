"""Profile of the `users` module per developer (issue 22): what one more developer on a host costs.

Runs the module's main() in a fresh interpreter per run, as Ansible's module process would, for one host with
U developers (the ocbench accounts of setup-users.sh, each with a typical 5 KB config of their
own; the arguments the role sends, verify on), first run then re-runs. Per size it records:

* wall time of one module run (median of the re-runs) and the fitted cost per developer;
* CPU of the module process itself (the parent) and of its per-developer children
  (``RUSAGE_CHILDREN``: every child, and what the children ran), per developer.

Then (BENCH_PROFILE=0 skips it; the variable is read by this harness only: the module has no
profiling switch) every child process of one more run at the largest size runs under cProfile,
with a CPU clock, from the moment it is forked until it exits, and the parent's main() too; the
merged profiles' top functions are printed (files under .build/bench/profile/prof) and the
children's own-CPU leaders go to docs/performance.md.

  profile_users.py [--users 1,2,4,8,16] [--rounds 5] [--top 25]
  profile_users.py --smoke      one developer, the user running it (BENCH_ACCOUNTS=current, no
                                account needed), one re-run and the profile; the doc is left alone
"""
import argparse
import contextlib
import cProfile
import getpass
import io
import json
import os
import pstats
import pwd
import resource
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import SECRET, ms  # noqa: E402
from gen_config import generate, parse_size  # noqa: E402

PROFILE = os.environ.get("BENCH_PROFILE", "1") == "1"
# BENCH_ACCOUNTS=current: the only developer is the user running the harness (the smoke test).
CURRENT = os.environ.get("BENCH_ACCOUNTS") == "current"
BASE_URL = "http://127.0.0.1:20128"


def users_module():
    common.engine()  # puts the collection link on sys.path
    from ansible_collections.omniroute.opencode.plugins.modules import users
    return users


def build(work, users):
    """Homes and starting configs for ocbench01..U; returns the module's `users` argument."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chmod(work, 0o755)
    entries = []
    for u in range(users):
        name = getpass.getuser() if CURRENT else "ocbench%02d" % (u + 1)
        pw = pwd.getpwnam(name)
        home = os.path.join(work, name)
        cfgdir = os.path.join(home, ".config", "opencode")
        os.makedirs(cfgdir)
        with open(os.path.join(cfgdir, "opencode.json"), "w", encoding="utf-8", newline="") as f:
            f.write(generate(parse_size("5K"), seed=u))
        for d, _dirs, files in os.walk(home):
            os.chown(d, pw.pw_uid, pw.pw_gid)
            os.chmod(d, 0o700)
            for fn in files:
                os.chown(os.path.join(d, fn), pw.pw_uid, pw.pw_gid)
                os.chmod(os.path.join(d, fn), 0o600)
        entries.append({"name": name, "api_key": "%s-u%02d" % (SECRET, u),
                        "config_path": os.path.join(cfgdir, "opencode.json")})
    return entries


def role_args(entries):
    """What roles/opencode/tasks/main.yml sends with the role's defaults."""
    return {"host": "h00", "users": entries, "key_maps": [{}, {}, {}], "key_source": "given",
            "check_keys": True, "name": "omniroute", "display_name": "OmniRoute", "base_url": BASE_URL,
            "model_labels": {}, "key_store": "config", "key_env_var": "OMNIROUTE_API_KEY", "backup": False,
            "catalog": "static", "catalog_include": [], "catalog_exclude": [], "catalog_offline": "keep",
            "validate_certs": True, "timeout": 10, "verify": True, "scope": "user"}


def module_args(args):
    try:  # ansible-core 2.19+
        from ansible.module_utils.testing import patch_module_args
    except ImportError:
        return _module_args(args)
    return patch_module_args(args)


@contextlib.contextmanager
def _module_args(args):
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes
    old = getattr(basic, "_ANSIBLE_ARGS", None)
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = old


@contextlib.contextmanager
def child_profiles(out_dir):
    """Every process forked meanwhile runs under cProfile until os._exit (stats to out_dir)."""
    real_fork, real_exit = os.fork, os._exit
    state = {}

    def fork():
        pid = real_fork()
        if pid == 0:
            state["prof"] = cProfile.Profile(time.process_time)
            state["prof"].enable()
        return pid

    def exit_(code):
        prof = state.get("prof")
        if prof is not None:
            prof.disable()
            try:
                prof.dump_stats(os.path.join(out_dir, "child-%d.prof" % os.getpid()))
            except OSError:
                pass
        real_exit(code)

    os.fork, os._exit = fork, exit_
    try:
        yield
    finally:
        os.fork, os._exit = real_fork, real_exit


def run_once(args, prof_dir=None):
    """One module run in a fresh interpreter, as Ansible starts it: returns (wall s of main(),
    module process CPU s, children CPU s, result). ``prof_dir``: profile it (and its children)."""
    spec = os.path.join(common.WORK, "profile", "args.json")
    with open(spec, "w") as f:
        json.dump({"args": args, "prof_dir": prof_dir}, f)
    os.chmod(spec, 0o600)
    p = common.run([sys.executable, os.path.abspath(__file__), "--once", spec])
    common.assert_no_secret(p.stdout, p.stderr)
    out = json.loads(p.stdout.splitlines()[-1])
    return out["wall"], out["parent"], out["children"], out["result"]


def once(spec):
    """Inside the fresh interpreter: import the module, run main() once, print the figures."""
    with open(spec) as f:
        job = json.load(f)
    users = users_module()
    prof_dir = job["prof_dir"]
    buf = io.StringIO()
    self0, kids0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    prof = cProfile.Profile(time.process_time) if prof_dir else None
    t0 = time.perf_counter()
    with module_args(job["args"]), contextlib.redirect_stdout(buf), \
            (child_profiles(prof_dir) if prof_dir else contextlib.nullcontext()):
        if prof:
            prof.enable()
        try:
            users.main()
        except SystemExit:
            pass
        if prof:
            prof.disable()
    wall = time.perf_counter() - t0
    self1, kids1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    if prof:
        prof.dump_stats(os.path.join(prof_dir, "parent.prof"))
    print(json.dumps({"wall": wall, "result": json.loads(buf.getvalue()),
                      "parent": (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime),
                      "children": (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime),
                      "children_sys": kids1.ru_stime - kids0.ru_stime}))


WAITS = ("<built-in method posix.read>", "<built-in method posix.waitpid>", "<method 'poll' of 'select.poll' objects>",
         "<built-in method select.select>")


def top_rows(stats_files, n):
    """``[(function, calls, own seconds)]``: the ``n`` functions with the most own time, waits left out."""
    st = pstats.Stats(*stats_files)
    rows = []
    for (path, line, func), (_cc, calls, tottime, _ct, _callers) in st.stats.items():
        name = func if path == "~" else "%s:%d(%s)" % (os.path.basename(path), line, func)
        if name in WAITS:
            continue
        rows.append((name, calls, tottime))
    rows.sort(key=lambda r: -r[2])
    return rows[:n]


def top(stats_files, n, sort):
    st = pstats.Stats(stats_files[0])
    for path in stats_files[1:]:
        st.add(path)
    buf = io.StringIO()
    st.stream = buf
    st.sort_stats(sort).print_stats(n)
    return buf.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", default="1,2,4,8,16")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--once", help=argparse.SUPPRESS)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args(argv)
    if a.once:
        return once(a.once)
    if a.smoke:
        os.environ["BENCH_WRITE_DOC"] = "0"
        a.users, a.rounds, a.top = "1", 1, 5
    sizes = [int(x) for x in a.users.split(",")]
    if CURRENT and sizes != [1]:
        raise SystemExit("BENCH_ACCOUNTS=current allows one developer")
    base = os.path.join(common.WORK, "profile")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    rows, data = [], []
    print("== users module per developer: one host, verify on, re-runs (load average %s) =="
          % open("/proc/loadavg").read().split()[0])
    for size in sizes:
        args = role_args(build(os.path.join(base, "u%02d" % size), size))
        _w, _p, _c, res = run_once(args)
        if not res.get("changed") or res.get("failed"):
            raise SystemExit("first run did not configure every user: %s" % res.get("msg"))
        walls, parents, kids = [], [], []
        for _round in range(a.rounds):
            w, p, c, res = run_once(args)
            if res.get("changed") or res.get("failed"):
                raise SystemExit("re-run changed something or failed: %s" % res.get("msg"))
            walls.append(w)
            parents.append(p)
            kids.append(c)
        r = dict(users=size, wall=common.median(walls), parent_cpu=common.median(parents),
                 children_cpu=common.median(kids))
        data.append(r)
        print("users-profile %2d developers: module run %s, parent CPU %s, children CPU %s (%s per developer)"
              % (size, ms(r["wall"]), ms(r["parent_cpu"]), ms(r["children_cpu"]), ms(r["children_cpu"] / size)))
        rows.append("| %d | %s | %s | %s | %s |" % (size, ms(r["wall"]), ms(r["parent_cpu"]), ms(r["children_cpu"]),
                                                    ms(r["children_cpu"] / size)))
    xs = [d["users"] for d in data]
    fits = {}
    for col in ("wall", "parent_cpu", "children_cpu"):
        a0, b, _worst = common.slope(xs, [d[col] for d in data])
        fits[col] = (a0, b)
    verdict = ("Linear fit per module run: wall %s + %s per developer; parent CPU %s + %s per developer; "
               "children CPU %s + %s per developer."
               % (ms(fits["wall"][0]), ms(fits["wall"][1]), ms(fits["parent_cpu"][0]), ms(fits["parent_cpu"][1]),
                  ms(fits["children_cpu"][0]), ms(fits["children_cpu"][1])))
    print("users-profile: " + verdict)
    common.save_json("users-profile", data)
    md = ["| developers | module run (wall) | parent CPU | children CPU | children CPU per developer |",
          "|---|---|---|---|---|"] + rows + ["", verdict]
    if PROFILE:
        size = sizes[-1]
        out_dir = os.path.join(base, "prof")
        shutil.rmtree(out_dir, ignore_errors=True)
        os.makedirs(out_dir)
        os.chmod(out_dir, 0o1777)  # the children write there after becoming their developer
        args = role_args(build(os.path.join(base, "u%02d" % size), size))
        run_once(args)
        run_once(args, out_dir)
        kids = sorted(os.path.join(out_dir, f) for f in os.listdir(out_dir) if f.startswith("child-"))
        for title, files in (("children (%d, merged)" % len(kids), kids), ("parent", [os.path.join(out_dir, "parent.prof")])):
            for sort in ("tottime", "cumulative"):
                print("--- %s, by %s ---" % (title, sort))
                print(top(files, a.top, sort))
        rows = top_rows(kids, 12)
        md_top = ["| function (children of one module run, %d developers, merged) | calls per developer "
                  "| own CPU per developer |" % size, "|---|---|---|"]
        md_top += ["| `%s` | %.1f | %s |" % (name, calls / float(size), ms(secs / size)) for name, calls, secs in rows]
        md_top += ["", "Own CPU time (cProfile with a CPU clock, which slows Python code several times, C calls much less); "
                   "waits for the parent (reads of the control pipe) left out."]
        print("\n".join(md_top))
        if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
            common.update_doc("users-profile-top", "\n".join(md_top))
    if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
        common.update_doc("users-profile", "\n".join(md))


if __name__ == "__main__":
    main()
