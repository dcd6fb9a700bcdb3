// t-81-web-mail's browser half (see run.sh).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { axe, BASE, check, finish, launch, login, mail, newPage, row, shot } from "../web/lib.mjs";

const U = "alice@example.test", PW = "password-alice";
const { P_SMTP, P_IMAP, T } = process.env;
const where = (subj) => mail("where", P_IMAP, U, PW, subj).trim();
async function until(what, f, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) { check(false, what + " (timed out)"); return v; }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const browser = await launch();
try {
  const page = await newPage(browser, 1280, 800);
  await page.goto(BASE + "/");
  await page.getByLabel("Address").waitFor();
  await axe(page, "the login page");
  // a wrong password is refused on the page
  await page.getByLabel("Address").fill(U);
  await page.getByLabel("Password").fill("wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  check((await page.getByRole("alert").textContent()).includes("Wrong"), "a wrong password shows an error");

  await login(page, U, PW);
  const inbox = page.getByRole("navigation", { name: "Folders" }).getByRole("link", { name: /Inbox/i });
  await until("the Inbox shows 1 unread", async () => (await inbox.textContent()).includes("1"));
  await row(page, "Quarterly minutes").waitFor();
  check(true, "the message smtplib delivered is in the list");
  await shot(page, "inbox-1280");
  await axe(page, "the inbox");

  // open it: the text body, its link clickable and safe, marked read
  await row(page, "Quarterly minutes").getByRole("button").click();
  const reader = page.getByRole("article", { name: "Message" });
  await reader.getByText("nothing else").waitFor();
  const link = reader.getByRole("link", { name: "https://example.test/minutes?id=7" });
  check((await link.getAttribute("href")) === "https://example.test/minutes?id=7", "a URL in the text is a link");
  check(((await link.getAttribute("rel")) || "").includes("noopener"), "the link opens with noopener");
  check((await reader.textContent()).includes("Bob Sender <bob@sender.test>"), "the reader shows From");
  await until("opening marks \\Seen (imaplib)", () => where("Quarterly minutes").includes("\\Seen"));
  await until("the unread count drops to none", async () => !/\d/.test(await inbox.textContent()));
  await shot(page, "message-1280");
  await axe(page, "a message");

  // a reload keeps the session (GET /session gives the CSRF token back)
  await page.reload();
  await row(page, "Quarterly minutes").waitFor();
  check(await page.getByRole("button", { name: "Sign out" }).isVisible(), "a reload keeps the session");

  // push: a message delivered now appears without a reload, and the open
  // message stays open meanwhile (the list reloads behind it)
  await row(page, "Quarterly minutes").getByRole("button").click();
  await reader.getByText("nothing else").waitFor();
  await page.evaluate(() => {
    window.__gone = 0;
    window.__poll = setInterval(() => { if (!document.querySelector("article.reader")) window.__gone++; }, 5);
  });
  writeFileSync(join(T, "second.txt"), "Second message body.\n");
  const t0 = Date.now();
  mail("send", P_SMTP, U, "Lunch on Friday", join(T, "second.txt"));
  await until("a message delivered by SMTP appears without reload", async () => (await row(page, "Lunch on Friday").count()) > 0);
  console.log(`push: in the list ${Date.now() - t0} ms after smtplib returned`);
  await until("and the unread count shows it", async () => (await inbox.textContent()).includes("1"));
  const gone = await page.evaluate(() => { clearInterval(window.__poll); return window.__gone; });
  check(gone === 0, `the open message stayed open through the push (${gone} polls without it)`);

  // flag (imaplib sees \Flagged), then Junk and back
  await row(page, "Lunch on Friday").getByRole("button").click();
  await reader.getByText("Second message body.").waitFor();
  await reader.getByRole("button", { name: "Flag", exact: true }).click();
  await until("Flag sets \\Flagged (imaplib)", () => where("Lunch on Friday").includes("\\Flagged"));
  await reader.getByRole("button", { name: "Unflag" }).waitFor();
  await reader.getByRole("button", { name: "Mark unread" }).click();
  await until("Mark unread clears \\Seen (imaplib)", () => { const w = where("Lunch on Friday"); return w && !w.includes("\\Seen"); });
  await reader.getByRole("button", { name: "Mark read" }).click();
  await until("Mark read sets \\Seen again (imaplib)", () => where("Lunch on Friday").includes("\\Seen"));
  // the Move menu: to Archive and back to the Inbox
  await reader.getByLabel("Move to folder").selectOption({ label: "Archive" });
  await until("Move to Archive (imaplib)", () => /^Archive /.test(where("Lunch on Friday")));
  await page.getByRole("navigation", { name: "Folders" }).getByRole("link", { name: /Archive/ }).click();
  await row(page, "Lunch on Friday").getByRole("button").click();
  await reader.getByLabel("Move to folder").selectOption({ label: "INBOX" });
  await until("and back to INBOX (imaplib)", () => /^INBOX /.test(where("Lunch on Friday")));
  await inbox.click();
  await row(page, "Lunch on Friday").getByRole("button").click();
  await reader.getByRole("button", { name: "Junk", exact: true }).click();
  await until("Junk moves it to Junk (imaplib)", () => /^Junk /.test(where("Lunch on Friday")));
  await until("and it leaves the Inbox list", async () => (await row(page, "Lunch on Friday").count()) === 0);
  await page.getByRole("navigation", { name: "Folders" }).getByRole("link", { name: /Junk/ }).click();
  await row(page, "Lunch on Friday").getByRole("button").click();
  await reader.getByRole("button", { name: "Not junk" }).click();
  await until("Not junk moves it back to INBOX (imaplib)", () => /^INBOX /.test(where("Lunch on Friday")));
  await inbox.click();
  await row(page, "Lunch on Friday").waitFor();

  // search
  await page.keyboard.press("Escape");
  await page.locator("body").press("/");
  check(await page.getByLabel("Search mail").evaluate((e) => e === document.activeElement), "/ focuses the search box");
  await page.keyboard.type("quarterly");
  await until("search finds the message by subject", async () =>
    (await row(page, "Quarterly minutes").count()) === 1 && (await row(page, "Lunch on Friday").count()) === 0);
  await page.getByLabel("Search mail").fill("");
  await until("clearing the search shows both", async () => (await page.getByRole("list", { name: "Messages" }).getByRole("listitem").count()) === 2);

  // keyboard: j opens the next message, k the previous; # deletes to Trash
  await page.getByLabel("Search mail").blur();
  await page.locator("body").press("j");
  await until("j opens the first message", async () => (await reader.count()) === 1);
  const first = await reader.getByRole("heading").textContent();
  await page.locator("body").press("j");
  await until("j moves to the next", async () => (await reader.getByRole("heading").textContent()) !== first);
  await page.locator("body").press("k");
  await until("k moves back", async () => (await reader.getByRole("heading").textContent()) === first);
  await page.locator("body").press("#");
  await until("# moves the message to Trash (imaplib)", () => /^Trash /.test(where(first)));

  // compose with an attachment, to a local account (bob reads it over imaplib)
  await page.locator("body").press("c");
  const compose = page.getByRole("form", { name: "New message" });
  await compose.waitFor();
  await compose.getByLabel("To").fill("bob@example.test");
  await compose.getByLabel("Subject").fill("Report with attachment");
  await compose.getByLabel("Message").fill("Here is the report, Bob.\nLine two: Grüße.");
  const att = Buffer.from("report line 1\nreport line 2 \u00e9\n".repeat(50));
  await compose.getByLabel("Attachments").setInputFiles({ name: "report.txt", mimeType: "text/plain", buffer: att });
  await shot(page, "compose-1280");
  await axe(page, "compose");
  await compose.getByRole("button", { name: "Send" }).click();
  await page.getByRole("status").getByText("Sent.").waitFor({ timeout: 20000 });
  const got = await until("bob receives the message (imaplib)", () => mail("fetch", P_IMAP, "bob@example.test", "password-bob", "Report with attachment"));
  check(got.includes("Grüße") || got.includes("Gr=C3=BC=C3=9Fe"), "the text arrives");
  const b64 = /filename="report\.txt"[\s\S]*?\r?\n\r?\n([A-Za-z0-9+/=\r\n]+)/.exec(got);
  check(b64 && Buffer.from(b64[1].replace(/\s/g, ""), "base64").equals(att), "the attachment arrives byte for byte");
  check(/^Sent /m.test(where("Report with attachment")), "the sent copy is in alice's Sent (imaplib)");
  // the sent copy in the webmail: its attachment listed, to download
  await page.getByRole("navigation", { name: "Folders" }).getByRole("link", { name: /Sent/ }).click();
  await row(page, "Report with attachment").getByRole("button").click();
  const attl = reader.getByRole("list", { name: "Attachments" }).getByRole("link", { name: /report\.txt/ });
  await attl.waitFor();
  check((await attl.getAttribute("download")) === "report.txt" && (await attl.getAttribute("href")).startsWith("blob:"), "the attachment is listed, to download as report.txt");

  // reply (r) to the first message; bob gets it with In-Reply-To
  await inbox.click();
  await row(page, "Quarterly minutes").getByRole("button").click();
  await reader.getByText("nothing else").waitFor();
  await page.locator("body").press("r");
  await compose.waitFor();
  check((await compose.getByLabel("To").inputValue()).includes("bob@sender.test"), "Reply addresses the sender");
  check((await compose.getByLabel("Subject").inputValue()) === "Re: Quarterly minutes", "Reply's subject is Re:");
  check((await compose.getByLabel("Message").inputValue()).includes("> the minutes are at"), "Reply quotes the message");
  await compose.getByLabel("To").fill("bob@example.test");
  await compose.getByRole("button", { name: "Send" }).click();
  await page.getByRole("status").getByText("Sent.").waitFor({ timeout: 20000 });
  const rep = await until("bob receives the reply (imaplib)", () => mail("fetch", P_IMAP, "bob@example.test", "password-bob", "Re: Quarterly minutes"));
  const orig = /^Message-ID: (<[^>]+>)/im.exec(mail("fetch", P_IMAP, U, PW, "Quarterly minutes"))[1];
  check(new RegExp("^In-Reply-To: " + orig.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "im").test(rep), `the reply's In-Reply-To is ${orig}`);
  check(new RegExp("^References: .*" + orig.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "im").test(rep), "and its References names it");
  // forward (f) of the same message: Fwd: and the original's text
  await reader.getByText("nothing else").waitFor();
  await page.locator("body").press("f");
  await compose.waitFor();
  check((await compose.getByLabel("Subject").inputValue()) === "Fwd: Quarterly minutes", "Forward's subject is Fwd:");
  check((await compose.getByLabel("Message").inputValue()).includes("the minutes are at"), "Forward includes the text");
  await compose.getByRole("button", { name: "Discard" }).click();

  // sign out: back to the login page, and a reload does not bring the session back
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Password").waitFor();
  await page.reload();
  await page.getByLabel("Password").waitFor();
  check(true, "Sign out ends the session");

  // the phone layout: list alone, then the message alone with a way back
  const phone = await newPage(browser, 390, 844);
  await login(phone, U, PW);
  await row(phone, "Quarterly minutes").waitFor();
  check(!(await phone.getByRole("navigation", { name: "Folders" }).isVisible()), "390 px: the folders are behind the menu");
  await shot(phone, "inbox-390");
  await row(phone, "Quarterly minutes").getByRole("button").click();
  await phone.getByText("nothing else").waitFor();
  check(!(await phone.getByRole("list", { name: "Messages" }).isVisible()), "390 px: the message replaces the list");
  await shot(phone, "message-390");
  await phone.getByRole("button", { name: "Compose" }).click();
  await phone.getByRole("form", { name: "New message" }).waitFor();
  await shot(phone, "compose-390");
  await phone.getByRole("button", { name: "Discard" }).click();
  await phone.getByRole("button", { name: "Back to the list" }).click();
  await row(phone, "Quarterly minutes").waitFor();
  check(true, "390 px: back to the list");
  // e: archive
  await row(phone, "Quarterly minutes").getByRole("button").click();
  await phone.getByText("nothing else").waitFor();
  await phone.locator("body").press("e");
  await until("e moves the message to Archive (imaplib)", () => /^Archive /.test(where("Quarterly minutes")));
} finally {
  await browser.close();
}
finish();
