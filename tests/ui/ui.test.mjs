// mlpc ui in a real browser: Debian's chromium, headless, driven by playwright-core.
// Runs the churn example twice into a fresh state, starts `mlpc ui` on an ephemeral port,
// loads every page (no console error allowed), checks that compare shows only
// differences, approves a version through the confirmation page and checks that the stage
// moved and the audit log has the line; saves a screenshot of each page in SCREENSHOTS
// (a temporary folder unless set; `SCREENSHOTS=docs/ui` refreshes the docs' pictures).
//
//   MLPC=target/debug/mlpc node tests/ui/ui.test.mjs   (from the repository root)
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { createInterface } from "node:readline";

const mlpc = process.env.MLPC ?? "target/debug/mlpc";
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const token = "browser-test-token";
const state = mkdtempSync(join(tmpdir(), "mlpc-ui-"));
const shots = process.env.SCREENSHOTS ?? join(state, "screenshots");
const run = (...args) => execFileSync(mlpc, args, { encoding: "utf8" });

run("run", "examples/churn/churn.mlp", "--state", state);
run("run", "examples/churn/churn.mlp", "--state", state);

const server = spawn(mlpc, ["ui", "examples/churn/churn.mlp", "--state", state, "--addr", "127.0.0.1:0"], {
  env: { ...process.env, MLPC_ADMIN_TOKEN: token },
  stdio: ["ignore", "pipe", "inherit"],
});
const base = await new Promise((resolve, reject) => {
  createInterface({ input: server.stdout }).once("line", (l) => resolve(l.replace(/^ui on /, "").replace(/\/ui\/$/, "")));
  server.once("exit", (code) => reject(new Error(`mlpc ui exited with ${code}`)));
});

const userData = mkdtempSync(join(tmpdir(), "mlpc-ui-chromium-"));
let failures = 0;
let browser;
try {
  // A fresh profile each run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(userData, {
    executablePath: browserPath,
    viewport: { width: 1366, height: 800 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));

  const visit = async (path, shot, check) => {
    errors.length = 0;
    const response = await page.goto(base + path);
    assert.equal(response.status(), 200, `${path}: status`);
    await page.waitForLoadState("networkidle");
    await check?.();
    assert.deepEqual(errors, [], `${path}: console errors`);
    if (shot) await page.screenshot({ path: join(shots, `${shot}.png`), fullPage: false });
    console.log(`ok  ${path}`);
  };

  await visit("/ui/", "pipeline", async () => {
    assert.ok(await page.locator('a[href="/ui/nodes/model:churn_model"]').count(), "the model node is drawn");
  });
  await visit("/ui/runs", "runs", async () => {
    assert.equal(await page.locator('input[name="run"]').count(), 2, "two runs listed");
  });
  await visit("/ui/runs/1", "run");
  await visit("/ui/compare?run=1&run=2", "compare-same", async () => {
    assert.match(await page.textContent("main"), /have the same/);
  });
  await visit("/ui/registry/churn-predictor", null);
  await visit("/ui/serving", "serving");
  await visit("/ui/nodes/model:churn_model", null);

  // Approve version 1 for production: sign in, confirm, and see the stage move.
  await page.goto(base + "/ui/registry/churn-predictor/confirm?action=approve&version=1&stage=production");
  assert.match(page.url(), /\/ui\/login/, "signed out: the login page first");
  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/ui\/registry\/churn-predictor$/);
  await page.locator('a[href$="action=approve&version=1&stage=production"]').first().click();
  await page.getByLabel("Your name (recorded)").fill("browser");
  await page.getByRole("button", { name: "Confirm" }).click();
  assert.match(await page.textContent("main"), /moved to production/);
  const shown = JSON.parse(run("models", "show", "churn-predictor", "--state", state, "--json"));
  assert.equal(shown.stages.production, 1, "production moved to version 1");
  const log = readFileSync(join(state, "audit.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(log.some((e) => e.action === "approve" && e.by === "ui: browser" && e.version === 1), "the audit line");
  console.log("ok  approve in the browser moved production to 1, audit line written");
  await visit("/ui/registry/churn-predictor", "registry", async () => {
    assert.match(await page.textContent("#audit"), /intact/);
  });
} catch (e) {
  failures++;
  console.error(e);
} finally {
  await browser?.close();
  server.kill("SIGTERM");
  rmSync(state, { recursive: true, force: true });
  rmSync(userData, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
