// One job: its details, why it waits, its log (followed while it runs),
// and cancel / hold / release for those the API lets act on it.
import { ApiError, get, post, request, type JobView, type JobWhy, type Powers } from "./api";
import type { Page } from "./main";
import { esc, gpusOf, stateBadge, when } from "./util";

const ENDED = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"];
const MAX_LOG = 2 << 20;  // characters kept on the page; older ones are dropped

function details(j: JobView, w: JobWhy | null): string {
  const spec = j.spec;
  const cmd = spec.command?.join(" ") ?? (spec.script ? "(script)" : "");
  const placed = j.placement.map((p) => `${esc(p.node)}: GPU ${p.gpus.join(", ") || "—"}${p.gpu_milli < 1000 ? ` (${p.gpu_milli / 1000})` : ""}`);
  const rows: [string, string][] = [
    ["State", stateBadge(j.state) + (j.reason ? ` <span class="reason">${esc(j.reason)}</span>` : "")],
    ["Name", esc(spec.name ?? "")],
    ["User", esc(spec.user ?? "")],
    ["Project", esc(spec.project ?? "")],
    ["GPUs", esc(gpusOf(spec)) + (spec.gpu_models?.length ? " " + esc(spec.gpu_models.join(", ")) : "")],
    ["Command", `<code>${esc(cmd)}</code>`],
    ["Time limit", spec.time_limit_s ? `${spec.time_limit_s} s` : "—"],
    ["Submitted", when(j.submit_time)],
    ["Started", when(j.start_time)],
    ["Ended", when(j.end_time)],
    ["Attempt", String(j.attempt)],
    ["Placement", placed.join("<br>") || "—"],
  ];
  if (j.exit_code !== null) rows.push(["Exit code", String(j.exit_code)]);
  if (j.signal !== null) rows.push(["Signal", String(j.signal)]);
  if (j.message) rows.push(["Message", esc(j.message)]);
  let why = "";
  if (w && (w.state === "PENDING" || w.state === "HELD")) {
    why = `<div class="card why" id="why">
      <h2>Why it waits: <span class="reason">${esc(w.reason)}</span></h2>
      <p>${esc(w.message)}</p>
      <p>Estimated start: ${w.estimated_start ? when(w.estimated_start) : "unknown"}
        <small>(${esc(w.confidence)}${w.confidence_message ? ": " + esc(w.confidence_message) : ""})</small></p>
      <p>${w.jobs_ahead} job${w.jobs_ahead === 1 ? "" : "s"} ahead, ${w.gpu_hours_ahead.toFixed(1)} GPU-hours.
        <small>As of ${when(w.as_of)}.</small></p>
    </div>`;
  }
  return `<table class="kv" id="details">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("")}</table>${why}`;
}

export async function jobPage(root: HTMLElement, asked: Promise<Powers>, args: string[]): Promise<Page> {
  const id = Number(args[0]);
  let stopped = false;
  let timer = 0;
  root.innerHTML = `
    <h1>Job ${id}</h1>
    <div id="actions" class="actions"></div>
    <p id="action-error" class="error"></p>
    <div id="job"></div>
    <h2>Log</h2>
    <div class="filters">
      <label>Stream <select id="stream"><option>stdout</option><option>stderr</option></select></label>
      <label><input type="checkbox" id="follow" checked> Follow</label>
      <span id="log-status" class="muted"></span>
    </div>
    <pre id="log" class="log"></pre>`;
  const box = root.querySelector<HTMLElement>("#job")!;
  const actions = root.querySelector<HTMLElement>("#actions")!;
  const actionError = root.querySelector<HTMLElement>("#action-error")!;

  const draw = async () => {
    const [j, w, powers] = await Promise.all([
      get<JobView>(`/jobs/${id}`),
      get<JobWhy>(`/jobs/${id}/why`).catch(() => null),
      asked,
    ]);
    box.innerHTML = details(j, w);
    const buttons: string[] = [];
    if (powers.actOn(j)) {
      if (!ENDED.includes(j.state) && j.state !== "STOPPING") buttons.push(`<button data-act="cancel" class="danger">Cancel</button>`);
      if (j.state === "PENDING") buttons.push(`<button data-act="hold">Hold</button>`);
      if (j.state === "HELD") buttons.push(`<button data-act="release">Release</button>`);
    }
    actions.innerHTML = buttons.join("");
    return j;
  };
  actions.addEventListener("click", async (e) => {
    const act = (e.target as HTMLElement).dataset?.act;
    if (!act) return;
    if (act === "cancel" && !confirm(`Cancel job ${id}?`)) return;
    actionError.textContent = "";
    try {
      await post(`/jobs/${id}/${act}`);
    } catch (err) {
      actionError.textContent = (err as Error).message;
    }
    await draw();
  });

  // The log from `offset` on, a chunk a second while following; the job's
  // end and the last byte stop it (X-Kojo-Log-Eof).
  const log = root.querySelector<HTMLElement>("#log")!;
  const status = root.querySelector<HTMLElement>("#log-status")!;
  const follow = root.querySelector<HTMLInputElement>("#follow")!;
  const stream = root.querySelector<HTMLSelectElement>("#stream")!;
  let offset = 0;
  let eof = false;
  const readLog = async () => {
    if (stopped) return;
    try {
      const res = await request(`/jobs/${id}/logs?stream=${stream.value}&offset=${offset}&limit=262144`);
      const text = await res.text();
      offset = Number(res.headers.get("X-Kojo-Log-Offset") ?? offset + text.length);
      eof = res.headers.get("X-Kojo-Log-Eof") === "1";
      if (text) {
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.textContent = (log.textContent + text).slice(-MAX_LOG);
        if (atEnd) log.scrollTop = log.scrollHeight;
      }
      status.textContent = eof ? `${offset} bytes, complete` : `${offset} bytes`;
    } catch (err) {
      status.textContent = err instanceof ApiError && err.status === 404 ? "no log yet" : (err as Error).message;
    }
  };
  const tick = async () => {
    timer = 0;
    if (stopped) return;
    const j = await draw().catch(() => null);
    if (follow.checked && !eof && j?.start_time) await readLog();  // no log before it starts
    const running = j && !ENDED.includes(j.state);
    if (!stopped && (running || (follow.checked && !eof))) timer = window.setTimeout(tick, 1000);
  };
  stream.addEventListener("change", () => {
    offset = 0;
    eof = false;
    log.textContent = "";
    void readLog();
  });
  follow.addEventListener("change", () => {
    if (follow.checked && !timer) void tick();
  });
  const first = await draw();
  if (first.start_time) await readLog();
  else status.textContent = "no log before the job starts";
  timer = window.setTimeout(tick, 1000);
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
