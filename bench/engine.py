"""Engine benchmark: merge the OmniRoute provider into an OpenCode config, in-process.

Three sides, same input, same parameters, one run:
  ours      plugins/module_utils/_opencode.merge_text (byte-preserving JSONC edit)
  jsonc     Microsoft's jsonc-parser in Node: parse + modify $schema + modify provider.omniroute,
            which is what OmniRoute's own `omniroute config opencode` does (bench/node/merge.cjs)
  json5     json5.loads + json.dumps (the lossy shortcut: comments and layout are lost)

Parity: the three outputs are parsed with jsonc-parser (how OpenCode reads its config) and must
be equal as values; ours must also keep every comment of the input.

  engine.py compare [SIZES]   ratios at the typical and large size (default 5K,2M)
  engine.py growth  [SIZES]   time and peak memory against size (default 5K..20M)
  engine.py smoke             tiny sizes: harness works, parity holds (used by make test)
"""
import json
import os
import signal
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import SECRET, human_size, ms  # noqa: E402
from gen_config import generate, parse_size  # noqa: E402

SCHEMA = "https://opencode.ai/config.json"
PARAMS = dict(name="omniroute", display_name="OmniRoute", base_url="http://127.0.0.1:20128",
              api_key=SECRET)  # models: the default catalog on every side
DEFAULT_MODELS = ["claude-opus-4-5-thinking", "claude-sonnet-4-5-thinking",
                  "gemini-3.1-pro-high", "gemini-3-flash"]


def lossy_entry():
    # The entry OmniRoute documents (docs: OpenCode integration), built by hand for json5.
    return {"npm": "@ai-sdk/openai-compatible", "name": PARAMS["display_name"],
            "options": {"baseURL": PARAMS["base_url"].rstrip("/") + "/v1",
                        "apiKey": PARAMS["api_key"]},
            "models": {m: {"name": m} for m in DEFAULT_MODELS}}


def json5_merge(text):
    import json5
    d = json5.loads(text)
    d.setdefault("$schema", SCHEMA)
    prov = d.get("provider")
    if not isinstance(prov, dict):
        prov = d["provider"] = {}
    prov[PARAMS["name"]] = lossy_entry()
    return json.dumps(d, indent=2, ensure_ascii=False)


def ours_fn(text):
    oc = common.engine()[1]
    limit = int(os.environ.get("BENCH_ENGINE_TIMEOUT", "300"))

    def expired(signum, frame):
        raise TimeoutError()

    def call():
        # A merge that takes minutes is a bug to report, not a figure to wait for.
        old = signal.signal(signal.SIGALRM, expired)
        signal.alarm(limit)
        try:
            return oc.merge_text(text, **PARAMS)
        except TimeoutError:
            raise SystemExit("ours: one merge of %s took more than %d s (BENCH_ENGINE_TIMEOUT); "
                             "stopped" % (human_size(len(text.encode("utf-8"))), limit))
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
    return call


def peak_memory(fn):
    """Peak Python heap (bytes) allocated while fn() runs, input already allocated."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def node_merge(path, out, size):
    iters = max(2, min(200, int(20e6 / max(size, 1))))
    warm = max(1, min(20, iters // 5))
    p = common.run(["node", "--expose-gc", os.path.join(common.BENCH, "node", "merge.cjs"), "merge",
                    path, out, "--warmup", str(warm), "--iterations", str(iters),
                    "--base-url", PARAMS["base_url"], "--api-key", PARAMS["api_key"],
                    "--name", PARAMS["name"], "--display-name", PARAMS["display_name"]],
                   env=dict(os.environ, BENCH_NODE_DIR=common.node_dir()))
    common.assert_no_secret(p.stdout, p.stderr)
    return json.loads(p.stdout)


def comment_lines(text):
    return [ln.strip() for ln in text.splitlines()
            if ln.strip().startswith(("//", "/*", "*")) or " // " in ln]


def measure(size, sides=("ours", "jsonc", "json5"), seed=1, budget=1.5, memory=True, quick=False):
    """Run the sides on one generated file; return a result dict (times in seconds)."""
    text = generate(size, seed)
    real = len(text.encode("utf-8"))
    d = os.path.join(common.WORK, "engine")
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "in-%d.jsonc" % size)
    with open(src, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    res = {"size": size, "bytes": real, "outputs": {}}
    if "ours" in sides:
        fn = ours_fn(text)
        if quick:
            t, n, out, first = common.time_calls(fn, budget=0, min_iter=1, warmup=0)
        elif real > 4e6:  # a few seconds per merge: two timed calls, no separate warm-up
            t, n, out, first = common.time_calls(fn, budget=0, min_iter=2, warmup=0)
        else:
            t, n, out, first = common.time_calls(fn, budget=budget, min_iter=3)
        res["ours_s"], res["ours_n"], res["ours_first_s"] = t, n, first
        res["ours_min_s"] = common.time_calls.last_min
        if memory:
            res["ours_peak"] = peak_memory(fn)
        res["outputs"]["ours"] = out
    if "jsonc" in sides:
        out_path = os.path.join(d, "jsonc-%d.json" % size)
        r = node_merge(src, out_path, real)
        res["jsonc_s"], res["jsonc_n"] = r["median_ms"] / 1000.0, r["iterations"]
        res["jsonc_first_s"] = r["first_ms"] / 1000.0
        res["jsonc_min_s"] = r["min_ms"] / 1000.0
        res["jsonc_heap"], res["jsonc_version"] = r["heap_delta_bytes"], r["jsonc_parser"]
        with open(out_path, encoding="utf-8") as f:
            res["outputs"]["jsonc"] = f.read()
    if "json5" in sides:
        t, n, out, first = common.time_calls(
            lambda: json5_merge(text), min_iter=1, warmup=0, budget=budget if real < 100e3 else 0)
        res["json5_s"], res["json5_n"] = t, n
        res["outputs"]["json5"] = out
    # Parity: parse every output with jsonc-parser; all must be the same value.
    paths = []
    for side, out in res["outputs"].items():
        p = os.path.join(d, "out-%s-%d.jsonc" % (side, size))
        with open(p, "w", encoding="utf-8", newline="") as f:
            f.write(out)
        paths.append((side, p))
    values = common.node_parse([pair[1] for pair in paths])
    ref_side, ref = paths[0][0], values[0]
    for (side, _path), v in zip(paths[1:], values[1:]):
        if v != ref:
            raise SystemExit("PARITY FAILED at %s: %s and %s produce different documents"
                             % (human_size(real), ref_side, side))
    if ref.get("provider", {}).get(PARAMS["name"], {}).get("options", {}).get("apiKey") != SECRET:
        raise SystemExit("PARITY FAILED: merged document lacks the provider entry")
    src_comments = comment_lines(text)
    res["comments_in"] = len(src_comments)
    for side, out in res["outputs"].items():
        kept = set(comment_lines(out))
        res["comments_kept_" + side] = sum(1 for c in src_comments if c in kept)
    if "ours" in res["outputs"] and res["comments_kept_ours"] != len(src_comments):
        raise SystemExit("ours lost comments at %s" % human_size(real))
    res["parity"] = "same document (%d outputs)" % len(paths)
    del res["outputs"]
    return res


def ratio(a, b):
    return a / b if b else float("inf")


def compare(sizes):
    rows, results = [], []
    print("== engine: merge provider.omniroute into an OpenCode config (in-process) ==")
    for s in sizes:
        r = measure(s)
        results.append(r)
        peak_x = r["ours_peak"] / r["bytes"]
        print("engine %-7s ours %-9s | jsonc-parser %-9s ours/jsonc = %.2fx | json5+dumps %-9s ours/json5 = %.3fx"
              % (human_size(r["bytes"]), ms(r["ours_s"]), ms(r["jsonc_s"]),
                 ratio(r["ours_s"], r["jsonc_s"]), ms(r["json5_s"]), ratio(r["ours_s"], r["json5_s"])))
        print("       %-7s first call in the process (one merge per module run): ours %s | jsonc-parser %s | ours/jsonc = %.2fx"
              % ("", ms(r["ours_first_s"]), ms(r["jsonc_first_s"]), ratio(r["ours_first_s"], r["jsonc_first_s"])))
        print("       %-7s peak memory ours %s = %.1fx file size (goal <= 10x) | jsonc-parser heap growth %s (reference)"
              % ("", human_size(r["ours_peak"]), peak_x,
                 human_size(r["jsonc_heap"]) if r["jsonc_heap"] else "n/a"))
        print("       %-7s comments kept: ours %d/%d, jsonc-parser %d/%d, json5 %d/%d; %s"
              % ("", r["comments_kept_ours"], r["comments_in"], r["comments_kept_jsonc"],
                 r["comments_in"], r["comments_kept_json5"], r["comments_in"], r["parity"]))
        rows.append("| %s | %s | %s | **%.2fx** | %s / %s (%.2fx) | %s | %.3fx | %s (%.1fx) | %s | %d/%d | %d/%d |" % (
            human_size(r["bytes"]), ms(r["ours_s"]), ms(r["jsonc_s"]), ratio(r["ours_s"], r["jsonc_s"]),
            ms(r["ours_first_s"]), ms(r["jsonc_first_s"]), ratio(r["ours_first_s"], r["jsonc_first_s"]),
            ms(r["json5_s"]), ratio(r["ours_s"], r["json5_s"]), human_size(r["ours_peak"]), peak_x,
            human_size(r["jsonc_heap"]) if r["jsonc_heap"] else "n/a",
            r["comments_kept_ours"], r["comments_in"], r["comments_kept_json5"], r["comments_in"]))
    md = ["| file | ours (median) | jsonc-parser (median) | ours / jsonc | first call: ours / jsonc "
          "| json5 + dumps | ours / json5 | ours peak (x file) | jsonc heap growth | comments kept, ours "
          "| comments kept, json5 |",
          "|---|---|---|---|---|---|---|---|---|---|---|"] + rows
    common.save_json("engine-compare", results)
    return "\n".join(md)


def growth(sizes):
    """Best-of-N times (CPU-bound code: the minimum is the least disturbed by other load)."""
    print("== engine growth: time (best of N) and peak memory against file size ==")
    results, rows = [], []
    for s in sizes:
        r = measure(s, sides=("ours", "jsonc"), budget=1.0)
        results.append(r)
        o, j = r["ours_min_s"], r["jsonc_min_s"]
        mb = r["bytes"] / 2 ** 20
        print("growth %-7s ours %-9s (%.0f ms/MB) peak %.1fx | jsonc-parser %-9s (%.0f ms/MB) | ours/jsonc = %.2fx"
              % (human_size(r["bytes"]), ms(o), o * 1e3 / mb, r["ours_peak"] / r["bytes"], ms(j), j * 1e3 / mb,
                 ratio(o, j)))
        rows.append("| %s | %s | %.0f | %.1fx | %s | %.0f | %.2fx |" % (
            human_size(r["bytes"]), ms(o), o * 1e3 / mb, r["ours_peak"] / r["bytes"], ms(j), j * 1e3 / mb,
            ratio(o, j)))
    xs = [r["bytes"] for r in results]
    k_ours = common.log_log_exponent(xs, [r["ours_min_s"] for r in results])
    k_js = common.log_log_exponent(xs, [r["jsonc_min_s"] for r in results])
    verdict = ("Fitted exponent of time ~ size^k over the larger half of the sizes: ours k = %.2f, "
               "jsonc-parser k = %.2f (1.00 = linear)." % (k_ours, k_js))
    print(verdict)
    common.save_json("engine-growth", results)
    md = ["| file | ours (best) | ours ms/MB | ours peak (x file) | jsonc-parser (best) | jsonc ms/MB | ours / jsonc |",
          "|---|---|---|---|---|---|---|"] + rows + ["", verdict]
    return "\n".join(md)


def smoke():
    t0 = time.time()
    for s in (2048, 40 * 1024):
        r = measure(s, budget=0, memory=False, quick=True)
        print("engine smoke %-7s ours %s, jsonc-parser %s, json5 %s: %s, comments kept %d/%d"
              % (human_size(r["bytes"]), ms(r["ours_s"]), ms(r["jsonc_s"]), ms(r["json5_s"]),
                 r["parity"], r["comments_kept_ours"], r["comments_in"]))
    # The check must be able to fail: a document that differs has to be caught.
    d = os.path.join(common.WORK, "engine")
    a, b = os.path.join(d, "neg-a.json"), os.path.join(d, "neg-b.json")
    with open(a, "w") as f:
        f.write('{"provider": {"omniroute": {"name": "OmniRoute"}}, // c\n}')
    with open(b, "w") as f:
        f.write('{"provider": {"omniroute": {"name": "0mniRoute"}}}')
    va, vb = common.node_parse([a, b])
    assert va != vb, "parity oracle cannot tell different documents apart"
    print("engine smoke ok (%.1f s)" % (time.time() - t0))


def main(argv):
    cmd = argv[0] if argv else "compare"
    sizes = [parse_size(s) for s in argv[1].split(",")] if len(argv) > 1 else None
    if cmd == "smoke":
        smoke()
    elif cmd == "compare":
        md = compare(sizes or [parse_size("5K"), parse_size("2M")])
        if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
            common.update_doc("engine", md)
    elif cmd == "growth":
        md = growth(sizes or [parse_size(s) for s in ("5K", "50K", "500K", "2M", "5M", "10M", "20M")])
        if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
            common.update_doc("engine-growth", md)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
