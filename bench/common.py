"""Shared helpers of the benchmark harness (stdlib only, plus the repo's own module_utils)."""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
DOC = os.path.join(ROOT, "docs", "performance.md")
CACHE = os.environ.get("OMNIROUTE_OPENCODE_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "omniroute-opencode")
WORK = os.environ.get("BENCH_WORK") or os.path.join(ROOT, ".build", "bench")
# A key-shaped secret: every harness checks that it never shows up in what it prints or logs.
SECRET = "sk-bench-5ecret-" + "7f3a9c1e0b2d4f68"


def engine():
    """Import the collection's engine in-process, as the module does (through the collection
    link that `make collection` creates under .build/collections)."""
    colls = os.environ.get("BENCH_COLLECTIONS") or os.path.join(ROOT, ".build", "collections")
    if not os.path.isdir(os.path.join(colls, "ansible_collections", "omniroute", "opencode")):
        raise SystemExit("no collection link under %s: run `make collection` first" % colls)
    if colls not in sys.path:
        sys.path.insert(0, colls)
    from ansible_collections.omniroute.opencode.plugins.module_utils import _jsonc, _opencode
    return _jsonc, _opencode


def median(xs):
    return statistics.median(xs)


def time_calls(fn, min_iter=3, max_iter=200, budget=1.5, warmup=1):
    """Median wall time (s) of fn(): warm-up, then iterate until `budget` seconds or max_iter.
    Returns (median, iterations, last output, time of the very first call)."""
    out, first = None, None
    for _round in range(warmup):
        t0 = time.perf_counter()
        out = fn()
        if first is None:
            first = time.perf_counter() - t0
    times = []
    t_end = time.perf_counter() + budget
    while len(times) < min_iter or (len(times) < max_iter and time.perf_counter() < t_end):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    time_calls.last_min = min(times)
    return median(times), len(times), out, (times[0] if first is None else first)


def human_size(n):
    for unit, div in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= div:
            return "%.1f %s" % (n / div, unit) if n < 10 * div else "%.0f %s" % (n / div, unit)
    return "%d B" % n


def ms(s):
    v = s * 1000.0
    if v < 10:
        return "%.2f ms" % v
    if v < 1000:
        return "%.0f ms" % v
    return "%.2f s" % (v / 1000.0)


def run(cmd, env=None, check=True, timeout=1800):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise SystemExit("command failed (%d): %s\n%s\n%s" % (
            p.returncode, " ".join(cmd), p.stdout[-4000:], p.stderr[-4000:]))
    return p


def node_dir():
    return run([os.path.join(BENCH, "setup-node.sh")]).stdout.strip()


def node_parse(paths):
    """Parse files with Microsoft's jsonc-parser (how OpenCode reads its config) -> values."""
    p = run(["node", os.path.join(BENCH, "node", "merge.cjs"), "parse"] + list(paths),
            env=dict(os.environ, BENCH_NODE_DIR=node_dir()))
    return json.loads(p.stdout)


def assert_no_secret(*texts):
    for t in texts:
        if t and SECRET in t:
            raise SystemExit("SECURITY: the API key appeared in harness output")


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else ""
    except OSError:
        pass
    try:
        node = run(["node", "--version"]).stdout.strip()
    except Exception:  # pragma: no cover - node is a hard requirement of the bench anyway
        node = "?"
    return "%s, %d cores, Python %s, Node %s" % (
        cpu or platform.machine(), os.cpu_count() or 0, platform.python_version(), node)


def update_doc(section, markdown):
    """Replace the text between <!-- bench:SECTION --> and <!-- /bench:SECTION --> in the doc."""
    with open(DOC, encoding="utf-8") as f:
        doc = f.read()
    begin, end = "<!-- bench:%s -->" % section, "<!-- /bench:%s -->" % section
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < 0:
        raise SystemExit("docs/performance.md has no %s ... %s markers" % (begin, end))
    doc = doc[:i + len(begin)] + "\n" + markdown.rstrip("\n") + "\n" + doc[j:]
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(doc)


def save_json(name, data):
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(WORK, name + ".json"), "w") as f:
        json.dump(data, f, indent=1)


def slope(xs, ys):
    """Least-squares fit y = a + b*x; returns (a, b, worst relative residual)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    a = my - b * mx
    worst = max(abs(y - (a + b * x)) / y for x, y in zip(xs, ys) if y) if n else 0.0
    return a, b, worst


def log_log_exponent(xs, ys):
    """Exponent k of y ~ x^k fitted on the largest half of the points (1.0 = linear)."""
    import math
    pts = sorted(zip(xs, ys))[len(xs) // 2 - (1 if len(xs) % 2 == 0 else 0):]
    if len(pts) < 2:
        return float("nan")
    lx = [math.log(pt[0]) for pt in pts]
    ly = [math.log(pt[1]) for pt in pts]
    k = slope(lx, ly)[1]
    return k


if __name__ == "__main__":
    # common.py machine: print the machine line and record it in the doc (unless BENCH_WRITE_DOC=0)
    line = "%s; load average at start %s" % (machine(), open("/proc/loadavg").read().split()[0])
    print(line)
    if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
        update_doc("machine", line)
