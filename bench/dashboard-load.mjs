// How long the dashboard's pages take to load from kojod with 10,000 jobs
// and 1,000 nodes in its state (docs/results.md, "The dashboard").
//
//   node bench/dashboard-load.mjs [--jobs 10000] [--nodes 1000] [--runs 9]
//
// Starts a kojod on 127.0.0.1 (binaries from build/release, or $KOJOD),
// registers NODES made-up nodes of 8 H100s through the agents' API (no agent
// runs: placed jobs stay STARTING), applies an organisation of 4 programmes
// and 20 projects with grants, submits JOBS jobs of 1 to 8 GPUs from 50
// users, and waits until the scheduler has explained every waiting job.
// Then, in headless chromium (/usr/bin/chromium, or $KOJO_CHROMIUM), signs
// in and loads each page RUNS times: the time is from the start of the
// navigation to the page drawn with its data (the mark the dashboard sets
// once its API requests are answered and the page rendered), assets cached
// as a returning user has them; the first, cold load is printed apart.
// Prints one JSON object.
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, chromiumPath, waitFor } from "../tests/web/harness.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, def) => {
  const i = process.argv.indexOf("--" + name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const JOBS = arg("jobs", 10000);
const NODES = arg("nodes", 1000);
const RUNS = arg("runs", 9);
const bin = join(root, "build/release/src");
const chromium = chromiumPath();
if (!chromium) throw new Error("no chromium: install it (scripts/deps.sh) or set KOJO_CHROMIUM");
const { chromium: driver } = createRequire(join(root, "web/package.json"))("playwright-core");

const cluster = new Cluster({
  kojod: process.env.KOJOD ?? join(bin, "kojod"),
  agent: process.env.KOJO_AGENT ?? join(bin, "kojo-agent"),
  kojo: join(bin, "kojo"),
});
const shared = "bench-shared-token";
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const log = (...a) => console.error("dashboard-load:", ...a);

try {
  await cluster.startKojod(["--token", shared, "--node-timeout", "86400"]);
  const day = 86400 * 1000;
  const iso = (ms) => new Date(ms).toISOString().slice(0, 19) + "Z";
  const programmes = ["research", "industry", "teaching", "public"];
  const projects = Array.from({ length: 20 }, (_, i) => `p${String(i).padStart(2, "0")}`);
  await cluster.must("PUT", "/org", {
    gpu_weights: { H100: 2.0 },
    programmes: programmes.map((name) => ({ name })),
    organisations: programmes.map((p) => ({ name: "org-" + p, programme: p })),
    projects: projects.map((name, i) => ({ name, organisation: "org-" + programmes[i % 4] })),
    grants: projects.map((project) => ({
      id: project + "-grant", project, gpu_hours: 100000000, start: iso(Date.now() - 60 * day), end: iso(Date.now() + 300 * day),
    })),
  });

  let t0 = Date.now();
  const names = Array.from({ length: NODES }, (_, i) => `gpu${String(i).padStart(4, "0")}`);
  for (let i = 0; i < names.length; i += 50)
    await Promise.all(
      names.slice(i, i + 50).map((name) =>
        cluster.must("POST", "/agents/register", {
          node: {
            name, cpu_milli: 128000, mem_mib: 2048000,
            gpus: Array.from({ length: 8 }, (_, g) => ({ index: g, model: "H100", mem_mib: 81920, uuid: `EMU-${name}-${g}` })),
          },
        }, shared),
      ),
    );
  log(`${NODES} nodes registered in ${Date.now() - t0} ms`);

  t0 = Date.now();
  let seed = 42;
  const rand = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  const sizes = [1, 1, 2, 4, 8];
  for (let i = 0; i < JOBS; i += 1000) {
    const jobs = Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => ({
      name: `job-${i + k}`, command: ["sleep", "3600"], gpus: sizes[rand(5)], project: projects[rand(20)],
      user: `u${rand(50)}`, time_limit_s: 600 + rand(7200),
    }));
    await cluster.must("POST", "/jobs", { jobs }, shared);
  }
  log(`${JOBS} jobs submitted in ${Date.now() - t0} ms`);
  const overview = await waitFor("every waiting job explained", async () => {
    const o = (await cluster.api("GET", "/overview", undefined, shared)).json;
    const page = (await cluster.api("GET", "/jobs?state=PENDING&limit=10000", undefined, shared)).json;
    return page.jobs.every((j) => j.reason !== "Submitted") && o;
  }, 120000);
  log("state:", JSON.stringify(overview.jobs), JSON.stringify(overview.gpus));

  if (process.argv.includes("--serve")) {
    // Keep the filled kojod for a look by hand, until Ctrl-C.
    console.log(`kojod at ${cluster.url}, token ${shared}; Ctrl-C stops it`);
    await new Promise(() => {});  // the harness stops kojod on SIGINT
  }
  const browser = await driver.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000);
  const waiting = (await cluster.api("GET", "/jobs?state=PENDING&limit=1", undefined, shared)).json.jobs[0].id;
  const pages = ["/queue", "/nodes", "/usage", `/jobs/${waiting}`];
  const load = async (path) => {
    await page.goto(cluster.url + path);
    await page.waitForSelector(`#app[data-ready="${path}"]`);
    return page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const ready = performance.getEntriesByName("kojo-ready").at(-1).startTime;
      const api = performance.getEntriesByType("resource").filter((r) => r.name.includes("/api/v1/"));
      const apiEnd = Math.max(0, ...api.map((r) => r.responseEnd));
      return {
        ready_ms: ready,
        api_requests: api.length,
        api_bytes: api.reduce((s, r) => s + r.encodedBodySize, 0),
        api_ms: Math.max(0, ...api.map((r) => r.duration)),
        start_ms: nav.domContentLoadedEventEnd,
        render_ms: ready - apiEnd,
      };
    });
  };
  // Sign in once: the token stays in the tab's sessionStorage across loads.
  const cold0 = Date.now();
  await page.goto(cluster.url + "/");
  await page.fill("#token", shared);
  await page.click("#signin button[type=submit]");
  await page.waitForSelector('#app[data-ready="/"]');
  const signin_ms = Date.now() - cold0;
  const out = { jobs: JOBS, nodes: NODES, gpus: overview.gpus, job_states: overview.jobs, runs: RUNS, signin_cold_ms: signin_ms, pages: {} };
  for (const path of pages) {
    const first = await load(path);
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await load(path));
    const key = path.startsWith("/jobs/") ? "/jobs/{id}" : path;
    out.pages[key] = {
      median_ms: Math.round(median(runs.map((x) => x.ready_ms))),
      max_ms: Math.round(Math.max(...runs.map((x) => x.ready_ms))),
      first_ms: Math.round(first.ready_ms),
      api_requests: first.api_requests,
      api_kib: Math.round(first.api_bytes / 1024),
      // Medians of: the slowest API request of the load, the script's start
      // (DOMContentLoaded), and drawing after the last answer.
      slowest_api_ms: Math.round(median(runs.map((x) => x.api_ms))),
      script_start_ms: Math.round(median(runs.map((x) => x.start_ms))),
      render_ms: Math.round(median(runs.map((x) => x.render_ms))),
    };
    log(key, JSON.stringify(out.pages[key]));
  }
  await page.goto(cluster.url + "/nodes");
  await page.waitForSelector('#app[data-ready="/nodes"]');
  if (process.env.KOJO_SCREENSHOT) await page.screenshot({ path: process.env.KOJO_SCREENSHOT });
  await browser.close();
  console.log(JSON.stringify(out, null, 1));
} finally {
  await cluster.stop();
}
