"""Fleet benchmark: converge N laptops with U developers each, with the collection's role
(omniroute.opencode.opencode) and with the hand-written baseline (bench/roles/opencode_template,
which templates each developer's whole opencode.json). First run and idempotent re-run.

Laptops are inventory hosts with a local connection, each with its own tree of developer
"homes" (one directory per host and developer, owned by that developer's real local account,
ocbench01..; see setup-users.sh); both roles become each developer (su) to write the file, as on
a real laptop. Each developer starts with a typical 5 KB config of their own (comments, other
providers, MCP servers, agents), generated per host and user.

Checks, every run: first run changes every developer, re-run changes nothing; both sides write
the same provider.omniroute entry (parsed with jsonc-parser); the role keeps every comment and
every other provider, and the template loses them (reported). In `smoke`, developers without a
config get byte-for-byte-equal documents, parsed, from both sides.

  fleet.py compare [N U]      headline: both sides, N hosts x U users (default 8 x 4), ping floor
  fleet.py developers         time against developers per host (1,2,4,8,16 on 8 hosts), both sides
                              and the floor over the same inventory: `ansible -m ping`, a
                              playbook of one ping task, and one of the role's users task alone
  fleet.py growth             time against hosts (1..32, U=1) and users per host (1..16, N=2)
  fleet.py smoke              2 hosts x 1 user, the user running it (one host with a config,
                              one without); creates no account (make test runs this)
Forks: BENCH_FORKS (default 8), fixed across the series.

Re-runs and the floor are timed BENCH_ROUNDS times (default 3) at each point, interleaved
(ad-hoc ping, ping playbook, users task, role re-run, then again), and the medians are reported: one run on
a shared machine moves by tens of percent. The first runs (they need fresh homes) and the
template role's re-run are timed once. BENCH_SIDES=role leaves the template role out (quick
iterations; the tables then show no template columns).
"""
import getpass
import json
import os
import pwd
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ansible_env  # noqa: E402
import common  # noqa: E402
from common import SECRET, ms  # noqa: E402
from gen_config import generate, parse_size  # noqa: E402

FORKS = int(os.environ.get("BENCH_FORKS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BASE_URL = "http://127.0.0.1:20128"
SIDES = tuple(s for s in os.environ.get("BENCH_SIDES", "role,template").split(",") if s)
if "role" not in SIDES or not set(SIDES) <= {"role", "template"}:
    raise SystemExit("BENCH_SIDES: role, or role,template")
PLAYBOOK = {
    "role": "- hosts: laptops\n  gather_facts: false\n  roles:\n    - role: omniroute.opencode.opencode\n",
    "template": "- hosts: laptops\n  gather_facts: false\n  roles:\n    - role: opencode_template\n",
    # The fair floor for a playbook: the same play with one ping task (one module run per host).
    "ping": "- hosts: laptops\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n",
    # The role's one module run per host alone, with what the role sends it at its defaults: the
    # rung between the ping playbook and the role (what the role's other tasks and templating add).
    "users": ("- hosts: laptops\n  gather_facts: false\n  tasks:\n    - omniroute.opencode.users:\n"
              "        host: \"{{ inventory_hostname }}\"\n        users: \"{{ opencode_users }}\"\n"
              "        base_url: \"{{ opencode_base_url }}\"\n        verify: true\n        managed_cleanup: true\n"
              "      become: true\n"),
}


# BENCH_ACCOUNTS=current: every laptop's only developer is the user running the benchmark (no
# account is created, no become); the smoke test uses it so `make test` adds no accounts.
CURRENT_USER = os.environ.get("BENCH_ACCOUNTS") == "current"


def user_name(u):
    if CURRENT_USER:
        if u:
            raise SystemExit("BENCH_ACCOUNTS=current allows one developer per laptop")
        return getpass.getuser()
    return "ocbench%02d" % (u + 1)


def key(h, u):
    return "%s-h%02du%02d" % (SECRET, h, u)


def build(work, side, hosts, users, fresh=()):
    """Lay out homes and starting configs for one side; return the inventory path."""
    root = os.path.join(work, side)
    shutil.rmtree(root, ignore_errors=True)
    inv_hosts = {}
    for h in range(hosts):
        hu = []
        for u in range(users):
            name = user_name(u)
            pw = pwd.getpwnam(name)
            home = os.path.join(root, "h%02d" % h, name)
            cfgdir = os.path.join(home, ".config", "opencode")
            os.makedirs(cfgdir)
            if (h, u) not in fresh:
                with open(os.path.join(cfgdir, "opencode.json"), "w", encoding="utf-8", newline="") as f:
                    f.write(generate(parse_size("5K"), seed=1000 * h + u))
            for d, _dirs, files in os.walk(home):
                os.chown(d, pw.pw_uid, pw.pw_gid)
                os.chmod(d, 0o700)
                for fn in files:
                    os.chown(os.path.join(d, fn), pw.pw_uid, pw.pw_gid)
                    os.chmod(os.path.join(d, fn), 0o600)
            hu.append({"name": name, "api_key": key(h, u),
                       "config_path": os.path.join(cfgdir, "opencode.json")})
        inv_hosts["h%02d" % h] = {"ansible_connection": "local",
                                  "ansible_python_interpreter": "/usr/bin/python3",
                                  "opencode_users": hu}
        if CURRENT_USER:
            inv_hosts["h%02d" % h]["ansible_become"] = False
    os.chmod(root, 0o755)
    for h in range(hosts):
        os.chmod(os.path.join(root, "h%02d" % h), 0o755)
    inv = os.path.join(work, "inventory-%s.yml" % side)
    doc = {"all": {"vars": {"opencode_base_url": BASE_URL},
                   "children": {"laptops": {"hosts": inv_hosts}}}}
    with open(inv, "w") as f:
        json.dump(doc, f, indent=1)  # JSON is YAML
    os.chmod(inv, 0o600)
    return inv


def converge(work, side, inv, expect_changed, label, timers=None):
    pb = os.path.join(work, "%s.yml" % side)
    with open(pb, "w") as f:
        f.write(PLAYBOOK[side])
    os.environ["ANSIBLE_ROLES_PATH"] = os.path.join(common.BENCH, "roles")
    wall, timer = ansible_env.playbook(work, pb, inv, forks=FORKS, label="%s-%s" % (side, label))
    changed = sum(1 for r in timer["tasks"] if r["changed"])
    if expect_changed is None:
        pass
    elif expect_changed and not changed:
        raise SystemExit("%s first run changed nothing" % side)
    if not expect_changed and changed:
        names = sorted({r["task"] for r in timer["tasks"] if r["changed"]})
        raise SystemExit("%s re-run is not idempotent: changed %s" % (side, names))
    if timers is not None:
        timers.append(timer)
    return wall


def task_profile(timer):
    """``(tasks per host, [(task, runs, seconds summed over hosts, skipped runs)])`` of one play."""
    per_host, per_task = {}, {}
    for row in timer["tasks"]:
        per_host[row["host"]] = per_host.get(row["host"], 0) + 1
        t = per_task.setdefault(row["task"], [0, 0.0, 0])
        t[0] += 1
        t[1] += row["seconds"]
        t[2] += 1 if row.get("skipped") else 0
    counts = sorted(set(per_host.values()))
    return counts, [(name, v[0], v[1], v[2]) for name, v in per_task.items()]


def check(work, hosts, users, fresh=()):
    """Compare what the two sides wrote; return a summary of what each kept."""
    paths, meta = [], []
    for h in range(hosts):
        for u in range(users):
            for side in SIDES:
                p = os.path.join(work, side, "h%02d" % h, user_name(u), ".config", "opencode", "opencode.json")
                st = os.stat(p)
                if st.st_uid != pwd.getpwnam(user_name(u)).pw_uid:
                    raise SystemExit("%s: not owned by %s" % (p, user_name(u)))
                paths.append(p)
                meta.append((side, h, u))
    values = common.node_parse(paths)
    got = dict(zip(meta, values))
    texts = {}
    for m, p in zip(meta, paths):
        with open(p, encoding="utf-8") as f:
            texts[m] = f.read()
    kept = {"role": [0, 0, 0, 0], "template": [0, 0, 0, 0]}  # comments kept/all, providers kept/all
    for h in range(hosts):
        for u in range(users):
            r, t = got[("role", h, u)], got.get(("template", h, u))
            er = r["provider"]["omniroute"]
            if t is not None and er != t["provider"]["omniroute"]:
                raise SystemExit("h%02d/%s: the two sides wrote different provider entries" % (h, user_name(u)))
            if er["options"]["apiKey"] != key(h, u):
                raise SystemExit("h%02d/%s: wrong key written" % (h, user_name(u)))
            if (h, u) in fresh:
                if t is not None and r != t:
                    raise SystemExit("h%02d/%s: new config differs between the sides" % (h, user_name(u)))
                continue
            src = generate(parse_size("5K"), seed=1000 * h + u)
            comments = [ln.strip() for ln in src.splitlines() if ln.strip().startswith(("//", "/*"))]
            import json5  # the starting file's providers, parsed independently
            providers = set(json5.loads(src)["provider"])
            for side in SIDES:
                lines = {ln.strip() for ln in texts[(side, h, u)].splitlines()}
                k = kept[side]
                k[0] += sum(1 for c in comments if c in lines)
                k[1] += len(comments)
                k[2] += len(providers & set(got[(side, h, u)]["provider"]))
                k[3] += len(providers)
    if kept["role"][0] != kept["role"][1] or kept["role"][2] != kept["role"][3]:
        raise SystemExit("the role lost comments or providers: %s" % kept["role"])
    return kept


def ping(work, inv):
    """Wall seconds of `ansible laptops -m ping` over ``inv``: one module run per host, the floor."""
    cmd = [os.path.join(ansible_env.VENV_BIN, "ansible"), "laptops", "-i", inv, "-m", "ansible.builtin.ping",
           "--forks", str(FORKS)]
    t0 = time.perf_counter()
    common.run(cmd, env=ansible_env.env(work))
    return time.perf_counter() - t0


def point(work, hosts, users, fresh=(), rerun=True, floor=False):
    """Both sides, first run and re-run. Returns timings (s, medians) and what was kept.
    ``fresh``: (host, user) pairs that start without a config; ``floor``: also time the floor
    (`ansible -m ping` and a one-task ping playbook). The floor and the role's re-run are timed
    ROUNDS times, interleaved; the ``*_runs`` keys hold every run."""
    res = {"load_start": loadavg()}
    invs = {side: build(work, side, hosts, users, fresh) for side in SIDES}
    for side in SIDES:
        res[side + "_first"] = converge(work, side, invs[side], True, "first")
    if not rerun:
        res["kept"] = check(work, hosts, users, fresh)
        return res
    runs = {"ping": [], "ping_pb": [], "users_pb": [], "role_rerun": []}
    timers = []
    for _round in range(ROUNDS):
        if floor:
            runs["ping"].append(ping(work, invs["role"]))
            runs["ping_pb"].append(converge(work, "ping", invs["role"], None, "ping"))
            runs["users_pb"].append(converge(work, "users", invs["role"], False, "users"))
        runs["role_rerun"].append(converge(work, "role", invs["role"], False, "rerun", timers))
    for key, values in runs.items():
        if values:
            res[key] = common.median(values)
            res[key + "_runs"] = values
    if "template" in SIDES:
        res["template_rerun"] = converge(work, "template", invs["template"], False, "rerun")
    res["tasks_per_host"], res["role_tasks"] = task_profile(timers[-1])
    res["kept"] = check(work, hosts, users, fresh)
    return res


def t(r, key):
    """A time of ``r`` for a table, "-" when that side was not run."""
    return ms(r[key]) if key in r else "-"


def x(r, a, b):
    """``r[a] / r[b]`` as a ratio for a table, "-" when one side was not run."""
    return "%.2fx" % (r[a] / r[b]) if a in r and b in r else "-"


def line(label, r):
    return ("%s role %-8s | template %-8s | role/template = %s (first run); role %-8s | template %-8s"
            " | role/template = %s (re-run)"
            % (label, t(r, "role_first"), t(r, "template_first"), x(r, "role_first", "template_first"),
               t(r, "role_rerun"), t(r, "template_rerun"), x(r, "role_rerun", "template_rerun")))


def floor_line(r):
    return ("floor: `ansible -m ping` %s, ping playbook %s, one users task %s (%s of ad-hoc ping); role re-run %s"
            " = %s of ad-hoc ping, %s of the ping playbook (medians of %d interleaved runs: ping %s; ping playbook"
            " %s; users task %s; role re-run %s)"
            % (t(r, "ping"), t(r, "ping_pb"), t(r, "users_pb"), x(r, "users_pb", "ping"), t(r, "role_rerun"),
               x(r, "role_rerun", "ping"), x(r, "role_rerun", "ping_pb"), len(r.get("role_rerun_runs", ())),
               ", ".join(ms(v) for v in r.get("ping_runs", ())), ", ".join(ms(v) for v in r.get("ping_pb_runs", ())),
               ", ".join(ms(v) for v in r.get("users_pb_runs", ())),
               ", ".join(ms(v) for v in r.get("role_rerun_runs", ()))))


def tasks_text(r):
    """The role's re-run, task by task: runs per host and controller seconds per host."""
    hosts = max(1, r.get("hosts", 1))
    parts = ["%s: %.0f ms%s" % (name.split(" : ", 1)[-1], 1000.0 * secs / hosts, " (skipped)" if skipped == runs else "")
             for name, runs, secs, skipped in r.get("role_tasks", ())]
    return "tasks per host on the re-run: %s (%s)" % (
        "/".join(str(c) for c in r.get("tasks_per_host", ())), "; ".join(parts))


def kept_text(k):
    text = "comments kept: role %d/%d" % (k["role"][0], k["role"][1])
    if "template" in SIDES:
        text += ", template %d/%d" % (k["template"][0], k["template"][1])
    text += "; other providers kept: role %d/%d" % (k["role"][2], k["role"][3])
    if "template" in SIDES:
        text += ", template %d/%d" % (k["template"][2], k["template"][3])
    return text


def work_dir():
    w = os.path.join(common.WORK, "fleet")
    os.makedirs(w, exist_ok=True)
    os.chmod(w, 0o755)
    return w


def compare(hosts, users):
    w = work_dir()
    print("== fleet: %d laptops x %d developers, forks %d, local connections, become via su; load average %s =="
          % (hosts, users, FORKS, loadavg()))
    r = point(w, hosts, users, floor=True)
    r["hosts"] = hosts
    print("fleet " + line("%dx%d" % (hosts, users), r))
    print("fleet " + floor_line(r))
    print("fleet " + tasks_text(r))
    print("fleet %s" % kept_text(r["kept"]))
    common.save_json("fleet-compare", dict(r, hosts=hosts, users=users, forks=FORKS))
    md = ["| run | role | template | role / template |", "|---|---|---|---|",
          "| first run | %s | %s | **%s** |"
          % (t(r, "role_first"), t(r, "template_first"), x(r, "role_first", "template_first")),
          "| unchanged re-run | %s | %s | **%s** |"
          % (t(r, "role_rerun"), t(r, "template_rerun"), x(r, "role_rerun", "template_rerun")),
          "| `ansible -m ping` (floor) | %s | | role re-run **%s** of it (first run %s) |"
          % (t(r, "ping"), x(r, "role_rerun", "ping"), x(r, "role_first", "ping")),
          "| one-task ping playbook | %s | | role re-run %s of it |" % (t(r, "ping_pb"), x(r, "role_rerun", "ping_pb")),
          "| one `users` task (the role's module run alone) | %s | | %s of ad-hoc ping; role re-run %s of it |"
          % (t(r, "users_pb"), x(r, "users_pb", "ping"), x(r, "role_rerun", "users_pb")),
          "", "Re-runs and the floor: medians of %d interleaved runs (role re-run %s; ping %s; ping playbook %s;"
          " users task %s). Load average %s at the start, %s at the end." % (
              ROUNDS, ", ".join(ms(v) for v in r["role_rerun_runs"]), ", ".join(ms(v) for v in r["ping_runs"]),
              ", ".join(ms(v) for v in r["ping_pb_runs"]), ", ".join(ms(v) for v in r["users_pb_runs"]),
              r["load_start"], loadavg()),
          "", "The role's %s." % tasks_text(r),
          "", "After the first run (%d x %d): %s." % (hosts, users, kept_text(r["kept"]))]
    if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
        common.update_doc("fleet", "\n".join(md))


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def series(name, points):
    w = work_dir()
    rows, xs, data = [], [], []
    for hosts, users in points:
        r = point(w, hosts, users)
        xs.append(hosts if name == "hosts" else users)
        data.append(dict(r, hosts=hosts, users=users))
        print("fleet-%s %2d: " % (name, xs[-1]) + line("", r))
        rows.append("| %d | %d | %s | %s | %s | %s | %s | %s |" % (
            hosts, users, t(r, "role_first"), t(r, "template_first"), x(r, "role_first", "template_first"),
            t(r, "role_rerun"), t(r, "template_rerun"), x(r, "role_rerun", "template_rerun")))
    fits = []
    for col in ("role_first", "template_first", "role_rerun", "template_rerun"):
        if col not in data[0]:
            continue
        a, b, worst = common.slope(xs, [d[col] for d in data])
        fits.append("%s %.2f s + %.3f s per %s (worst point %.0f%% off the line)"
                    % (col.replace("_", " "), a, b, "host" if name == "hosts" else "user", worst * 100))
    verdict = "Linear fit time = a + b*x: " + "; ".join(fits) + "."
    print("fleet-%s: %s" % (name, verdict))
    common.save_json("fleet-growth-" + name, data)
    md = ["| hosts | users/host | role, first | template, first | ratio | role, re-run | template, re-run | ratio |",
          "|---|---|---|---|---|---|---|---|"] + rows + ["", verdict]
    return "\n".join(md)


def developers():
    """Fleet time against developers per host, with the floor measured at each point."""
    hosts = int(os.environ.get("BENCH_DEV_HOSTS", "8"))
    users = [int(v) for v in os.environ.get("BENCH_DEV_USERS", "1,2,4,8,16").split(",")]
    load0 = loadavg()
    print("== fleet: developers per host on %d hosts (forks %d); load average %s ==" % (hosts, FORKS, load0))
    w = work_dir()
    rows, data, runs = [], [], []
    for u in users:
        r = point(w, hosts, u, floor=True)
        r["hosts"] = hosts
        data.append(dict(r, users=u))
        print("fleet-developers %d: %s" % (u, line("", r)))
        print("fleet-developers %d: %s" % (u, floor_line(r)))
        print("fleet-developers %d: %s" % (u, tasks_text(r)))
        rows.append("| %d | %s | %s | %s (%s) | %s | %s | %s | **%s** | %s | %s | %s |" % (
            u, t(r, "ping"), t(r, "ping_pb"), t(r, "users_pb"), x(r, "users_pb", "ping"), t(r, "role_first"),
            t(r, "template_first"), t(r, "role_rerun"), x(r, "role_rerun", "ping"), x(r, "role_rerun", "ping_pb"),
            t(r, "template_rerun"), x(r, "role_rerun", "template_rerun")))
        runs.append("%d: role re-run %s; ping %s; ping playbook %s; users task %s" % (
            u, ", ".join(ms(v) for v in r["role_rerun_runs"]), ", ".join(ms(v) for v in r["ping_runs"]),
            ", ".join(ms(v) for v in r["ping_pb_runs"]), ", ".join(ms(v) for v in r["users_pb_runs"])))
    xs = [d["users"] for d in data]
    fits = []
    for col in ("role_rerun", "role_first", "ping", "ping_pb", "users_pb", "template_first", "template_rerun"):
        if col not in data[0]:
            continue
        a, b, _worst = common.slope(xs, [d[col] for d in data])
        label = {"ping_pb": "ping playbook", "users_pb": "users task"}.get(col, col.replace("_", " "))
        fits.append("%s %.2f s + %.3f s per developer" % (label, a, b))
    verdict = "Linear fit time = a + b*developers per host: " + "; ".join(fits) + "."
    print("fleet-developers: " + verdict)
    common.save_json("fleet-developers", data)
    md = ["| developers/host | `ansible -m ping` | ping playbook | one `users` task (/ ad-hoc ping) | role, first"
          " | template, first | role, re-run | role re-run / ad-hoc ping | role re-run / ping playbook"
          " | template, re-run | role/template, re-run |",
          "|---|---|---|---|---|---|---|---|---|---|---|"] + rows
    md += ["", verdict,
           "", ("Re-runs and the floor are medians of %d interleaved runs; every run, in seconds, "
                "per developers/host: %s." % (ROUNDS, "; ".join(runs))),
           "", ("Load average %s at the start, %s at the end. The role's %s at %d developers/host."
                % (load0, loadavg(), tasks_text(data[-1]), data[-1]["users"]))]
    if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
        common.update_doc("fleet-developers", "\n".join(md))


def growth():
    print("== fleet growth (forks %d) ==" % FORKS)
    hosts = [int(x) for x in os.environ.get("BENCH_FLEET_HOSTS", "1,2,4,8,16,32").split(",")]
    users = [int(x) for x in os.environ.get("BENCH_FLEET_USERS", "1,2,4,8,16").split(",")]
    md_h = series("hosts", [(n, 1) for n in hosts])
    md_u = series("users", [(2, u) for u in users])
    if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
        common.update_doc("fleet-hosts", md_h)
        common.update_doc("fleet-users", md_u)


def smoke():
    t0 = time.time()
    w = work_dir()
    r = point(w, 2, 1, fresh=((1, 0),), rerun=False)
    print("fleet smoke 2x1 first run: role %s, template %s" % (t(r, "role_first"), t(r, "template_first")))
    print("fleet smoke: same provider entry on both sides, identical new configs; " + kept_text(r["kept"]))
    if r["kept"]["template"][0] >= r["kept"]["template"][1]:
        raise SystemExit("the template baseline kept the comments: the check cannot tell the sides apart")
    print("fleet smoke ok (%.1f s)" % (time.time() - t0))


def main(argv):
    cmd = argv[0] if argv else "compare"
    if cmd == "compare":
        compare(int(argv[1]) if len(argv) > 1 else 8, int(argv[2]) if len(argv) > 2 else 4)
    elif cmd == "developers":
        developers()
    elif cmd == "growth":
        growth()
    elif cmd == "smoke":
        smoke()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
