// build.mjs OUTDIR — bundle the web UI (src/app.tsx) into OUTDIR/app.js
// with esbuild, and print the first load's size (gzip) against the
// 200 KB budget (issue 16): app.js plus web/static's files.
import { build } from "esbuild";
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const out = process.argv[2] || "dist";
await build({
  entryPoints: ["src/app.tsx"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
const files = [join(out, "app.js"), ...readdirSync("static").map((f) => join("static", f))];
let total = 0;
for (const f of files) total += gzipSync(readFileSync(f), { level: 9 }).length;
const kb = (total / 1024).toFixed(1);
console.log(`  WEB     first load ${kb} KB gzip (budget 200 KB)`);
if (total > 200 * 1024) {
  console.error("web: the first load is over its 200 KB gzip budget");
  process.exit(1);
}
