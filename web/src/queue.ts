// The queue: jobs by state (waiting ones by default) with why each waits
// and when it should start, filtered by project and user; 200 a page.
import { get, type JobView, type Powers } from "./api";
import type { Page } from "./main";
import { esc, gpusOf, stateBadge, when } from "./util";

const STATES: [string, string][] = [
  ["PENDING,HELD", "waiting (pending, held)"],
  ["STARTING,RUNNING,STOPPING", "running"],
  ["PENDING,HELD,STARTING,RUNNING,STOPPING", "not ended"],
  ["COMPLETED,FAILED,CANCELLED,TIMEOUT", "ended"],
  ["", "any state"],
];
const PAGE = 200;

function row(j: JobView): string {
  const waiting = j.state === "PENDING" || j.state === "HELD";
  return `<tr data-job="${j.id}">
    <td><a href="/jobs/${j.id}" data-link>${j.id}</a></td>
    <td>${esc(j.spec.name ?? "")}</td>
    <td>${esc(j.spec.user ?? "")}</td>
    <td>${esc(j.spec.project ?? "")}</td>
    <td>${stateBadge(j.state)}</td>
    <td class="num">${esc(gpusOf(j.spec))}</td>
    <td class="reason">${esc(j.reason)}</td>
    <td class="message">${esc(j.message)}</td>
    <td>${waiting ? when(j.estimated_start) : j.start_time ? when(j.start_time) : "—"}</td>
    <td>${when(j.submit_time)}</td>
  </tr>`;
}

export async function queuePage(root: HTMLElement, _powers: Promise<Powers>): Promise<Page> {
  const q = new URLSearchParams(location.search);
  const state = q.has("state") ? q.get("state")! : "PENDING,HELD";
  const project = q.get("project") ?? "";
  const user = q.get("user") ?? "";
  const query = (after: number | null) => {
    const p = new URLSearchParams({ limit: String(PAGE) });
    if (state) p.set("state", state);
    if (project) p.set("project", project);
    if (user) p.set("user", user);
    if (after) p.set("after", String(after));
    return "/jobs?" + p.toString();
  };
  const first = await get<{ jobs: JobView[]; next_after: number | null }>(query(null));
  root.innerHTML = `
    <h1>Queue</h1>
    <form id="filters" class="filters">
      <label>State <select name="state">${STATES.map(
        ([v, label]) => `<option value="${v}"${v === state ? " selected" : ""}>${label}</option>`,
      ).join("")}</select></label>
      <label>Project <input name="project" value="${esc(project)}" placeholder="any"></label>
      <label>User <input name="user" value="${esc(user)}" placeholder="any"></label>
      <button type="submit">Show</button>
    </form>
    <table class="jobs">
      <thead><tr><th>Job</th><th>Name</th><th>User</th><th>Project</th><th>State</th><th>GPUs</th>
        <th>Reason</th><th>Why</th><th>Starts</th><th>Submitted</th></tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <p id="queue-foot" class="muted"></p>
    <button id="more" hidden>Show ${PAGE} more</button>`;
  const rows = root.querySelector("#rows")!;
  const foot = root.querySelector("#queue-foot")!;
  const more = root.querySelector<HTMLButtonElement>("#more")!;
  let shown = 0;
  let next: number | null = null;
  const add = (page: { jobs: JobView[]; next_after: number | null }) => {
    rows.insertAdjacentHTML("beforeend", page.jobs.map(row).join(""));
    shown += page.jobs.length;
    next = page.next_after;
    more.hidden = next === null;
    foot.textContent = shown === 0 ? "No job." : `${shown} job${shown === 1 ? "" : "s"}${next ? " shown, more below" : ""}.`;
  };
  add(first);
  more.addEventListener("click", async () => {
    more.disabled = true;
    add(await get(query(next)));
    more.disabled = false;
  });
  root.querySelector<HTMLFormElement>("#filters")!.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const p = new URLSearchParams();
    for (const k of ["state", "project", "user"]) {
      const v = String(f.get(k) ?? "").trim();
      if (v || k === "state") p.set(k, v);
    }
    history.pushState(null, "", "/queue?" + p.toString());
    window.dispatchEvent(new PopStateEvent("popstate"));
  });
  return {};
}
