"""Module benchmark: one `omniroute.opencode.provider` task against one `ansible.builtin.copy`
task writing the same file, on localhost (local connection), first run and unchanged re-run.

Each playbook holds K tasks of one kind, each on its own file (a 5 KB developer config); the
bench_timer callback records each task's wall time (module start to result). R rounds, sides
interleaved: provider first run, provider re-run, copy first run, copy re-run. The copy task's
source is the very file the provider task wrote, so both write the same bytes.

  module.py [--tasks K] [--rounds R] [--smoke]
"""
import argparse
import filecmp
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ansible_env  # noqa: E402
import common  # noqa: E402
from common import SECRET, median, ms  # noqa: E402
from gen_config import generate, parse_size  # noqa: E402


def write_playbooks(work, k):
    pb = {}
    head = ("- hosts: bench\n  gather_facts: false\n  tasks:\n")
    body = []
    for i in range(k):
        body.append(
            "    - name: provider %02d\n"
            "      omniroute.opencode.provider:\n"
            "        path: %s/p%02d.json\n"
            "        base_url: http://127.0.0.1:20128\n"
            "        api_key: \"{{ bench_api_key }}\"\n" % (i, work, i))
    pb["provider"] = os.path.join(work, "provider.yml")
    with open(pb["provider"], "w") as f:
        f.write(head + "".join(body))
    body = []
    for i in range(k):
        body.append(
            "    - name: copy %02d\n"
            "      ansible.builtin.copy:\n"
            "        src: %s/expected.json\n"
            "        dest: %s/c%02d.json\n" % (i, work, work, i))
    pb["copy"] = os.path.join(work, "copy.yml")
    with open(pb["copy"], "w") as f:
        f.write(head + "".join(body))
    return pb


def reset(work, k, text):
    for i in range(k):
        for side in "pc":
            with open(os.path.join(work, "%s%02d.json" % (side, i)), "w", encoding="utf-8", newline="") as f:
                f.write(text)


def task_times(timer, k, expect_changed):
    rows = timer["tasks"]
    if len(rows) != k:
        raise SystemExit("expected %d timed tasks, got %d" % (k, len(rows)))
    bad = [r["task"] for r in rows if r["changed"] != expect_changed]
    if bad:
        raise SystemExit("tasks %s: changed should be %s" % (bad, expect_changed))
    return [r["seconds"] for r in rows]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args(argv)
    if a.smoke:
        a.tasks, a.rounds = 2, 1
    work = os.path.join(common.WORK, "module")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    inv = os.path.join(work, "inventory.ini")
    with open(inv, "w") as f:
        f.write("[bench]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n"
                % sys.executable)
    keyfile = os.path.join(work, "key.json")
    with open(keyfile, "w") as f:
        f.write('{"bench_api_key": "%s"}' % SECRET)
    os.chmod(keyfile, 0o600)
    text = generate(parse_size("5K"), seed=7)
    pb = write_playbooks(work, a.tasks)

    # The provider's output becomes the copy task's source: both sides write the same file.
    # In smoke mode the expected file is the jsonc-parser (OmniRoute generator) output instead,
    # and the check below is that the provider wrote the same document, parsed.
    reset(work, a.tasks, text)
    if a.smoke:
        src = os.path.join(work, "input.json")
        with open(src, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        common.run(["node", os.path.join(common.BENCH, "node", "merge.cjs"), "merge", src,
                    os.path.join(work, "expected.json"), "--warmup", "0", "--iterations", "1",
                    "--base-url", "http://127.0.0.1:20128", "--api-key", SECRET],
                   env=dict(os.environ, BENCH_NODE_DIR=common.node_dir()))
    else:
        ansible_env.playbook(work, pb["provider"], inv, keyfile, label="prime")
        shutil.copyfile(os.path.join(work, "p00.json"), os.path.join(work, "expected.json"))

    t = {"provider_first": [], "provider_rerun": [], "copy_first": [], "copy_rerun": []}
    wall = {key: [] for key in t}
    for _round in range(a.rounds):
        reset(work, a.tasks, text)
        for side in ("provider", "copy"):
            w, timer = ansible_env.playbook(work, pb[side], inv, keyfile, label=side + "-first")
            t[side + "_first"] += task_times(timer, a.tasks, True)
            wall[side + "_first"].append(w)
            if a.smoke:  # smoke: the first run is enough to compare what both sides write
                t[side + "_rerun"].append(float("nan"))
                wall[side + "_rerun"].append(float("nan"))
                continue
            w, timer = ansible_env.playbook(work, pb[side], inv, keyfile, label=side + "-rerun")
            t[side + "_rerun"] += task_times(timer, a.tasks, False)
            wall[side + "_rerun"].append(w)
    for i in range(a.tasks):
        p, c = os.path.join(work, "p%02d.json" % i), os.path.join(work, "c%02d.json" % i)
        if a.smoke:
            vp, vc = common.node_parse([p, c])
            if vp != vc:
                raise SystemExit("provider task and OmniRoute's generator wrote different documents")
        elif not filecmp.cmp(p, c, shallow=False):
            raise SystemExit("provider and copy wrote different files (%s, %s)" % (p, c))
    vals = common.node_parse([os.path.join(work, "p00.json")])
    if vals[0]["provider"]["omniroute"]["options"]["apiKey"] != SECRET:
        raise SystemExit("provider did not write the key")
    if a.smoke:
        print("module smoke: provider task %s, copy task %s; the provider wrote the document OmniRoute's "
              "generator writes" % (ms(median(t["provider_first"])), ms(median(t["copy_first"]))))
        return

    print("== module: one provider task vs one ansible.builtin.copy task (localhost, %d tasks x %d rounds) =="
          % (a.tasks, a.rounds))
    rows = []
    res = {}
    for run in ("first", "rerun"):
        pv, cp = median(t["provider_" + run]), median(t["copy_" + run])
        pw, cw = median(wall["provider_" + run]), median(wall["copy_" + run])
        res[run] = {"provider_task_s": pv, "copy_task_s": cp, "ratio": pv / cp,
                    "provider_playbook_s": pw, "copy_playbook_s": cw}
        label = "first run" if run == "first" else "unchanged re-run"
        print("module %-16s provider %-9s | copy %-9s | provider/copy = %.2fx (goal <= 1.2x)"
              " | whole playbook of %d tasks: %s vs %s"
              % (label, ms(pv), ms(cp), pv / cp, a.tasks, ms(pw), ms(cw)))
        rows.append("| %s | %s | %s | **%.2fx** | %s | %s |" % (label, ms(pv), ms(cp), pv / cp, ms(pw), ms(cw)))
    print("module: both sides wrote byte-identical files; key never in output")
    common.save_json("module", {"tasks": a.tasks, "rounds": a.rounds, "result": res, "samples": t})
    md = ["| run | provider task | copy task | provider / copy | playbook of %d provider tasks "
          "| playbook of %d copy tasks |" % (a.tasks, a.tasks), "|---|---|---|---|---|---|"] + rows
    if not a.smoke and os.environ.get("BENCH_WRITE_DOC", "1") == "1":
        common.update_doc("module", "\n".join(md))


if __name__ == "__main__":
    main()
