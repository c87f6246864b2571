// The dashboard: signing in with a token, and a page per path, each drawn
// from the public API (api.ts). Links carry data-link and change the page
// without a reload; kojod answers index.html for any of these paths.
import "./style.css";
import "uplot/dist/uPlot.min.css";
import { ApiError, Powers, get, setToken, token, whenUnauthorised, type Whoami } from "./api";
import { jobPage } from "./job";
import { nodesPage } from "./nodes";
import { queuePage } from "./queue";
import { usagePage } from "./usage";
import { esc } from "./util";

export interface Page {
  // Called when the user leaves the page: stops its timers.
  stop?: () => void;
}
// `powers`: what the caller may do (whoami), asked at the same time as the page's data.
export type Render = (root: HTMLElement, powers: Promise<Powers>, args: string[]) => Promise<Page | void>;

const routes: [RegExp, Render][] = [
  [/^\/(queue)?$/, queuePage],
  [/^\/nodes$/, nodesPage],
  [/^\/usage$/, usagePage],
  [/^\/jobs\/(\d+)$/, jobPage],
];

const app = document.getElementById("app")!;
let current: Page | void;
let powers: Promise<Powers> | null = null;
let signInMessage = "";

function signedOut(message: string): void {
  if (!token() && !message) return;
  setToken(null);
  powers = null;
  signInMessage = message;
  void show();
}
whenUnauthorised(signedOut);

export function go(path: string): void {
  history.pushState(null, "", path);
  void show();
}

function header(me: Whoami | null): void {
  document.getElementById("nav")!.hidden = !me;
  document.getElementById("signout")!.hidden = !me;
  const role = me ? me.role ?? (me.projects.map((p) => `${p.role} of ${p.project}`).join(", ") || "no role") : "";
  document.getElementById("who")!.innerHTML = me ? `${esc(me.name)} <small>(${esc(role)})</small>` : "";
  for (const a of document.querySelectorAll<HTMLAnchorElement>("#nav a"))
    a.classList.toggle("here", a.pathname === location.pathname || (a.pathname === "/queue" && location.pathname === "/"));
}

function signInForm(): void {
  header(null);
  app.innerHTML = `
    <form id="signin" class="card signin">
      <h1>Sign in</h1>
      <p>Paste a kojo token (the same as the CLI's: <code>kojo whoami</code> shows which one you use).
      It stays in this tab only, until you sign out or close it.</p>
      <input id="token" type="password" autocomplete="off" placeholder="kojo_…" required>
      <button type="submit">Sign in</button>
      <p class="error" id="signin-error">${esc(signInMessage)}</p>
    </form>`;
  const form = document.getElementById("signin") as HTMLFormElement;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setToken((document.getElementById("token") as HTMLInputElement).value.trim());
    signInMessage = "";
    await show();
  });
}

async function show(): Promise<void> {
  current?.stop?.();
  current = undefined;
  if (!token()) return signInForm();
  // Who the caller is, asked once per load, while the page asks for its data.
  const asked = (powers ??= get<Whoami>("/whoami").then((me) => new Powers(me)));
  asked.then(
    (p) => header(p.me),
    () => {
      if (powers === asked) powers = null;  // asked again on the next page
    },
  );
  const path = location.pathname;
  for (const [re, render] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    app.innerHTML = `<p class="muted">Loading…</p>`;
    app.removeAttribute("data-ready");
    try {
      current = await render(app, asked, m.slice(1));
      // Drawn with its data: what tests and the load-time benchmark wait for.
      app.setAttribute("data-ready", path);
      performance.mark("kojo-ready");
    } catch (e) {
      if (!token()) return;  // signedOut() has drawn the form
      const status = e instanceof ApiError ? ` (HTTP ${e.status})` : "";
      app.innerHTML = `<p class="error">${esc((e as Error).message)}${status}</p>`;
    }
    return;
  }
  app.innerHTML = `<p class="error">No page at ${esc(path)}. <a href="/" data-link>The queue</a></p>`;
}

document.addEventListener("click", (e) => {
  const a = (e.target as Element).closest?.("a[data-link]") as HTMLAnchorElement | null;
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  go(a.pathname + a.search);
});
document.getElementById("signout")!.addEventListener("click", () => signedOut(""));
window.addEventListener("popstate", () => void show());
void show();
