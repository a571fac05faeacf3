"""Key management benchmark: seconds per host spent on keys with opencode_api_key_source: omniroute,
for the role before issue 11 (per-user slurps and one api_key login per user) and after it (one
read on the host, one api_key call with one login per host).

Same simulated fleet as fleet.py (local-connection hosts, developers ocbench01.. become via su),
against a real OmniRoute server started here (tests/setup/omniroute.sh, 127.0.0.1 only; set
OMNIROUTE_PORT / OMNIROUTE_STATE to keep it apart from other servers). "before" is the role at
BENCH_KEYS_BEFORE (a git commit, default the one before the users module), extracted with
git archive into the work directory; "after" is this checkout.

  keys.py [HOSTS USERS]     default 4 hosts x 4 developers; first run (keys created) and re-run
                            (installed keys checked and kept)
Per host: the sum of the wall times of that host's "OmniRoute keys |" tasks (bench_timer).
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ansible_env  # noqa: E402
import common  # noqa: E402
import fleet  # noqa: E402

BEFORE = os.environ.get("BENCH_KEYS_BEFORE", "8b1477d")
PLAY = "- hosts: laptops\n  gather_facts: false\n  roles:\n    - role: omniroute.opencode.opencode\n"


def start_server():
    env = dict(os.environ)
    out = common.run([os.path.join(common.ROOT, "tests", "setup", "omniroute.sh"), "start"], env=env).stdout
    values = dict(line.split("=", 1) for line in out.split() if "=" in line)
    return values["OMNIROUTE_URL"], values["OMNIROUTE_PASSWORD_FILE"]


def stop_server():
    common.run([os.path.join(common.ROOT, "tests", "setup", "omniroute.sh"), "stop"], check=False)


def before_collection(work):
    """The collection at BEFORE, as ansible_collections/omniroute/opencode under work/before."""
    top = os.path.join(work, "before")
    dest = os.path.join(top, "ansible_collections", "omniroute", "opencode")
    if not os.path.isdir(dest):
        os.makedirs(dest)
        archive = subprocess.run(["git", "-C", common.ROOT, "archive", BEFORE], stdout=subprocess.PIPE, check=True)
        subprocess.run(["tar", "-x", "-C", dest], input=archive.stdout, check=True)
    return top


def inventory(work, side, hosts, users, url, password_file, run_id):
    inv = fleet.build(work, "keys-" + side, hosts, users)
    with open(inv) as f:
        doc = json.load(f)
    for hv in doc["all"]["children"]["laptops"]["hosts"].values():
        for u in hv["opencode_users"]:
            del u["api_key"]
    doc["all"]["vars"].update({
        "opencode_base_url": url + "/v1",
        "opencode_api_key_source": "omniroute",
        "opencode_omniroute_password": open(password_file).read().strip(),
        "opencode_omniroute_key_name": "bench-%s-%s-{user}@{host}" % (run_id, side),
        "opencode_models": ["auto"],
    })
    with open(inv, "w") as f:
        json.dump(doc, f, indent=1)
    return inv


def key_seconds(timer, hosts):
    per_host = {}
    for row in timer["tasks"]:
        if "OmniRoute keys |" in row["task"]:  # "<role> : OmniRoute keys | ..."
            per_host[row["host"]] = per_host.get(row["host"], 0.0) + row["seconds"]
    return sum(per_host.values()) / max(1, hosts)


def run(work, side, inv, label, hosts):
    pb = os.path.join(work, "keys-play.yml")
    with open(pb, "w") as f:
        f.write(PLAY)
    colls = before_collection(work) if side == "before" else None
    saved = os.environ.get("BENCH_COLLECTIONS")
    if colls:
        os.environ["BENCH_COLLECTIONS"] = colls
    try:
        wall, timer = ansible_env.playbook(work, pb, inv, forks=fleet.FORKS, label="keys-%s-%s" % (side, label))
    finally:
        if colls:
            if saved is None:
                os.environ.pop("BENCH_COLLECTIONS", None)
            else:
                os.environ["BENCH_COLLECTIONS"] = saved
    return wall, key_seconds(timer, hosts)


def main(argv):
    hosts = int(argv[0]) if argv else 4
    users = int(argv[1]) if len(argv) > 1 else 4
    work = os.path.join(common.WORK, "keys")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    run_id = str(int(time.time()))
    url, password_file = start_server()
    res = {}
    try:
        for side in ("before", "after"):
            inv = inventory(work, side, hosts, users, url, password_file, run_id)
            for label in ("first", "rerun"):
                wall, per_host = run(work, side, inv, label, hosts)
                res["%s_%s" % (side, label)] = dict(wall=wall, per_host=per_host)
                print("keys %s %-5s: %d hosts x %d developers, wall %s, key management %.2f s per host"
                      % (side, label, hosts, users, common.ms(wall), per_host))
    finally:
        stop_server()
    common.save_json("keys", dict(res, hosts=hosts, users=users, before=BEFORE))
    md = ["| run | before: key s/host | after: key s/host | after/before | before: wall | after: wall |",
          "|---|---|---|---|---|---|"]
    for label, name in (("first", "first run (keys created)"), ("rerun", "re-run (installed keys kept)")):
        b, a = res["before_" + label], res["after_" + label]
        md.append("| %s | %.2f s | %.2f s | **%.2fx** | %s | %s |" % (
            name, b["per_host"], a["per_host"], a["per_host"] / max(b["per_host"], 1e-9), common.ms(b["wall"]), common.ms(a["wall"])))
    md.append("")
    md.append("%d hosts x %d developers, forks %d; before = role at %s, after = this checkout."
              % (hosts, users, fleet.FORKS, BEFORE))
    if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
        common.update_doc("keys", "\n".join(md))


if __name__ == "__main__":
    main(sys.argv[1:])
