// Node side of the engine benchmark: what OmniRoute's own generator (`omniroute config opencode`,
// mergeOpenCodeConfigText in src/shared/services/opencodeConfig.ts) does with Microsoft's
// jsonc-parser, re-expressed here: parse the existing text (comments and trailing commas
// allowed; any parse error or a non-object root is refused), then one `modify` + `applyEdits`
// for `$schema` (kept if present, else the OpenCode schema URL) and one for
// `provider.omniroute` (the whole entry replaced), 2-space formatting.
//
//   merge.cjs merge IN OUT [--warmup W] [--iterations N] [--base-url U] [--api-key K]
//                          [--models a,b,c] [--name omniroute] [--display-name OmniRoute]
//       writes the merged text to OUT; prints one JSON line with timings (ms) and memory.
//   merge.cjs parse FILE...
//       prints one JSON line: the parsed values (jsonc-parser, as OpenCode parses its config).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { createRequire } = require("node:module");

const cache = process.env.OMNIROUTE_OPENCODE_CACHE || path.join(require("node:os").homedir(), ".cache", "omniroute-opencode");
const nodeDir = process.env.BENCH_NODE_DIR || path.join(cache, "bench-node");
const jsonc = createRequire(path.join(nodeDir, "package.json"))("jsonc-parser");

const SCHEMA = "https://opencode.ai/config.json";
const DEFAULT_MODELS = ["claude-opus-4-5-thinking", "claude-sonnet-4-5-thinking", "gemini-3.1-pro-high", "gemini-3-flash"];
const FORMAT = { formattingOptions: { insertSpaces: true, tabSize: 2 } };

function baseUrlV1(url) {
  // Exactly one /v1 at the end, whatever the input carried.
  let u = String(url || "").trim().replace(/\/+$/, "");
  while (/\/v1$/.test(u)) u = u.slice(0, -3).replace(/\/+$/, "");
  return u + "/v1";
}

function buildEntry(o) {
  const ids = [...new Set((o.models && o.models.length ? o.models : DEFAULT_MODELS).map((m) => String(m).trim()).filter(Boolean))];
  const models = {};
  for (const id of ids) models[id] = { name: id };
  return {
    npm: "@ai-sdk/openai-compatible",
    name: o.displayName,
    options: { baseURL: baseUrlV1(o.baseUrl), apiKey: o.apiKey || "sk_omniroute" },
    models,
  };
}

function parseStrict(text) {
  const errors = [];
  const value = jsonc.parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length || !value || typeof value !== "object" || Array.isArray(value)) {
    const e = errors[0];
    throw new Error("invalid JSONC: " + (e ? jsonc.printParseErrorCode(e.error) + " at offset " + e.offset : "root must be an object"));
  }
  return value;
}

function mergeText(text, o) {
  const entry = buildEntry(o);
  if (!text.trim()) return JSON.stringify({ $schema: SCHEMA, provider: { [o.name]: entry } }, null, 2);
  const parsed = parseStrict(text);
  let next = jsonc.applyEdits(text, jsonc.modify(text, ["$schema"], parsed.$schema || SCHEMA, FORMAT));
  next = jsonc.applyEdits(next, jsonc.modify(next, ["provider", o.name], entry, FORMAT));
  return next;
}

function opts(argv) {
  const o = { warmup: 3, iterations: 10, baseUrl: "http://localhost:20128", apiKey: "sk_omniroute", models: null, name: "omniroute", displayName: "OmniRoute" };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === "--warmup") o.warmup = Number(v);
    else if (k === "--iterations") o.iterations = Number(v);
    else if (k === "--base-url") o.baseUrl = v;
    else if (k === "--api-key") o.apiKey = v;
    else if (k === "--models") o.models = v ? v.split(",") : null;
    else if (k === "--name") o.name = v;
    else if (k === "--display-name") o.displayName = v;
    else throw new Error("unknown option " + k);
  }
  return o;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === "parse") {
    process.stdout.write(JSON.stringify(rest.map((f) => parseStrict(fs.readFileSync(f, "utf8")))) + "\n");
    return;
  }
  if (cmd !== "merge") throw new Error("usage: merge.cjs merge IN OUT [...] | parse FILE...");
  const [input, output, ...more] = rest;
  const o = opts(more);
  const text = fs.readFileSync(input, "utf8");
  let out = "";
  // The first call, cold (no JIT yet): what a one-shot `omniroute config opencode` pays.
  const c0 = process.hrtime.bigint();
  out = mergeText(text, o);
  const firstMs = Number(process.hrtime.bigint() - c0) / 1e6;
  for (let i = 1; i < o.warmup; i++) out = mergeText(text, o);
  const times = [];
  for (let i = 0; i < o.iterations; i++) {
    const t0 = process.hrtime.bigint();
    out = mergeText(text, o);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  // Memory, as a reference only (V8 has no exact peak): heap growth over one merge with the
  // collector kept out of the way as far as possible (--expose-gc lets us start from a clean heap).
  let heapDelta = null;
  if (typeof global.gc === "function") {
    global.gc();
    const before = process.memoryUsage().heapUsed;
    const keep = mergeText(text, o);
    heapDelta = process.memoryUsage().heapUsed - before;
    if (keep.length !== out.length) throw new Error("non-deterministic merge");
  }
  fs.writeFileSync(output, out);
  process.stdout.write(JSON.stringify({
    median_ms: median(times), first_ms: firstMs, min_ms: Math.min(...times), iterations: o.iterations, warmup: o.warmup,
    heap_delta_bytes: heapDelta, rss_bytes: process.memoryUsage().rss, input_bytes: Buffer.byteLength(text), output_bytes: Buffer.byteLength(out),
    jsonc_parser: require(path.join(nodeDir, "node_modules", "jsonc-parser", "package.json")).version,
  }) + "\n");
}

main();
