// compose.tsx — writing mail (docs/web.md "Writing"): a new message, a
// reply or a forward, with attachments. The message is built here as MIME
// (RFC 5322, 2045-2047), uploaded (RFC 8620 6.1), imported into Drafts
// (Email/import) and sent with EmailSubmission/set, whose
// onSuccessUpdateEmail files it in Sent: brev sends exactly the bytes
// built here (docs/jmap.md "Sending").

import { useEffect, useRef, useState } from "preact/hooks";
import { Jmap } from "./jmap";

export interface Draft {
  to: string;
  cc: string;
  subject: string;
  body: string;
  inReplyTo?: string;
  references?: string;
}

interface Identity { id: string; email: string; name: string }

const enc = new TextEncoder();

function b64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/.{76}/g, "$&\r\n");
}

// quoted-printable (RFC 2045 6.7) of UTF-8 text, CRLF line ends
function qp(text: string): string {
  const out: string[] = [];
  for (const line of text.replace(/\r?\n/g, "\n").split("\n")) {
    let cur = "";
    const bytes = enc.encode(line);
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      const last = i === bytes.length - 1;
      let t = (c >= 33 && c <= 126 && c !== 61) || (c === 32 && !last) ? String.fromCharCode(c) : "=" + c.toString(16).toUpperCase().padStart(2, "0");
      if (c === 32 && last) t = "=20";
      if (cur.length + t.length > 75) { out.push(cur + "="); cur = ""; }
      cur += t;
    }
    out.push(cur);
  }
  return out.join("\r\n");
}

// RFC 2047 for a header value that is not ASCII
function word(v: string): string {
  if (/^[\x20-\x7e]*$/.test(v)) return v;
  return "=?UTF-8?B?" + btoa(String.fromCharCode(...enc.encode(v))) + "?=";
}

function addrList(v: string): string[] {
  return v.split(/[,;]/).map((s) => s.trim()).filter(Boolean);
}

function rfc5322Date(d: Date): string {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const mons = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const p = (n: number) => String(n).padStart(2, "0");
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${mons[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function rand(): string {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export async function buildMessage(from: Identity, d: Draft, files: File[]): Promise<Blob> {
  const domain = from.email.split("@")[1] || "localhost";
  const h = [
    `From: ${from.name ? word(from.name) + " " : ""}<${from.email}>`,
    `To: ${addrList(d.to).join(", ")}`,
    ...(addrList(d.cc).length ? [`Cc: ${addrList(d.cc).join(", ")}`] : []),
    `Subject: ${word(d.subject)}`,
    `Date: ${rfc5322Date(new Date())}`,
    `Message-ID: <${rand()}@${domain}>`,
    ...(d.inReplyTo ? [`In-Reply-To: ${d.inReplyTo}`, `References: ${(d.references ? d.references + " " : "") + d.inReplyTo}`] : []),
    "MIME-Version: 1.0",
  ];
  const text = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp(d.body) + "\r\n";
  if (!files.length) return new Blob([h.join("\r\n") + "\r\n" + text]);
  const b = "=_brev_" + rand();
  const parts: (string | Uint8Array)[] = [h.join("\r\n") + `\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\n${text}`];
  for (const f of files) {
    const name = f.name.replace(/["\\\r\n]/g, "_");
    const type = /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i.test(f.type) ? f.type : "application/octet-stream";
    const nameParam = /^[\x20-\x7e]*$/.test(name) ? `"${name}"` : `"${word(name)}"`;
    parts.push(`--${b}\r\nContent-Type: ${type}; name=${nameParam}\r\nContent-Disposition: attachment; filename=${nameParam}\r\nContent-Transfer-Encoding: base64\r\n\r\n`);
    parts.push(b64(new Uint8Array(await f.arrayBuffer())) + "\r\n");
  }
  parts.push(`--${b}--\r\n`);
  return new Blob(parts as BlobPart[]);
}

export async function send(jmap: Jmap, from: Identity, d: Draft, files: File[], drafts: string, sent: string | undefined) {
  const blob = await buildMessage(from, d, files);
  const up = await jmap.upload(blob, "message/rfc822");
  const imp = await jmap.one("Email/import", {
    emails: { m: { blobId: up.blobId, mailboxIds: { [drafts]: true }, keywords: { $draft: true, $seen: true } } },
  });
  if (!imp.created || !imp.created.m) throw new Error(`the draft was not saved (${JSON.stringify(imp.notCreated?.m?.type)})`);
  const emailId = imp.created.m.id;
  const upd: Record<string, unknown> = { "keywords/$draft": null };
  if (sent) { upd[`mailboxIds/${drafts}`] = null; upd[`mailboxIds/${sent}`] = true; }
  const r = await jmap.call([["EmailSubmission/set", {
    accountId: jmap.accountId,
    create: { s: { emailId, identityId: from.id } },
    onSuccessUpdateEmail: { "#s": upd },
  }, "0"]]);
  const [name, args] = r.get("0")!;
  if (name === "error") throw new Error(args.type);
  if (!args.created || !args.created.s) {
    const e = args.notCreated?.s;
    throw new Error(e ? `${e.type}${e.description ? ": " + e.description : ""}` : "not sent");
  }
}

export function Compose({ jmap, draft, drafts, sent, onDone }: {
  jmap: Jmap; draft: Draft; drafts: string | undefined; sent: string | undefined; onDone: (note: string) => void;
}) {
  const [ids, setIds] = useState<Identity[]>([]);
  const [d, setD] = useState(draft);
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState("");
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => {
    jmap.one("Identity/get", { ids: null }).then((r) => setIds(r.list), () => setErr("Sending is not available."));
    (draft.to ? null : first.current)?.focus();
  }, []);
  const [fromId, setFromId] = useState("");
  const from = ids.find((i) => i.id === fromId) || ids[0];
  const field = (k: keyof Draft) => (e: Event) => setD({ ...d, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!from || !drafts) { setErr("Sending is not available."); return; }
    if (!addrList(d.to).length) { setErr("Add a recipient."); return; }
    setBusy(true);
    setErr("");
    try {
      await send(jmap, from, d, files, drafts, sent);
      onDone("Sent.");
    } catch (x) {
      setErr(`Not sent: ${(x as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="compose" aria-label="New message" onSubmit={submit}>
      <div class="toolbar">
        <button type="submit" class="primary" disabled={busy}>{busy ? "Sending…" : "Send"}</button>
        <button type="button" onClick={() => onDone("")}>Discard</button>
      </div>
      <label for="c-from">From</label>
      <select id="c-from" value={from?.id} onChange={(e) => setFromId((e.currentTarget as HTMLSelectElement).value)}>
        {ids.map((i) => <option key={i.id} value={i.id}>{i.name ? `${i.name} <${i.email}>` : i.email}</option>)}
      </select>
      <label for="c-to">To</label>
      <input id="c-to" ref={first} type="text" value={d.to} onInput={field("to")} autocomplete="email" />
      <label for="c-cc">Cc</label>
      <input id="c-cc" type="text" value={d.cc} onInput={field("cc")} />
      <label for="c-subject">Subject</label>
      <input id="c-subject" type="text" value={d.subject} onInput={field("subject")} />
      <label for="c-body" class="sr-only">Message</label>
      <textarea id="c-body" value={d.body} onInput={field("body")} rows={14} />
      <label for="c-files">Attachments</label>
      <input id="c-files" type="file" multiple onChange={(e) => setFiles(Array.from((e.currentTarget as HTMLInputElement).files || []))} />
      {err && <p class="error" role="alert">{err}</p>}
    </form>
  );
}
