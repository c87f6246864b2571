// Usage over time by programme and by project, in normalised GPU-hours
// (GET /usage with a step: a report for each interval of the chosen range), and each grant's
// burn-down: what was left over the range and, from now, the forecast at
// its current burn rate until it runs out (GET /grants).
import uPlot from "uplot";
import { get, type GrantView, type Powers, type UsageInterval, type UsageSeries } from "./api";
import type { Page } from "./main";
import { esc, hours, when } from "./util";

const RANGES: Record<string, { span: number; step: number; label: string }> = {
  "24h": { span: 86400, step: 3600, label: "last 24 hours, by hour" },
  "7d": { span: 7 * 86400, step: 12 * 3600, label: "last 7 days, by 12 hours" },
  "30d": { span: 30 * 86400, step: 86400, label: "last 30 days, by day" },
};
const COLOURS = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b", "#975a16", "#4a5568", "#9b2c2c"];
const TOP = 8;

// One row per key: its GPU-hours in each interval; the smaller keys summed as "other".
function series(reports: UsageInterval[]): { keys: string[]; values: number[][] } {
  const total = new Map<string, number>();
  for (const r of reports) for (const row of r.rows) total.set(row.key, (total.get(row.key) ?? 0) + row.norm_gpu_hours);
  const ranked = [...total.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const keys = ranked.slice(0, TOP);
  const other = ranked.length > TOP;
  const values = keys.map((k) => reports.map((r) => r.rows.find((x) => x.key === k)?.norm_gpu_hours ?? 0));
  if (other) {
    values.push(reports.map((r) => r.rows.filter((x) => !keys.includes(x.key)).reduce((s, x) => s + x.norm_gpu_hours, 0)));
    keys.push("other");
  }
  return { keys, values };
}

function chart(el: HTMLElement, title: string, xs: number[], keys: string[], values: (number | null)[][], dashFrom?: number): void {
  const width = Math.max(320, Math.min(el.clientWidth || 900, 1100));
  new uPlot(
    {
      title,
      width,
      height: 220,
      scales: { x: { time: true } },
      axes: [{}, { label: "GPU-hours", size: 60 }],
      series: [
        {},
        ...keys.map((k, i) => ({
          label: k,
          stroke: COLOURS[i % COLOURS.length],
          width: 2,
          dash: dashFrom !== undefined && i >= dashFrom ? [6, 4] : undefined,
          spanGaps: false,
        })),
      ],
    },
    [xs, ...values] as uPlot.AlignedData,
    el,
  );
}

export async function usagePage(root: HTMLElement, _powers: Promise<Powers>): Promise<Page> {
  const range = new URLSearchParams(location.search).get("range") ?? "7d";
  const r = RANGES[range] ?? RANGES["7d"];
  const now = Math.floor(Date.now() / 1000);
  const from = Math.floor((now - r.span) / r.step) * r.step;  // intervals on whole steps; the last ends now
  const usage = (by: string) =>
    get<UsageSeries>(`/usage?by=${by}&from=${from}&to=${now}&step=${r.step}`).then((u) => u.intervals);
  const [byProgramme, byProject, grants] = await Promise.all([
    usage("programme"),
    usage("project"),
    get<{ grants: GrantView[] }>("/grants"),
  ]);
  const xs = byProgramme.map((i) => i.to_unix);
  root.innerHTML = `
    <h1>Usage</h1>
    <div class="filters">${Object.entries(RANGES)
      .map(([k, v]) => `<a href="/usage?range=${k}" data-link class="${k === range ? "here" : ""}">${v.label}</a>`)
      .join(" · ")}</div>
    <p class="muted">Normalised GPU-hours (a GPU-hour of a GPU model of weight 1); running jobs count to date.</p>
    <div id="by-programme" class="chart"></div>
    <div id="by-project" class="chart"></div>
    <h2>Grants</h2>
    <table class="grants" id="grants">
      <thead><tr><th>Grant</th><th>Project</th><th>Programme</th><th>Awarded</th><th>Used</th><th>Reserved</th>
        <th>Left</th><th>Burn / h</th><th>Runs out</th><th>Ends</th></tr></thead>
      <tbody>${grants.grants
        .map(
          (g) => `<tr data-grant="${esc(g.id)}" class="${g.active ? "" : "muted"}">
          <td>${esc(g.id)}</td><td>${esc(g.project)}</td><td>${esc(g.programme)}</td>
          <td class="num">${hours(g.awarded_gpu_hours)}</td><td class="num">${hours(g.used_gpu_hours)}</td>
          <td class="num">${hours(g.reserved_gpu_hours)}</td><td class="num">${hours(g.left_gpu_hours)}</td>
          <td class="num">${hours(g.burn_gpu_hours_per_hour)}</td><td>${g.runs_out ? when(g.runs_out) : "—"}</td>
          <td>${when(g.end)}</td></tr>`,
        )
        .join("")}</tbody>
    </table>
    <div id="burndown"></div>`;
  const p = series(byProgramme);
  chart(root.querySelector("#by-programme")!, "By programme", xs, p.keys, p.values);
  const j = series(byProject);
  chart(root.querySelector("#by-project")!, "By project", xs, j.keys, j.values);

  // Burn-down of each active grant: left = awarded - used; back in time,
  // used less the project's usage since; ahead, the burn rate until it runs
  // out or the grant ends.
  const box = root.querySelector<HTMLElement>("#burndown")!;
  for (const g of grants.grants.filter((x) => x.active).slice(0, 12)) {
    const used = byProject.map((rep) => rep.rows.find((x) => x.key === g.project)?.norm_gpu_hours ?? 0);
    const leftNow = g.awarded_gpu_hours - g.used_gpu_hours;
    const history: number[] = [];
    let after = 0;
    for (let i = used.length - 1; i >= 0; i--) {
      history[i] = Math.min(g.awarded_gpu_hours, leftNow + after);
      after += used[i];
    }
    const end = Date.parse(g.end) / 1000;
    const out = g.runs_out ? Date.parse(g.runs_out) / 1000 : end;
    const horizon = Math.max(now + 1, Math.min(out, end, now + 4 * r.span));
    const steps = 8;
    const futureX = Array.from({ length: steps }, (_, i) => now + ((horizon - now) * (i + 1)) / steps);
    const allX = [...xs, ...futureX];
    const hist = [...history, ...futureX.map(() => null)];
    const fc = [...xs.map((x) => (x === now ? leftNow : null)), ...futureX.map((x) => Math.max(0, leftNow - (g.burn_gpu_hours_per_hour * (x - now)) / 3600))];
    const el = document.createElement("div");
    el.className = "chart";
    el.dataset.grant = g.id;
    box.append(el);
    const title = `Grant ${g.id} (${g.project}): ${hours(g.used_gpu_hours)} of ${hours(g.awarded_gpu_hours)} used, ${hours(g.reserved_gpu_hours)} reserved` +
      (g.runs_out ? `, runs out ${new Date(out * 1000).toISOString().slice(0, 10)}` : "");
    chart(el, title, allX, ["left", "forecast"], [hist, fc], 1);
  }
  return {};
}
