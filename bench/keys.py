"""Key management benchmark (issue 20, item 6): what opencode_api_key_source: omniroute costs the
OmniRoute server and the run, before issue 20 (one login and one key listing per host) and after
it (one login and one listing for the whole run, then one call per change).

Hosts are local-connection inventory hosts; each has U developers whose OpenCode files live in
the bench's work directory (config_path / auth_path), owned by the developer's account: the
ocbench accounts when `make bench` has made them (bench/setup-users.sh), else existing system
accounts (daemon, bin, ...), so that running this file alone creates no account. A real
OmniRoute 3.7.9 runs on 127.0.0.1 (tests/setup/omniroute.sh; OMNIROUTE_PORT / OMNIROUTE_STATE keep
it apart from other servers), behind a counting proxy: every management call and every
inference probe of the run is counted by method and route. "before" is the role at
BENCH_KEYS_BEFORE (a git commit), extracted with git archive; "after" is this checkout.

  keys.py [HOSTS USERS]     default 8 hosts x 8 developers; four runs per side: first (keys
                            created), re-run (kept), rotate every key, re-run (kept)
Per host: the summed wall time of that host's "OmniRoute keys |" tasks (bench_timer).
"""
import collections
import http.client
import json
import os
import pwd
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ansible_env  # noqa: E402
import common  # noqa: E402
import fleet  # noqa: E402

BEFORE = os.environ.get("BENCH_KEYS_BEFORE", "93f3e4d")
PLAY = "- hosts: laptops\n  gather_facts: false\n  roles:\n    - role: omniroute.opencode.opencode\n"
SYSTEM_ACCOUNTS = ("daemon", "bin", "sys", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
                   "backup", "list", "irc", "nobody")
RUNS = (("first", "first run (keys created)", {}), ("rerun", "re-run (keys kept)", {}),
        ("rotate", "rotate every key (two-phase after)", {"opencode_omniroute_rotate": True}),
        ("rerun2", "re-run after the rotation", {}))


# --------------------------------------------------------------------------- counting proxy
def route(method, path):
    path = path.split("?", 1)[0]
    path = re.sub(r"^/api/keys/[^/]+", "/api/keys/{id}", path)
    return "%s %s" % (method, path)


class CountingProxy(object):
    """127.0.0.1 HTTP proxy in front of the OmniRoute server; counts requests by route."""

    def __init__(self, target):
        parts = urlsplit(target)
        self.counts = collections.Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    proxy.counts[route(self.command, self.path)] += 1
                headers = dict((k, v) for k, v in self.headers.items() if k.lower() not in ("host", "connection"))
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def take(self):
        with self.lock:
            out = dict(self.counts)
            self.counts.clear()
        return out

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------- the fleet
def start_server():
    out = common.run([os.path.join(common.ROOT, "tests", "setup", "omniroute.sh"), "start"]).stdout
    values = dict(line.split("=", 1) for line in out.split() if "=" in line)
    return values["OMNIROUTE_URL"], values["OMNIROUTE_PASSWORD_FILE"]


def stop_server():
    common.run([os.path.join(common.ROOT, "tests", "setup", "omniroute.sh"), "stop"], check=False)


def before_collection(work):
    """The collection at BEFORE, as ansible_collections/omniroute/opencode under work/before."""
    top = os.path.join(work, "before-%s" % BEFORE)
    dest = os.path.join(top, "ansible_collections", "omniroute", "opencode")
    if not os.path.isdir(dest):
        os.makedirs(dest)
        archive = subprocess.run(["git", "-C", common.ROOT, "archive", BEFORE], stdout=subprocess.PIPE, check=True)
        subprocess.run(["tar", "-x", "-C", dest], input=archive.stdout, check=True)
    return top


def accounts(count):
    bench = ["ocbench%02d" % (i + 1) for i in range(count)]
    pool = bench if all(_exists(a) for a in bench) else [a for a in SYSTEM_ACCOUNTS if _exists(a)]
    if len(pool) < count:
        raise SystemExit("need %d accounts for the developers, found %d (run bench/setup-users.sh)" % (count, len(pool)))
    return pool[:count]


def _exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def inventory(work, side, hosts, users, url, password_file, run_id):
    names = accounts(users)
    laptops = {}
    for h in range(hosts):
        host = "keys%02d" % (h + 1)
        entries = []
        for name in names:
            home = os.path.join(work, side, host, name)
            os.makedirs(home, exist_ok=True)
            info = pwd.getpwnam(name)
            os.chown(home, info.pw_uid, info.pw_gid)
            entries.append({"name": name, "config_path": os.path.join(home, "opencode.json"),
                            "auth_path": os.path.join(home, "auth.json")})
        laptops[host] = {"opencode_users": entries}
    doc = {"all": {"children": {"laptops": {"hosts": laptops, "vars": {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "opencode_become": False,
        "opencode_base_url": url + "/v1",
        "opencode_api_key_source": "omniroute",
        "opencode_omniroute_password": open(password_file).read().strip(),
        "opencode_omniroute_key_name": "bench-%s-%s-{user}@{host}" % (run_id, side),
        "opencode_models": ["auto"],
    }}}}}
    path = os.path.join(work, "keys-%s.json" % side)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    os.chmod(path, 0o600)
    return path


def key_seconds(timer, hosts):
    per_host = {}
    for row in timer["tasks"]:
        if "OmniRoute keys |" in row["task"]:  # "<role> : OmniRoute keys | ..."
            per_host[row["host"]] = per_host.get(row["host"], 0.0) + row["seconds"]
    return sum(per_host.values()) / max(1, hosts)


def run(work, side, inv, label, hosts, extra):
    pb = os.path.join(work, "keys-play.yml")
    with open(pb, "w") as f:
        f.write(PLAY)
    extra_file = os.path.join(work, "keys-extra-%s.json" % label)
    with open(extra_file, "w") as f:
        json.dump(extra, f)
    colls = before_collection(work) if side == "before" else None
    saved = os.environ.get("BENCH_COLLECTIONS")
    if colls:
        os.environ["BENCH_COLLECTIONS"] = colls
    try:
        wall, timer = ansible_env.playbook(work, pb, inv, extra_vars_file=extra_file, forks=fleet.FORKS,
                                           label="keys-%s-%s" % (side, label))
    finally:
        if colls:
            if saved is None:
                os.environ.pop("BENCH_COLLECTIONS", None)
            else:
                os.environ["BENCH_COLLECTIONS"] = saved
    return wall, key_seconds(timer, hosts)


def summary(counts):
    logins = counts.get("POST /api/auth/login", 0)
    listings = counts.get("GET /api/keys", 0)
    changes = sum(n for r, n in counts.items() if r.split()[0] in ("POST", "PATCH", "DELETE")
                  and r != "POST /api/auth/login")
    probes = counts.get("GET /v1/models", 0)
    return dict(logins=logins, listings=listings, changes=changes, probes=probes, routes=counts)


def main(argv):
    hosts = int(argv[0]) if argv else 8
    users = int(argv[1]) if len(argv) > 1 else 8
    work = os.path.join(common.WORK, "keys")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    run_id = str(int(time.time()))
    url, password_file = start_server()
    proxy = CountingProxy(url)
    res = {}
    try:
        for side in ("before", "after"):
            inv = inventory(work, side, hosts, users, proxy.url, password_file, run_id)
            for label, _title, extra in RUNS:
                proxy.take()
                wall, per_host = run(work, side, inv, label, hosts, extra)
                calls = summary(proxy.take())
                res["%s_%s" % (side, label)] = dict(wall=wall, per_host=per_host, **calls)
                print("keys %-6s %-6s: %d hosts x %d developers, wall %s, key tasks %.2f s per host, "
                      "%d logins, %d key listings, %d changes, %d /v1/models"
                      % (side, label, hosts, users, common.ms(wall), per_host, calls["logins"],
                         calls["listings"], calls["changes"], calls["probes"]))
    finally:
        proxy.close()
        stop_server()
    common.save_json("keys", dict(res, hosts=hosts, users=users, before=BEFORE))
    md = ["| run | logins before / after | key listings before / after | changing calls before / after "
          "| key tasks s/host before / after | wall before / after |",
          "|---|---|---|---|---|---|"]
    for label, title, _extra in RUNS:
        b, a = res["before_" + label], res["after_" + label]
        md.append("| %s | %d / **%d** | %d / **%d** | %d / %d | %.2f s / %.2f s | %s / %s |" % (
            title, b["logins"], a["logins"], b["listings"], a["listings"], b["changes"], a["changes"],
            b["per_host"], a["per_host"], common.ms(b["wall"]), common.ms(a["wall"])))
    md.append("")
    md.append("%d hosts x %d developers, forks %d; before = role at %s, after = this checkout. Changing calls: "
              "POST, PATCH and DELETE on /api/keys (a two-phase rotation is a POST, then a DELETE once the new "
              "key is installed)." % (hosts, users, fleet.FORKS, BEFORE))
    if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
        common.update_doc("keys", "\n".join(md))


if __name__ == "__main__":
    main(sys.argv[1:])
