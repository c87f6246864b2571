// Shared by the dashboard's browser test and its load-time benchmark: a
// kojod (and agents) started on 127.0.0.1 in a fresh folder, each in its own
// process group, all stopped by stop() or when this process exits.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, f, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

export class Cluster {
  constructor(bin) {
    this.bin = bin;  // {kojod, agent, kojo}
    this.dir = mkdtempSync(join(tmpdir(), "kojo-web-"));
    this.children = [];
    process.on("exit", () => this.kill());
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"])
      process.on(sig, () => {
        this.kill();
        process.exit(1);
      });
  }

  spawn(argv, log, env = {}) {
    const fd = openSync(join(this.dir, log), "a");
    const p = spawn(argv[0], argv.slice(1), { stdio: ["ignore", fd, fd], detached: true, env: { ...process.env, ...env } });
    this.children.push(p);
    return p;
  }

  async startKojod(extra = []) {
    const data = join(this.dir, "kojod");
    this.kojod = this.spawn(
      [this.bin.kojod, "--data-dir", data, "--listen", "127.0.0.1:0", "--admin-token-file", join(this.dir, "admin.token"), ...extra],
      "kojod.log",
    );
    const addr = join(data, "kojod.addr");
    this.url = await waitFor("kojod's address", () => existsSync(addr) && readFileSync(addr, "utf8").trim());
    this.admin = readFileSync(join(this.dir, "admin.token"), "utf8").trim();
    return this.url;
  }

  async api(method, path, body, tok = this.admin) {
    const res = await fetch(this.url + "/api/v1" + path, {
      method,
      headers: { Authorization: "Bearer " + tok, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30000),
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  async must(method, path, body, tok) {
    const r = await this.api(method, path, body, tok);
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  }

  // A user with `role` (or none) and a token of theirs.
  async user(name, role) {
    await this.must("POST", "/users", role ? { name, role } : { name });
    return (await this.must("POST", "/tokens", { user: name })).secret;
  }

  async startAgent(name, gpus) {
    const tok = (await this.must("POST", "/tokens", { node: name })).secret;
    this.spawn(
      [this.bin.agent, "--server", this.url, "--name", name, "--state-dir", join(this.dir, "agent-" + name), "--listen", "127.0.0.1:0",
        "--emulate-gpus", gpus, "--heartbeat-wait-ms", "500"],
      `agent-${name}.log`,
      { KOJO_TOKEN: tok },
    );
    await waitFor(`node ${name} up`, async () => (await this.api("GET", "/nodes/" + name)).json?.state === "UP");
  }

  log(name) {
    try {
      return readFileSync(join(this.dir, name), "utf8");
    } catch {
      return "";
    }
  }

  kill() {
    for (const p of this.children.splice(0)) {
      try {
        process.kill(-p.pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  }

  // Cancels every job that has not ended and waits (15 s at most) until no
  // task runs: a task outlives its agent by design (the agent re-adopts it
  // when it starts again), so stopping the agent would leave it running.
  async cancelAll() {
    if (!this.url || !this.admin) return;
    const live = "PENDING,HELD,STARTING,RUNNING,STOPPING";
    const list = async (states) => (await this.api("GET", `/jobs?state=${states}&limit=10000`)).json?.jobs ?? [];
    for (const j of await list(live)) await this.api("POST", `/jobs/${j.id}/cancel`);
    await waitFor("the jobs to end", async () => (await list("STARTING,RUNNING,STOPPING")).length === 0, 15000).catch((e) =>
      console.error(e.message),
    );
  }

  async stop({ keep = false } = {}) {
    if (this.children.length > 1) await this.cancelAll().catch(() => {});  // agents run tasks
    // SIGTERM first: kojod and the agents end cleanly; SIGKILL what is left.
    for (const p of this.children) {
      try {
        process.kill(-p.pid, "SIGTERM");
      } catch {
        // gone already
      }
    }
    await waitFor("the daemons to stop", () => this.children.every((p) => p.exitCode !== null || p.signalCode !== null), 10000).catch(() => {});
    this.kill();
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

export function chromiumPath() {
  for (const p of [process.env.KOJO_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"])
    if (p && existsSync(p)) return p;
  return null;
}
