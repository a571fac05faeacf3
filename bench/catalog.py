"""What catalog=gateway costs per user: one GET <base_url>/models to a real OmniRoute 3.7.9.

    catalog.py            start a scratch OmniRoute (tests/setup/omniroute.sh, port
                          BENCH_GATEWAY_PORT, default 20148), set it up through its API
                          (provider connection, combo, a restricted key), measure, stop it

Measured in-process, the way the module runs them, on a typical 5 KB config:
  - fetch: gw.fetch_models (the HTTP round trip, localhost, REQUIRE_API_KEY=true);
  - plan static / plan gateway: _configure.plan for one user, catalog=static against
    catalog=gateway (round trip + catalog building + planning); nothing is written;
  - round trips: the requests one user's catalog=gateway plan makes (must stay 1).
"""
import json
import os
import subprocess
import sys
import tempfile

from common import ROOT, SECRET, engine, human_size, save_json, time_calls, update_doc

PORT = os.environ.get("BENCH_GATEWAY_PORT", "20148")
STATE = os.path.join(ROOT, ".build", "bench", "omniroute-%s" % PORT)
SCRIPT = os.path.join(ROOT, "tests", "setup", "omniroute.sh")


def fmt(s):
    return "%.2f ms" % (s * 1000) if s < 1 else "%.2f s" % s


def round_trips(fn):
    """How many HTTP requests ``fn`` makes (every request goes through _http.request)."""
    from ansible_collections.omniroute.opencode.plugins.module_utils import _http
    calls = []
    real = _http.request

    def counting(*args, **kwargs):
        calls.append(args[:2])
        return real(*args, **kwargs)

    _http.request = counting
    try:
        fn()
    finally:
        _http.request = real
    return len(calls)


def main():
    engine()  # puts the collection on sys.path
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
    from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
    from ansible_collections.omniroute.opencode.plugins.module_utils import _omniroute_api as api
    import gen_config

    env = dict(os.environ, OMNIROUTE_PORT=PORT, OMNIROUTE_STATE=STATE)
    out = subprocess.run(["bash", SCRIPT, "start"], env=env, capture_output=True, text=True, check=True)
    info = dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)
    try:
        with open(info["OMNIROUTE_PASSWORD_FILE"]) as f:
            client = api.Client(info["OMNIROUTE_URL"], password=f.read().strip())
        client.login()
        client._call("POST", "/api/providers", body={"provider": "openai", "apiKey": "sk-unused", "name": "bench"})
        client._call("POST", "/api/combos", body={"name": "team-fast", "models": [{"model": "openai/gpt-4o-mini"}]})
        record = client.create_key("bench-catalog")
        client.update_key(record["id"], {"allowedModels": ["team-fast", "openai/gpt-4o*", "openai/gpt-5*"]})
        key = record["key"]
        base = info["OMNIROUTE_URL"] + "/v1"

        fetch, n_fetch, answer, first = time_calls(lambda: gw.fetch_models(base, key), budget=3)
        assert answer.outcome == gw.OK, answer.cause
        build, _n, catalog, _f = time_calls(lambda: gw.build_catalog(answer.models, ["auto"]), budget=1)

        home = tempfile.mkdtemp(prefix="bench-catalog-")
        conf = os.path.join(home, ".config", "opencode")
        os.makedirs(conf)
        text = gen_config.generate(5 * 1024)
        with open(os.path.join(conf, "opencode.json"), "w") as f:
            f.write(text)
        environ = {"HOME": home, "PATH": os.environ.get("PATH", "")}
        params = dict(cfg.PARAM_DEFAULTS, base_url=base, api_key=key, models=["auto"])
        static, n_static, _p, _f = time_calls(lambda: cfg.plan(dict(params, catalog="static"), environ), budget=2)
        gateway, n_gateway, plan, _f = time_calls(lambda: cfg.plan(dict(params, catalog="gateway"), environ), budget=3)
        assert plan.catalog["source"] == "gateway" and len(plan.spec.model_ids) == len(catalog)
        trips = round_trips(lambda: cfg.plan(dict(params, catalog="gateway"), environ))
        assert trips == 1, "catalog=gateway made %d requests for one user" % trips
        body = len(json.dumps({"data": answer.models}))
    finally:
        subprocess.run(["bash", SCRIPT, "stop"], env=env, capture_output=True, check=False)

    rows = dict(fetch=fetch, fetch_first=first, build=build, static=static, gateway=gateway,
                models_offered=len(answer.models), catalog=len(catalog), body_bytes=body, round_trips=trips,
                iterations=dict(fetch=n_fetch, static=n_static, gateway=n_gateway), config_bytes=len(text))
    save_json("catalog", rows)
    report = ["GET /models (%d models offered to the key, %s): median %s, first call %s (n=%d)"
              % (len(answer.models), human_size(body), fmt(fetch), fmt(first), n_fetch),
              "catalog building (%d models): %s" % (len(catalog), fmt(build)),
              "plan one user, %s config: static %s, gateway %s (+%s, %.1fx)"
              % (human_size(len(text)), fmt(static), fmt(gateway), fmt(gateway - static), gateway / static)]
    for line in report:
        print(line)
    assert SECRET not in "\n".join(report) and key not in "\n".join(report)
    table = "\n".join([
        "| per user | median | command |",
        "|---|---|---|",
        "| `GET /models`, %d models offered (%s), localhost | %s (first call %s) | `BENCH_ONLY=catalog make bench` |"
        % (len(answer.models), human_size(body), fmt(fetch), fmt(first)),
        "| catalog building, %d chat models kept | %s | same |" % (len(catalog), fmt(build)),
        "| plan, catalog=static, %s config | %s | same |" % (human_size(len(text)), fmt(static)),
        "| plan, catalog=gateway, same config | %s (**+%s**, %.1fx) | same |"
        % (fmt(gateway), fmt(gateway - static), gateway / static),
        "| HTTP round trips of one user's plan, catalog=gateway | %d | same |" % trips,
    ])
    with open("/proc/loadavg") as f:
        table += "\n\nMeasured with a load average of %s on this shared machine." % f.read().split()[0]
    if os.environ.get("BENCH_WRITE_DOC", "1") == "1":
        update_doc("catalog", table)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
