// Small helpers: escaping, times, numbers.

export function esc(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  const ms = d.getTime() - Date.now();
  const abs = Math.abs(ms) / 1000;
  const rel =
    abs < 60 ? `${Math.round(abs)} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 172800 ? `${(abs / 3600).toFixed(1)} h` : `${Math.round(abs / 86400)} d`;
  const local = d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  return `<span title="${esc(local)}">${ms >= 0 ? "in " + rel : rel + " ago"}</span>`;
}

export function hours(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function gpusOf(spec: { gpus: number; gpu_milli: number; tasks: number }): string {
  if (spec.gpus === 0) return "cpu";
  const share = spec.gpu_milli < 1000 ? ` × ${spec.gpu_milli / 1000}` : "";
  return `${spec.tasks > 1 ? spec.tasks + "×" : ""}${spec.gpus}${share}`;
}

export function stateBadge(state: string): string {
  return `<span class="state s-${esc(state.toLowerCase())}">${esc(state)}</span>`;
}
