// tests/e2e/web/lib.mjs — Debian's Chromium driven by playwright-core (from
// web/'s npm packages, installed by make's npm ci) for the t-81-web-*
// tests: every request the page makes is logged and any to a host other
// than brev fails the test; dialogs (alert/confirm/prompt) fail it too.
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const ROOT = process.env.ROOT;
const require = createRequire(join(ROOT, "web", "package.json"));
const { chromium } = require("playwright-core");
export const axePath = require.resolve("axe-core/axe.min.js");

export const BASE = `http://127.0.0.1:${process.env.P_HTTP}`;
export const SHOTS = process.env.SHOTS;
export const failures = [];
export const foreign = []; // requests to anything but brev
export function check(cond, what) {
  if (!cond) {
    failures.push(what);
    console.error("FAIL: " + what);
  } else console.log("ok: " + what);
}

export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  return browser;
}

export async function newPage(browser, width, height, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width, height }, ...opts });
  const page = await ctx.newPage();
  const watch = (p) => {
    p.on("request", (r) => {
      const u = r.url();
      if (!(u.startsWith(BASE + "/") || u.startsWith("data:") || u.startsWith("blob:") || u.startsWith("about:"))) {
        foreign.push(u);
        console.error("FOREIGN REQUEST: " + u);
      }
    });
    p.on("dialog", (d) => {
      failures.push("a dialog opened: " + d.message());
      d.dismiss().catch(() => {});
    });
    p.on("pageerror", (e) => console.error("page error: " + e.message));
    p.on("console", (m) => { if (m.type() === "error") console.error("console: " + m.text()); });
  };
  watch(page);
  ctx.on("page", watch); // popups (links open in new tabs)
  return page;
}

export async function login(page, user, pass) {
  await page.goto(BASE + "/");
  await page.getByLabel("Address").fill(user);
  await page.getByLabel("Password").fill(pass);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor({ timeout: 20000 });
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const p = join(SHOTS, name + ".png");
  await page.screenshot({ path: p, fullPage: false });
  console.log("screenshot: " + p);
}

// mail.py (smtplib / imaplib): the independent clients
export function mail(...args) {
  return execFileSync("python3", [join(ROOT, "tests/e2e/web/mail.py"), ...args], { encoding: "utf8" });
}

export function row(page, subject) {
  return page.getByRole("list", { name: "Messages" }).getByRole("listitem").filter({ hasText: subject });
}

export async function axe(page, what) {
  const { readFileSync } = await import("node:fs");
  // page.evaluate runs outside the page's CSP, which would refuse an
  // injected <script>
  await page.evaluate(readFileSync(axePath, "utf8") + ";0");
  const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) console.error(`axe ${what}: ${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  check(bad.length === 0, `axe-core: no serious or critical violation on ${what}`);
}

export function finish() {
  check(foreign.length === 0, "no request left for a host other than brev");
  if (failures.length) {
    console.error(`${failures.length} check(s) failed`);
    process.exit(1);
  }
}
