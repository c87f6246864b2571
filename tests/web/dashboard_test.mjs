// The dashboard in a real browser: Debian's chromium, headless, driven by
// playwright-core, against a kojod and an agent with two emulated H100s
// started here on 127.0.0.1. Saves a screenshot of each page in
// $KOJO_SCREENSHOTS (docs/img/ holds the committed ones).
//
// Environment: KOJOD, KOJO_AGENT, KOJO (binaries), KOJO_WEB_DIR (web/, for
// playwright-core), KOJO_SCREENSHOTS. Exit 77 (skipped) without chromium.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import assert from "node:assert/strict";
import { Cluster, chromiumPath, waitFor } from "./harness.mjs";

const chromium = chromiumPath();
if (!chromium) {
  console.log("skipped: no chromium (/usr/bin/chromium; scripts/deps.sh installs it, or set KOJO_CHROMIUM)");
  process.exit(77);
}
const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const { chromium: driver } = createRequire(join(env("KOJO_WEB_DIR"), "package.json"))("playwright-core");
const shots = env("KOJO_SCREENSHOTS");
mkdirSync(shots, { recursive: true });

const cluster = new Cluster({ kojod: env("KOJOD"), agent: env("KOJO_AGENT"), kojo: env("KOJO") });
// The whole test may take 120 s at most, then 20 s to stop what it started.
const deadline = setTimeout(() => {
  console.error("FAILED: the test ran over 120 s");
  setTimeout(() => process.exit(1), 20000).unref();
  cluster.stop().finally(() => process.exit(1));
}, 120000);
let browser;
let failed = false;
const step = (s) => console.log("--", s);

try {
  step("kojod, an organisation with two programmes and grants, an agent with 2 emulated H100s");
  await cluster.startKojod(["--node-timeout", "30", "--kill-grace", "2"]);
  const day = 86400 * 1000;
  const iso = (ms) => new Date(ms).toISOString().slice(0, 19) + "Z";
  await cluster.must("PUT", "/org", {
    gpu_weights: { H100: 2.0, default: 1.0 },
    programmes: [{ name: "research", share: 70 }, { name: "teaching", share: 30 }],
    organisations: [{ name: "uni-a", programme: "research" }, { name: "school", programme: "teaching" }],
    projects: [{ name: "vision", organisation: "uni-a" }, { name: "course", organisation: "school" }],
    grants: [
      { id: "vision-2026", project: "vision", gpu_hours: 500, start: iso(Date.now() - 30 * day), end: iso(Date.now() + 335 * day) },
      { id: "course-2026", project: "course", gpu_hours: 100, start: iso(Date.now() - 10 * day), end: iso(Date.now() + 80 * day) },
    ],
    members: [{ project: "vision", user: "ada", role: "lead" }],
  });
  const viewer = await cluster.user("vic", "viewer");
  await cluster.startAgent("gpu-a", "2xH100-80GB");

  step("two jobs through the CLI: one runs on a GPU, the other waits for two");
  const submit = (...args) =>
    JSON.parse(
      execFileSync(cluster.bin.kojo, ["submit", "--json", ...args], {
        env: { ...process.env, KOJO_SERVER: cluster.url, KOJO_TOKEN: cluster.admin },
        timeout: 20000,
      }).toString(),
    ).ids[0];
  const running = submit("-p", "vision", "-J", "train", "--gpus", "1", "--", "bash", "-c", "echo hello from the GPU; sleep 600");
  const waiting = submit("-p", "course", "-J", "big-run", "--gpus", "2", "--", "sleep", "5");
  await waitFor("the first job to run", async () => (await cluster.api("GET", `/jobs/${running}`)).json.state === "RUNNING");
  const why = await waitFor("the second job's reason", async () => {
    const w = (await cluster.api("GET", `/jobs/${waiting}/why`)).json;
    return w.state === "PENDING" && w.reason !== "Submitted" && w;
  });
  console.log(`job ${waiting} waits: ${why.reason}: ${why.message}`);

  browser = await driver.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  const newPage = async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15000);
    page.on("pageerror", (e) => {
      console.error("page error:", e.message);
      failed = true;
    });
    page.on("dialog", (d) => d.accept());
    return page;
  };
  const ready = (page, path) => page.waitForSelector(`#app[data-ready="${path}"]`);
  const signIn = async (page, secret) => {
    await page.goto(cluster.url + "/");
    await page.fill("#token", secret);
    await page.click("#signin button[type=submit]");
    await ready(page, "/");
  };

  step("sign in: the queue shows the waiting job with its reason and estimated start");
  const page = await newPage();
  await page.goto(cluster.url + "/");
  await page.waitForSelector("#signin");
  await page.screenshot({ path: join(shots, "dashboard-signin.png") });
  await page.fill("#token", "kojo_" + "0".repeat(40));  // no such token: refused, asked again
  await page.click("#signin button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#signin-error")?.textContent?.includes("token"));
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await signIn(page, cluster.admin);
  const row = page.locator(`tr[data-job="${waiting}"]`);
  assert.equal(await row.locator("td.reason").innerText(), why.reason);
  assert.match(await row.innerText(), /big-run/);
  assert.equal(await page.locator(`tr[data-job="${running}"]`).count(), 0, "the running job is not in the waiting list");
  assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing in localStorage");
  assert.equal(await page.evaluate(() => document.cookie), "", "no cookie");
  await page.screenshot({ path: join(shots, "dashboard-queue.png"), fullPage: true });

  step("the heat map shows the running job on its GPU, and the GPUs' utilisation");
  const gpu = (await cluster.api("GET", `/jobs/${running}`)).json.placement[0].gpus[0];
  // Emulated GPUs report what this file says (by GPU index).
  writeFileSync(join(cluster.dir, "agent-gpu-a", "emulated-gpu-util"), gpu === 0 ? "87 0\n" : "0 87\n");
  await waitFor("the utilisation in the node's view", async () =>
    (await cluster.api("GET", "/nodes/gpu-a")).json?.gpu_util?.[gpu] === 87);
  await page.click('nav a[href="/nodes"]');
  await ready(page, "/nodes");
  const cell = page.locator(`.node[data-node="gpu-a"] .gpu[data-gpu="${gpu}"]`);
  assert.equal(await cell.getAttribute("data-jobs"), String(running));
  assert.equal(await cell.innerText(), String(running));
  assert.equal(await cell.getAttribute("data-util"), "87");
  assert.match(await cell.getAttribute("title"), /utilisation 87%/);
  assert.equal(await page.locator(`.node[data-node="gpu-a"] .gpu[data-gpu="${1 - gpu}"]`).getAttribute("data-jobs"), "");
  await page.screenshot({ path: join(shots, "dashboard-nodes.png"), fullPage: true });

  step("the running job's page follows its log");
  await cell.locator("a").click();
  await ready(page, `/jobs/${running}`);
  await page.waitForFunction(() => document.querySelector("#log")?.textContent?.includes("hello from the GPU"));
  assert.equal(await page.locator('[data-act="cancel"]').count(), 1);
  await page.screenshot({ path: join(shots, "dashboard-job.png"), fullPage: true });

  step("cancel the waiting job in its page");
  await page.goto(`${cluster.url}/jobs/${waiting}`);
  await ready(page, `/jobs/${waiting}`);
  assert.match(await page.locator("#why").innerText(), new RegExp(why.reason));
  assert.equal(await page.locator('[data-act="hold"]').count(), 1);
  await page.click('[data-act="cancel"]');
  await page.waitForFunction(() => document.querySelector("#details .state")?.textContent === "CANCELLED");
  assert.equal((await cluster.api("GET", `/jobs/${waiting}`)).json.state, "CANCELLED");
  assert.equal(await page.locator('[data-act="cancel"]').count(), 0, "no cancel button on an ended job");

  step("usage by programme and project, and the grants' burn-down");
  await page.click('nav a[href="/usage"]');
  await ready(page, "/usage");
  assert.equal(await page.locator("#grants tr[data-grant]").count(), 2);
  assert.equal(await page.locator("#burndown .uplot").count(), 2);
  assert.ok((await page.locator("#by-project .uplot").count()) === 1);
  await page.screenshot({ path: join(shots, "dashboard-usage.png"), fullPage: true });

  step("an operator drains and resumes a node");
  await page.click('nav a[href="/nodes"]');
  await ready(page, "/nodes");
  await page.click('[data-drain="gpu-a"]');
  await page.waitForSelector('.node[data-node="gpu-a"] .s-draining');
  assert.equal((await cluster.api("GET", "/nodes/gpu-a")).json.state, "DRAINING");
  await page.click('[data-resume="gpu-a"]');
  await page.waitForSelector('.node[data-node="gpu-a"] .s-up');
  assert.equal((await cluster.api("GET", "/nodes/gpu-a")).json.state, "UP");

  step("a viewer sees no cancel button, and the API refuses it anyway");
  const vpage = await newPage();
  await signIn(vpage, viewer);
  await vpage.goto(`${cluster.url}/jobs/${running}`);
  await ready(vpage, `/jobs/${running}`);
  assert.match(await vpage.locator("#details").innerText(), /RUNNING/);
  assert.equal(await vpage.locator("[data-act]").count(), 0);
  const refused = await vpage.evaluate(async (id) => {
    const tok = sessionStorage.getItem("kojo.token");
    const r = await fetch(`/api/v1/jobs/${id}/cancel`, { method: "POST", headers: { Authorization: "Bearer " + tok } });
    return r.status;
  }, running);
  assert.equal(refused, 403);
  assert.equal((await cluster.api("POST", `/jobs/${running}/cancel`, undefined, viewer)).status, 403);
  assert.equal((await cluster.api("GET", `/jobs/${running}`)).json.state, "RUNNING");
  await vpage.goto(`${cluster.url}/nodes`);
  await ready(vpage, "/nodes");
  assert.equal(await vpage.locator("[data-drain], [data-resume]").count(), 0, "a viewer has no drain button");

  step("signing out forgets the token");
  await vpage.click("#signout");
  await vpage.waitForSelector("#signin");
  assert.equal(await vpage.evaluate(() => sessionStorage.length), 0);
  if (failed) throw new Error("the page threw (above)");
  console.log("PASSED");
} catch (e) {
  failed = true;
  console.error("FAILED:", e);
  console.error("kojod log (last lines):\n" + cluster.log("kojod.log").split("\n").slice(-30).join("\n"));
} finally {
  await browser?.close().catch(() => {});
  await cluster.stop();
  clearTimeout(deadline);
}
process.exit(failed ? 1 : 0);
