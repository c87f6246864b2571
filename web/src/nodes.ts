// Nodes and their GPUs as a heat map: one cell per GPU, shaded by the share
// of it that jobs hold, with the jobs' ids (none for a job the caller may
// not see); drained, draining and down nodes marked; a bar at the foot of a
// cell shows the GPU's utilisation where the agent reports it. Operators
// drain and resume nodes here. One request: GET /api/v1/overview.
import { get, post, type Overview, type OverviewGpu, type OverviewNode, type Powers } from "./api";
import type { Page } from "./main";
import { esc } from "./util";

function cell(n: OverviewNode, g: OverviewGpu): string {
  const share = Math.min(g.used_milli, 1000) / 1000;
  const ids = g.jobs.map((j) => (j.id === null ? "?" : String(j.id)));
  const title = `${n.name} GPU ${g.index} (${g.model}): ${
    g.jobs.length
      ? g.jobs.map((j) => (j.id === null ? "a job of another project" : `job ${j.id}`) + (j.gpu_milli < 1000 ? ` (${j.gpu_milli / 1000})` : "")).join(", ")
      : "idle"
  }${g.util_percent === undefined ? "" : `; utilisation ${g.util_percent}%`}`;
  const level = share === 0 ? 0 : share < 0.5 ? 1 : share < 1 ? 2 : 3;
  const first = g.jobs.find((j) => j.id !== null);
  const label = ids.length ? ids.join(" ") : "";
  const inner = first ? `<a href="/jobs/${first.id}" data-link>${esc(label)}</a>` : esc(label);
  const util =
    g.util_percent === undefined
      ? ""
      : `<span class="util" style="width:${Math.max(0, Math.min(100, g.util_percent))}%"></span>`;
  const data = g.util_percent === undefined ? "" : ` data-util="${g.util_percent}"`;
  return `<span class="gpu l${level}" data-gpu="${g.index}" data-jobs="${esc(ids.join(","))}"${data} title="${esc(title)}">${inner}${util}</span>`;
}

function node(n: OverviewNode, operate: boolean): string {
  const st = n.state.toLowerCase();
  let button = "";
  if (operate)
    button =
      n.state === "DRAINING" || n.state === "DRAINED"
        ? `<button data-resume="${esc(n.name)}">Resume</button>`
        : `<button data-drain="${esc(n.name)}">Drain</button>`;
  return `<div class="node n-${esc(st)}" data-node="${esc(n.name)}">
    <span class="node-name" title="${esc(n.reason)}">${esc(n.name)}</span>
    <span class="state s-${esc(st)}">${esc(n.state)}</span>
    <span class="gpus">${n.gpus.map((g) => cell(n, g)).join("")}</span>
    ${button}</div>`;
}

export async function nodesPage(root: HTMLElement, powers: Promise<Powers>): Promise<Page> {
  const o = await get<Overview>("/overview");
  const operate = (await powers).operate();
  const filter = new URLSearchParams(location.search).get("node") ?? "";
  const counts = Object.entries(o.jobs)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `<span class="count"><b>${n}</b> ${esc(s.toLowerCase())}</span>`)
    .join("");
  const byState: Record<string, number> = {};
  for (const n of o.nodes) byState[n.state] = (byState[n.state] ?? 0) + 1;
  root.innerHTML = `
    <h1>Nodes and GPUs</h1>
    <div class="counts">
      <span class="count"><b>${o.gpus.allocated}</b> of ${o.gpus.total} GPUs allocated</span>
      ${Object.entries(byState).map(([s, n]) => `<span class="count"><b>${n}</b> ${esc(s.toLowerCase())}</span>`).join("")}
      ${counts}
    </div>
    <div class="filters">
      <label>Node <input id="node-filter" value="${esc(filter)}" placeholder="name contains"></label>
      <span class="legend"><span class="gpu l0"></span>idle <span class="gpu l1"></span>&lt; half
        <span class="gpu l2"></span>&lt; whole <span class="gpu l3"></span>whole</span>
    </div>
    <p id="node-error" class="error"></p>
    <div id="heatmap" class="heatmap">${o.nodes.map((n) => node(n, operate)).join("")}</div>`;
  const map = root.querySelector<HTMLElement>("#heatmap")!;
  const input = root.querySelector<HTMLInputElement>("#node-filter")!;
  const apply = () => {
    const f = input.value.trim();
    for (const el of map.children as HTMLCollectionOf<HTMLElement>) el.hidden = f !== "" && !el.dataset.node!.includes(f);
  };
  input.addEventListener("input", apply);
  if (filter) apply();
  const error = root.querySelector<HTMLElement>("#node-error")!;
  map.addEventListener("click", async (e) => {
    const b = e.target as HTMLElement;
    const name = b.dataset?.drain ?? b.dataset?.resume;
    if (!name) return;
    error.textContent = "";
    try {
      if (b.dataset.drain !== undefined) {
        const reason = prompt(`Drain ${name}: no new jobs will start there. Reason?`, "maintenance");
        if (reason === null) return;
        await post(`/nodes/${encodeURIComponent(name)}/drain`, { reason });
      } else {
        await post(`/nodes/${encodeURIComponent(name)}/resume`);
      }
      const fresh = await get<Overview>("/overview");
      const n = fresh.nodes.find((x) => x.name === name);
      if (n) b.closest(".node")!.outerHTML = node(n, operate);
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  });
  return {};
}
