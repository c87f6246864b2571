// Builds the dashboard: type check (tsc), then one bundle of script and one
// of styles (esbuild, minified, content hash in their names), and
// index.html naming them. Usage: node build.mjs --out DIR (the folder is
// emptied first). CMake runs it (cmake/web.cmake); kojod embeds DIR.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf("--out");
const out = resolve(i > 0 ? process.argv[i + 1] : join(here, "dist"));

execFileSync(process.execPath, [join(here, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", here], {
  stdio: "inherit",
});

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });
const result = await esbuild.build({
  entryPoints: { app: join(here, "src/main.ts") },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});
const files = Object.keys(result.metafile.outputs).map((f) => "/assets/" + basename(f));
const js = files.find((f) => f.endsWith(".js"));
const css = files.find((f) => f.endsWith(".css"));
const html = readFileSync(join(here, "src/index.html"), "utf8")
  .replace("%APP_JS%", js)
  .replace("%APP_CSS%", css);
writeFileSync(join(out, "index.html"), html);
