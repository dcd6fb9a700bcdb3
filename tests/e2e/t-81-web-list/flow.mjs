// t-81-web-list's browser half (see run.sh).
import { check, finish, launch, login, newPage, row, shot } from "../web/lib.mjs";

const browser = await launch();
try {
  const page = await newPage(browser, 1280, 800);
  await login(page, "alice@example.test", "password-alice");
  await row(page, "Numbered message 250").waitFor();
  const inbox = page.getByRole("navigation", { name: "Folders" }).getByRole("link", { name: /Inbox/ });
  check((await inbox.textContent()).includes("250"), "the Inbox shows 250 unread");
  const items = page.getByRole("list", { name: "Messages" }).getByRole("listitem");
  const n = await items.count();
  check(n > 5 && n < 60, `only the rows in view are in the page (${n} of 250)`);
  // scroll to the end: the later pages load, down to the oldest
  const scroller = page.locator(".list .scroller");
  for (let i = 0; i < 20 && (await row(page, "Numbered message 001").count()) === 0; i++) {
    await scroller.evaluate((e) => { e.scrollTop = e.scrollHeight; });
    await page.waitForTimeout(300);
  }
  await row(page, "Numbered message 001").waitFor({ timeout: 10000 });
  check(true, "scrolling to the end shows the oldest message (the third page)");
  check((await items.count()) < 60, "and the page still holds only the rows in view");
  await shot(page, "list-end-1280");
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg === "rgb(250, 250, 250)", `light theme by default (${bg})`);
  const dark = await newPage(browser, 1280, 800, { colorScheme: "dark" });
  await login(dark, "alice@example.test", "password-alice");
  const dbg = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(dbg === "rgb(18, 18, 18)", `dark theme with prefers-color-scheme: dark (${dbg})`);
  await row(dark, "Numbered message 250").getByRole("button").click();
  await dark.getByText("body 250").waitFor();
  await shot(dark, "message-dark-1280");
} finally {
  await browser.close();
}
finish();
