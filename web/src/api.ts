// The dashboard's only source of data: kojod's public API, called with the
// user's own token. The token lives in sessionStorage (gone when the tab is
// closed), never in localStorage or a cookie.

const TOKEN_KEY = "kojo.token";

export interface Whoami {
  name: string;
  kind: "user" | "node";
  role: "admin" | "operator" | "viewer" | null;
  auth: "open" | "shared-token" | "token";
  projects: { project: string; role: "lead" | "member" }[];
}

export interface Placement {
  node: string;
  gpus: number[];
  gpu_milli: number;
  rank: number;
}

export interface JobView {
  id: number;
  spec: {
    name?: string;
    command?: string[];
    script?: string;
    project?: string;
    user?: string;
    gpus: number;
    gpu_milli: number;
    gpu_models?: string[];
    tasks: number;
    time_limit_s?: number;
  };
  state: string;
  reason: string;
  message: string;
  submit_time: string;
  start_time: string | null;
  end_time: string | null;
  exit_code: number | null;
  signal: number | null;
  attempt: number;
  placement: Placement[];
  array_id: number | null;
  array_index: number | null;
  estimated_start: string | null;
}

export interface JobWhy {
  job: number;
  state: string;
  reason: string;
  message: string;
  estimated_start: string | null;
  confidence: string;
  confidence_message: string;
  jobs_ahead: number;
  gpu_hours_ahead: number;
  as_of: string | null;
}

export interface OverviewGpu {
  index: number;
  model: string;
  used_milli: number;
  util_percent?: number; // where the agent reports it (NVML; emulated GPUs)
  jobs: { id: number | null; gpu_milli: number }[];
}

export interface OverviewNode {
  name: string;
  state: string;
  reason: string;
  last_heartbeat: number;
  gpus: OverviewGpu[];
}

export interface Overview {
  jobs: Record<string, number>;
  gpus: { total: number; allocated: number; idle: number };
  nodes: OverviewNode[];
}

export interface GrantView {
  id: string;
  project: string;
  programme: string;
  start: string;
  end: string;
  active: boolean;
  awarded_gpu_hours: number;
  used_gpu_hours: number;
  reserved_gpu_hours: number;
  left_gpu_hours: number;
  burn_gpu_hours_per_hour: number;
  runs_out: string | null;
}

export interface UsageReport {
  by: string;
  rows: { key: string; raw_gpu_hours: number; norm_gpu_hours: number; runs: number }[];
  total: { raw_gpu_hours: number; norm_gpu_hours: number; runs: number };
}

export interface UsageInterval {
  from_unix: number;
  to_unix: number;
  rows: { key: string; raw_gpu_hours: number; norm_gpu_hours: number; runs: number }[];
}

// GET /usage?...&step=S
export interface UsageSeries extends UsageReport {
  intervals: UsageInterval[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// Called when the API answers 401: the page goes back to signing in.
let onUnauthorised: (message: string) => void = () => {};
export function whenUnauthorised(f: (message: string) => void): void {
  onUnauthorised = f;
}

export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const t = token();
  if (t) headers.set("Authorization", "Bearer " + t);
  const res = await fetch("/api/v1" + path, { ...init, headers, cache: "no-store" });
  if (!res.ok) {
    let code = "http_" + res.status;
    let message = res.statusText;
    try {
      const body = await res.json();
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // not JSON
    }
    if (res.status === 401) onUnauthorised(message);
    throw new ApiError(res.status, code, message);
  }
  return res;
}

export async function get<T>(path: string): Promise<T> {
  return (await request(path)).json() as Promise<T>;
}

export async function post<T>(path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method: "POST" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "Content-Type": "application/json" };
  }
  return (await request(path, init)).json() as Promise<T>;
}

// What the caller may do, from whoami: the API decides in the end (a
// button shown by mistake would still be refused with 403).
export class Powers {
  constructor(readonly me: Whoami) {}
  private global(): boolean {
    return this.me.auth !== "token" || this.me.role === "admin" || this.me.role === "operator";
  }
  operate(): boolean {
    return this.global();
  }
  actOn(job: JobView): boolean {
    if (this.global()) return true;
    const p = this.me.projects.find((x) => x.project === (job.spec.project ?? ""));
    if (!p) return false;
    return p.role === "lead" || job.spec.user === this.me.name;
  }
}
