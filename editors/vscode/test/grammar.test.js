// Tokenizes .mlp text with the extension's TextMate grammar (the same engine VS Code
// uses: vscode-textmate + oniguruma) and checks the scopes of a few tokens, then that
// every example program tokenizes. Run: npm test (after npm ci).
"use strict";

const assert = require("assert");
const fs = require("fs");
const path = require("path");
const oniguruma = require("vscode-oniguruma");
const vsctm = require("vscode-textmate");

const root = path.join(__dirname, "..");
const repo = path.join(root, "..", "..");

async function loadGrammar() {
  const wasm = fs.readFileSync(path.join(root, "node_modules", "vscode-oniguruma", "release", "onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== "source.mlp") return null;
      const file = path.join(root, "syntaxes", "mlp.tmLanguage.json");
      return vsctm.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  return registry.loadGrammar("source.mlp");
}

/** [text, scopes] for every token of every line. */
function tokenize(grammar, text) {
  const out = [];
  let state = vsctm.INITIAL;
  for (const line of text.split("\n")) {
    const r = grammar.tokenizeLine(line, state);
    for (const t of r.tokens) out.push([line.slice(t.startIndex, t.endIndex), t.scopes]);
    state = r.ruleStack;
  }
  return out;
}

/** Asserts that the first token with this text has a scope starting with `scope`. */
function expectScope(tokens, text, scope) {
  const t = tokens.find(([s]) => s === text);
  assert.ok(t, `no token ${JSON.stringify(text)}`);
  assert.ok(
    t[1].some((s) => s.startsWith(scope)),
    `${JSON.stringify(text)}: expected ${scope}, got ${t[1].join(" ")}`,
  );
}

async function main() {
  const grammar = await loadGrammar();
  const sample = [
    "/// Predicts churn.",
    "source customers = csv(\"data/c\\\"s.csv\", delimiter = \";\") {",
    "  customer_id: int key  // the id",
    "  event_timestamp: timestamp time",
    "  customer_ref: int references orders.customer_id",
    "}",
    "features f on customers {",
    "  ttl = 1d",
    "  spend_90d: float = sum(orders.amount) over 90d",
    "}",
    "dataset d = customers with f { split = time(train = 80%, test = 20%) }",
    "model m = gradient_boosting(trees = 200, learning_rate = 1.5e-2) { cv = 5 }",
    "check customers { expect amount between 0 and 10000 }",
    "register m as \"m\" { promote to staging when auc >= 0.80 and approved }",
    "monitor md on \"m\" { alert when drift_share() > 30% then retrain m }",
    "serve \"m\" { canary { promote when p99_latency < 50ms } }",
    "pipeline p { owner = \"me\"; schedule = \"@daily\" }",
  ].join("\n");
  const tokens = tokenize(grammar, sample);
  expectScope(tokens, "/// Predicts churn.", "comment.line.documentation");
  expectScope(tokens, " the id", "comment.line.double-slash");
  expectScope(tokens, "source", "keyword.declaration");
  expectScope(tokens, "customers", "entity.name.type");
  expectScope(tokens, "csv", "entity.name.function");
  expectScope(tokens, "\\\"", "constant.character.escape");
  expectScope(tokens, "delimiter", "variable.parameter");
  expectScope(tokens, "customer_id", "variable.other.member");
  expectScope(tokens, "int", "storage.type.primitive");
  expectScope(tokens, "key", "storage.modifier");
  expectScope(tokens, "timestamp", "storage.type.primitive");
  expectScope(tokens, "time", "storage.modifier");
  expectScope(tokens, "references", "storage.modifier");
  expectScope(tokens, "ttl", "variable.other.property");
  expectScope(tokens, "1d", "constant.numeric.duration");
  expectScope(tokens, "float", "storage.type.primitive");
  expectScope(tokens, "over", "keyword.operator.word");
  expectScope(tokens, "80%", "constant.numeric.percentage");
  expectScope(tokens, "200", "constant.numeric");
  expectScope(tokens, "1.5e-2", "constant.numeric");
  expectScope(tokens, "expect", "keyword.other.expect");
  expectScope(tokens, "between", "keyword.operator.word");
  expectScope(tokens, ">=", "keyword.operator.comparison");
  expectScope(tokens, "promote", "keyword.control");
  expectScope(tokens, "when", "keyword.control");
  expectScope(tokens, "retrain", "keyword.control");
  expectScope(tokens, "50ms", "constant.numeric.duration");
  expectScope(tokens, "canary", "keyword.other.block");
  expectScope(tokens, "with", "keyword.other");
  expectScope(tokens, "schedule", "variable.other.property");
  // `time(...)` is the splitter, not the marker.
  const timeCall = tokens.filter(([s]) => s === "time").map(([, sc]) => sc.join(" "));
  assert.ok(timeCall.some((s) => s.includes("entity.name.function")), `time(...): ${timeCall.join(" | ")}`);

  // Every example tokenizes, and no line leaves a string or paren region open.
  let files = 0;
  for (const dir of ["churn", "delivery", "fraud"]) {
    const d = path.join(repo, "examples", dir);
    if (!fs.existsSync(d)) continue;
    for (const name of fs.readdirSync(d).filter((n) => n.endsWith(".mlp"))) {
      let state = vsctm.INITIAL;
      fs.readFileSync(path.join(d, name), "utf8").split("\n").forEach((line, i) => {
        const r = grammar.tokenizeLine(line, state);
        state = r.ruleStack;
        assert.strictEqual(state.depth, 1, `${dir}/${name}:${i + 1}: a region is still open after the line`);
      });
      files++;
    }
  }
  assert.ok(files > 0, "no example .mlp files found");
  console.log(`grammar ok: ${tokens.length} sample tokens, ${files} example files`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
