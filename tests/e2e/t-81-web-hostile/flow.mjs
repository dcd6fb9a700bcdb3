// t-81-web-hostile's browser half (see run.sh).
import { check, finish, launch, login, newPage, row, shot } from "../web/lib.mjs";

const n = Number(process.env.NMSG);
const browser = await launch();
const page = await newPage(browser, 1280, 800);
try {
  await login(page, "alice@example.test", "password-alice");
  for (let i = 1; i <= n; i++) {
    const r = row(page, `Hostile ${i}:`);
    await r.waitFor({ timeout: 30000 });
    const t0 = Date.now();
    await r.getByRole("button").click();
    const frame = page.frameLocator("iframe.html-body");
    if (i === n) {
      // 10 MB of nested tags: shown as text, with a note, in bounded time
      await page.getByRole("article").getByText(`marker ${n}`).waitFor({ timeout: 60000 });
      check(await page.getByText("nested too deeply").isVisible(), "the nested tags are shown as text, with a note");
    } else {
      await frame.getByText(`marker ${i}`, { exact: true }).waitFor({ timeout: 60000 });
      const handlers = await frame.locator("*").evaluateAll((els) =>
        els.filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name) || /javascript:/i.test(a.value))).map((e) => e.outerHTML.slice(0, 200)));
      check(handlers.length === 0, `message ${i}: no event handler or javascript: URL left in the frame (${handlers})`);
    }
    console.log(`message ${i} (${(await r.textContent()).trim()}) rendered in ${Date.now() - t0} ms`);
    // what a reader might click or hover
    for (const a of await frame.locator("a, div, details, input, button").all()) {
      await a.click({ timeout: 1000, force: true, noWaitAfter: true }).catch(() => {});
      if (i > 6) break;
    }
    await page.waitForTimeout(500);
    const pwned = await page.evaluate(() => window.__pwned);
    check(pwned === undefined, `message ${i}: no script ran (canary: ${pwned})`);
    const sandbox = i === n ? "" : await page.locator("iframe.html-body").getAttribute("sandbox");
    check(!sandbox.includes("allow-scripts") && !sandbox.includes("allow-forms"), `message ${i}: the frame is sandboxed without scripts or forms`);
    if (i === 8) {
      const note = page.getByText(/remote images? (was|were) blocked/);
      check(await note.isVisible(), "the remote images are counted as blocked");
      await shot(page, "hostile-remote-1280");
    }
    if (i === 6) {
      const hrefs = await frame.locator("a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
      check(hrefs.every((h) => h === null), `javascript: and data: links lose their target (${hrefs})`);
    }
  }
  check(page.url().startsWith(process.env.BASE || "http://127.0.0.1"), "the page did not navigate away");
} catch (e) {
  await shot(page, "failure").catch(() => {});
  throw e;
} finally {
  await browser.close();
}
finish();
