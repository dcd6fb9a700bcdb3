// app.tsx — the webmail (docs/web.md): login, folders, the message list,
// the reading pane, actions, search, live updates and keyboard shortcuts.
// Settings and the admin panel will be further views beside "mail" (see
// View below); they get their own files.

import { render } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { AuthError, Jmap, Login, MethodError } from "./jmap";
import { getHeader, parseMessage, Parsed } from "./mime";
import { cleanHtml, HtmlBody, TextBody } from "./render";
import { Compose, Draft } from "./compose";

const jmap = new Jmap();

interface Mailbox {
  id: string;
  name: string;
  parentId: string | null;
  role: string | null;
  totalEmails: number;
  unreadEmails: number;
}
interface Email {
  id: string;
  blobId: string;
  mailboxIds: Record<string, boolean>;
  keywords: Record<string, boolean>;
  receivedAt: string;
  subject: string | null;
  size: number;
  from?: { name: string | null; email: string }[] | null;
  preview?: string;
}

const ROLE_ORDER = ["inbox", "drafts", "sent", "archive", "junk", "trash"];
const ROW_H = 56;
const PAGE = 100;
const BASIC_PROPS = ["id", "blobId", "mailboxIds", "keywords", "receivedAt", "subject", "size"];
let emailProps = [...BASIC_PROPS, "from", "preview"];

function sortMailboxes(ms: Mailbox[]): Mailbox[] {
  const rank = (m: Mailbox) => (m.role && ROLE_ORDER.includes(m.role) ? ROLE_ORDER.indexOf(m.role) : 99);
  return [...ms].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

function fmtDate(iso: string): string {
  const d = new Date(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString([], { year: d.getFullYear() === now.getFullYear() ? undefined : "numeric", month: "short", day: "numeric" });
}

function fromText(e: Email): string {
  const f = e.from && e.from[0];
  return f ? f.name || f.email : "";
}

// ---- the list's source: a server query, paged, or a fixed list of ids
// (the search fallback while the server cannot filter).
interface Source {
  mailboxId: string;
  search: string;
}

function searchFilter(mailboxId: string, q: string): Record<string, unknown> {
  const f: Record<string, unknown> = { inMailbox: mailboxId };
  const m = /^(from|to|subject):(.*)$/i.exec(q.trim());
  if (m) f[m[1].toLowerCase()] = m[2].trim();
  else if (q.trim()) f.text = q.trim();
  return f;
}

function useList(src: Source, gen: number) {
  const [total, setTotal] = useState(0);
  const [, bump] = useState(0);
  const ids = useRef<(string | undefined)[]>([]);
  const emails = useRef(new Map<string, Email>());
  const loading = useRef(new Set<number>());
  const fixed = useRef<string[] | null>(null);
  const srcKey = `${src.mailboxId}\u0000${src.search}`;
  const key = useRef(srcKey);

  const getEmails = async (idList: string[]) => {
    if (!idList.length) return [];
    try {
      return (await jmap.one("Email/get", { ids: idList, properties: emailProps })).list as Email[];
    } catch (e) {
      if (e instanceof MethodError && e.type === "invalidArguments" && emailProps !== BASIC_PROPS) {
        emailProps = BASIC_PROPS;
        return (await jmap.one("Email/get", { ids: idList, properties: emailProps })).list as Email[];
      }
      throw e;
    }
  };

  // fresh: load again what is already drawn (after a state change)
  const loadPage = useCallback(async (page: number, fresh = false) => {
    if (!src.mailboxId || (loading.current.has(page) && !fresh)) return;
    loading.current.add(page);
    const k = key.current;
    try {
      let pageIds: string[];
      let tot: number;
      if (fixed.current) {
        pageIds = fixed.current.slice(page * PAGE, page * PAGE + PAGE);
        tot = fixed.current.length;
      } else {
        let q;
        try {
          q = await jmap.one("Email/query", {
            filter: src.search ? searchFilter(src.mailboxId, src.search) : { inMailbox: src.mailboxId },
            sort: [{ property: "receivedAt", isAscending: false }],
            position: page * PAGE, limit: PAGE, calculateTotal: true,
          });
        } catch (e) {
          if (!(e instanceof MethodError && e.type === "unsupportedFilter" && src.search)) throw e;
          // The server cannot search yet: match subjects (and senders when
          // Email/get gives them) of the folder's newest 5,000 here.
          const all = await jmap.one("Email/query", { filter: { inMailbox: src.mailboxId }, position: 0, limit: 1000, calculateTotal: true });
          let allIds: string[] = all.ids;
          for (let p = 1000; p < Math.min(all.total, 5000); p += 1000) {
            allIds = allIds.concat((await jmap.one("Email/query", { filter: { inMailbox: src.mailboxId }, position: p, limit: 1000 })).ids);
          }
          const needle = src.search.replace(/^(from|to|subject):/i, "").trim().toLowerCase();
          const hits: string[] = [];
          for (let i = 0; i < allIds.length; i += 500) {
            for (const e of await getEmails(allIds.slice(i, i + 500))) {
              emails.current.set(e.id, e);
              if ((e.subject || "").toLowerCase().includes(needle) || fromText(e).toLowerCase().includes(needle)) hits.push(e.id);
            }
          }
          if (key.current !== k) return;
          fixed.current = hits;
          ids.current = hits.slice();
          setTotal(hits.length);
          bump((x) => x + 1);
          return;
        }
        pageIds = q.ids;
        tot = q.total ?? q.ids.length;
      }
      const got = await getEmails(fresh ? pageIds : pageIds.filter((id) => !emails.current.has(id)));
      if (key.current !== k) return;
      for (const e of got) emails.current.set(e.id, e);
      pageIds.forEach((id, i) => (ids.current[page * PAGE + i] = id));
      if (ids.current.length > tot) ids.current.length = tot;
      setTotal(tot);
      bump((x) => x + 1);
    } finally {
      loading.current.delete(page);
    }
  }, [srcKey]);

  // A new source: start over.
  useEffect(() => {
    key.current = srcKey;
    fixed.current = null;
    loading.current.clear();
    emails.current = new Map();
    ids.current = [];
    loadPage(0);
  }, [srcKey]);
  // A state change (push, or our own change): load the drawn pages again,
  // keeping what is drawn until they arrive, so the list does not flicker
  // and the open message stays open.
  const firstGen = useRef(gen);
  useEffect(() => {
    if (gen === firstGen.current) return;
    if (fixed.current) {
      fixed.current = null;
      ids.current = [];
      loadPage(0, true);
      return;
    }
    const pages = Math.max(1, Math.ceil(ids.current.length / PAGE));
    for (let p = 0; p < pages; p++) loadPage(p, true);
  }, [gen]);

  return {
    total,
    at: (i: number) => {
      const id = ids.current[i];
      return id ? emails.current.get(id) : undefined;
    },
    idAt: (i: number) => ids.current[i],
    indexOf: (id: string) => ids.current.indexOf(id),
    ensure: (from: number, to: number) => {
      for (let p = Math.floor(from / PAGE); p <= Math.floor(Math.max(from, to - 1) / PAGE); p++) {
        if (p * PAGE < Math.max(total, PAGE) && ids.current[p * PAGE] === undefined) loadPage(p);
      }
    },
    patch: (id: string, f: (e: Email) => Email) => {
      const e = emails.current.get(id);
      if (e) emails.current.set(id, f(e));
      bump((x) => x + 1);
    },
  };
}

// ---- components

function LoginPage({ onLogin }: { onLogin: (l: Login) => void }) {
  const [err, setErr] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = e.currentTarget as HTMLFormElement;
    const user = (f.elements.namedItem("username") as HTMLInputElement).value;
    const pass = (f.elements.namedItem("password") as HTMLInputElement).value;
    setBusy(true);
    setErr("");
    try {
      onLogin(await jmap.signIn(user, pass));
    } catch (x) {
      setErr(x instanceof AuthError ? x.message : "Could not reach the server.");
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">brev</h1>
        <label for="username">Address</label>
        <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" required autofocus />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        {err && <p class="error" role="alert">{err}</p>}
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}

function Folders({ boxes, current, onPick }: { boxes: Mailbox[]; current: string; onPick: (id: string) => void }) {
  return (
    <nav class="folders" aria-label="Folders">
      <ul>
        {boxes.map((m) => (
          <li key={m.id}>
            <a href={`#${m.id}`} class={m.id === current ? "current" : ""} aria-current={m.id === current ? "page" : undefined}
              data-role={m.role || undefined}
              onClick={(e) => { e.preventDefault(); onPick(m.id); }}>
              <span class="name">{m.role === "inbox" ? "Inbox" : m.name}</span>
              {m.unreadEmails > 0 && <span class="count" aria-label={`${m.unreadEmails} unread`}>{m.unreadEmails}</span>}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function MessageList({ list, selected, onOpen, label }: {
  list: ReturnType<typeof useList>; selected: string | null; onOpen: (id: string) => void; label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = box.current!;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(scroll / ROW_H) - 5);
  const last = Math.min(list.total, Math.ceil((scroll + height) / ROW_H) + 5);
  useEffect(() => list.ensure(first, last), [first, last, list.total]);
  // keep the selected row in view (keyboard j/k)
  useEffect(() => {
    if (!selected || !box.current) return;
    const i = list.indexOf(selected);
    if (i < 0) return;
    const el = box.current;
    if (i * ROW_H < el.scrollTop) el.scrollTop = i * ROW_H;
    else if ((i + 1) * ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = (i + 1) * ROW_H - el.clientHeight;
  }, [selected]);
  const rows = [];
  for (let i = first; i < last; i++) {
    const e = list.at(i);
    const top = i * ROW_H;
    if (!e) {
      rows.push(<li key={`p${i}`} class="row placeholder" style={{ top: `${top}px` }} aria-hidden="true" />);
      continue;
    }
    const unread = !e.keywords.$seen;
    rows.push(
      <li key={e.id} class={`row${unread ? " unread" : ""}${e.id === selected ? " selected" : ""}`} style={{ top: `${top}px` }}
        data-id={e.id}>
        <button type="button" onClick={() => onOpen(e.id)} aria-current={e.id === selected ? "true" : undefined}>
          <span class="from">{unread && <span class="sr-only">Unread: </span>}{fromText(e) || (e.preview ?? "")}</span>
          <span class="subject">{e.keywords.$flagged && <span class="sr-only">Flagged: </span>}{e.subject || "(no subject)"}</span>
          <span class="date">{fmtDate(e.receivedAt)}</span>
          {e.keywords.$flagged && <span class="flag" aria-hidden="true">★</span>}
        </button>
      </li>,
    );
  }
  return (
    <section class="list" aria-label={label}>
      <div class="scroller" ref={box} onScroll={(e) => setScroll((e.currentTarget as HTMLElement).scrollTop)}>
        {list.total === 0 ? <p class="empty">No messages.</p> : (
          <ul aria-label="Messages" style={{ height: `${list.total * ROW_H}px` }}>{rows}</ul>
        )}
      </div>
    </section>
  );
}

interface Actions {
  flag: () => void;
  seen: () => void;
  move: (to: string) => void;
  trash: () => void;
  junk: () => void;
  notJunk: () => void;
  close: () => void;
  reply: (p: Parsed, forward: boolean) => void;
}

function quote(p: Parsed): string {
  return (p.text ?? (p.html || "").replace(/<[^>]*>/g, "")).replace(/\r?\n/g, "\n").split("\n").map((l) => "> " + l).join("\n");
}

export function replyDraft(p: Parsed, subject: string, forward: boolean): Draft {
  const h = (n: string) => getHeader(p, n);
  const base = subject.replace(/^((re|fwd?|aw|sv):\s*)+/i, "");
  if (forward) {
    const head = ["from", "date", "subject", "to"].filter((n) => h(n)).map((n) => `${n[0].toUpperCase() + n.slice(1)}: ${h(n)}`).join("\n");
    return { to: "", cc: "", subject: "Fwd: " + base, body: `\n\n---------- Forwarded message ----------\n${head}\n\n${p.text ?? ""}` };
  }
  return {
    to: h("reply-to") || h("from"), cc: "", subject: "Re: " + base,
    body: `\n\nOn ${h("date") || "an earlier date"}, ${h("from")} wrote:\n${quote(p)}\n`,
    inReplyTo: h("message-id") || undefined, references: h("references") || undefined,
  };
}

function Reader({ email, boxes, act, parsedRef }: { email: Email; boxes: Mailbox[]; act: Actions; parsedRef: { current: Parsed | null } }) {
  const [parsed, setParsed] = useState<Parsed | null>(null);
  const [err, setErr] = useState("");
  const [allowRemote, setAllowRemote] = useState(false);
  useEffect(() => {
    let live = true;
    setParsed(null);
    setErr("");
    setAllowRemote(false);
    jmap.download(email.blobId).then(
      (raw) => live && setParsed(parseMessage(raw)),
      () => live && setErr("This message could not be loaded."),
    );
    return () => { live = false; };
  }, [email.blobId]);
  // sanitised once per message and choice, not at every render
  const clean = useMemo(() => (parsed && parsed.html !== null ? cleanHtml(parsed, allowRemote) : null), [parsed, allowRemote]);
  const blocked = clean ? (allowRemote ? 0 : clean.blocked) : 0;
  parsedRef.current = parsed;
  const inJunk = boxes.some((m) => m.role === "junk" && email.mailboxIds[m.id]);
  return (
    <article class="reader" aria-label="Message">
      <div class="toolbar" role="toolbar" aria-label="Message actions">
        <button type="button" class="back" onClick={act.close} aria-label="Back to the list">←</button>
        <button type="button" onClick={() => parsed && act.reply(parsed, false)} disabled={!parsed}>Reply</button>
        <button type="button" onClick={() => parsed && act.reply(parsed, true)} disabled={!parsed}>Forward</button>
        <button type="button" onClick={act.flag} aria-pressed={!!email.keywords.$flagged}>{email.keywords.$flagged ? "Unflag" : "Flag"}</button>
        <button type="button" onClick={act.seen}>{email.keywords.$seen ? "Mark unread" : "Mark read"}</button>
        <label class="move">
          <span class="sr-only">Move to folder</span>
          <select onChange={(e) => { const v = (e.currentTarget as HTMLSelectElement).value; if (v) act.move(v); }} value="">
            <option value="">Move to…</option>
            {boxes.filter((m) => !email.mailboxIds[m.id]).map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
          </select>
        </label>
        {inJunk ? <button type="button" onClick={act.notJunk}>Not junk</button> : <button type="button" onClick={act.junk}>Junk</button>}
        <button type="button" onClick={act.trash}>Delete</button>
      </div>
      <header>
        <h2 class="subject">{email.subject || "(no subject)"}</h2>
        {parsed && (
          <dl class="meta">
            {["from", "to", "cc", "date"].map((h) => {
              const v = getHeader(parsed, h);
              return v ? [<dt key={h + "t"}>{h[0].toUpperCase() + h.slice(1)}</dt>, <dd key={h + "d"}>{v}</dd>] : null;
            })}
          </dl>
        )}
      </header>
      {err && <p class="error" role="alert">{err}</p>}
      {!parsed && !err && <p class="loading">Loading…</p>}
      {parsed && blocked > 0 && !allowRemote && (
        <p class="remote-note">
          {blocked} remote image{blocked === 1 ? " was" : "s were"} blocked.{" "}
          <button type="button" onClick={() => setAllowRemote(true)}>Show images in this message</button>
        </p>
      )}
      {clean && clean.cut && <p class="remote-note">This message is too long to show whole: only its first megabyte is shown.</p>}
      {clean && clean.asText !== null && <p class="remote-note">This message's HTML is nested too deeply to show safely: here is its text.</p>}
      {parsed && (clean && clean.asText === null ? <HtmlBody clean={clean} allowRemote={allowRemote} /> : <TextBody text={clean?.asText ?? parsed.text ?? ""} />)}
      {parsed && parsed.attachments.length > 0 && (
        <ul class="attachments" aria-label="Attachments">
          {parsed.attachments.map((a, i) => (
            <li key={i}>
              <a download={a.filename || `part-${i + 1}`} href={URL.createObjectURL(new Blob([a.bytes as BlobPart], { type: "application/octet-stream" }))}>
                {a.filename || `part ${i + 1}`} ({a.type}, {Math.ceil(a.bytes.length / 1024)} KB)
              </a>
            </li>
          ))}
        </ul>
      )}
    </article>
  );
}

function Mail({ login, onLogout }: { login: Login; onLogout: () => void }) {
  const [boxes, setBoxes] = useState<Mailbox[]>([]);
  const [current, setCurrent] = useState("");
  const [search, setSearch] = useState("");
  const [typed, setTyped] = useState("");
  const [gen, setGen] = useState(0);
  const [selected, setSelected] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [navOpen, setNavOpen] = useState(false);
  const [composing, setComposing] = useState<Draft | null>(null);
  const parsedRef = useRef<Parsed | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);

  const loadBoxes = useCallback(async () => {
    const r = await jmap.one("Mailbox/get", { ids: null });
    const ms = sortMailboxes(r.list);
    setBoxes(ms);
    setCurrent((c) => c || (ms.find((m) => m.role === "inbox") || ms[0])?.id || "");
  }, []);
  useEffect(() => { loadBoxes(); }, []);
  // live updates: every StateChange reloads the counts and the list
  useEffect(() => {
    const p = jmap.push(() => { loadBoxes(); setGen((g) => g + 1); });
    return p.stop;
  }, []);
  // results as you type, a little after the last key
  useEffect(() => {
    const t = setTimeout(() => setSearch(typed), 250);
    return () => clearTimeout(t);
  }, [typed]);

  const list = useList({ mailboxId: current, search }, gen);
  const sel = selected ? list.at(list.indexOf(selected)) : undefined;
  const role = (r: string) => boxes.find((m) => m.role === r);

  const refresh = () => { loadBoxes(); setGen((g) => g + 1); };
  const update = async (id: string, patch: Record<string, unknown>, note: string) => {
    try {
      const r = await jmap.one("Email/set", { update: { [id]: patch } });
      if (r.notUpdated && r.notUpdated[id]) throw new Error(r.notUpdated[id].type);
      setStatus(note);
    } catch (e) {
      setStatus(`Failed: ${(e as Error).message}`);
    }
    refresh();
  };
  const moveTo = (id: string, to: string, note: string) => {
    const i = list.indexOf(id);
    const next = list.idAt(i + 1) || list.idAt(i - 1) || null;
    setSelected(next);
    update(id, { mailboxIds: { [to]: true } }, note);
  };
  const open = (id: string) => {
    setSelected(id);
    const e = list.at(list.indexOf(id));
    if (e && !e.keywords.$seen) {
      list.patch(id, (x) => ({ ...x, keywords: { ...x.keywords, $seen: true } }));
      update(id, { "keywords/$seen": true }, "");
    }
  };
  const act: Actions | null = sel ? {
    flag: () => update(sel.id, { "keywords/$flagged": sel.keywords.$flagged ? null : true }, sel.keywords.$flagged ? "Unflagged." : "Flagged."),
    seen: () => update(sel.id, { "keywords/$seen": sel.keywords.$seen ? null : true }, sel.keywords.$seen ? "Marked unread." : "Marked read."),
    move: (to) => moveTo(sel.id, to, `Moved to ${boxes.find((m) => m.id === to)?.name}.`),
    trash: async () => {
      const t = role("trash");
      if (t && !sel.mailboxIds[t.id]) return moveTo(sel.id, t.id, "Moved to Trash.");
      setSelected(null);
      await jmap.one("Email/set", { destroy: [sel.id] }).catch(() => undefined);
      setStatus("Deleted.");
      refresh();
    },
    junk: () => { const j = role("junk"); if (j) moveTo(sel.id, j.id, "Moved to Junk."); },
    notJunk: () => { const i = role("inbox"); if (i) moveTo(sel.id, i.id, "Moved to Inbox."); },
    close: () => setSelected(null),
    reply: (p, fwd) => setComposing(replyDraft(p, sel.subject || "", fwd)),
  } : null;
  const canSend = "urn:ietf:params:jmap:submission" in jmap.capabilities;

  // keyboard: j/k next/previous, e archive, # delete, / search, u back
  useEffect(() => {
    const onKey = (ev: KeyboardEvent) => {
      const t = ev.target as HTMLElement;
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) {
        if (ev.key === "Escape") t.blur();
        return;
      }
      const i = selected ? list.indexOf(selected) : -1;
      switch (ev.key) {
        case "j": { const id = list.idAt(i + 1); if (id) open(id); break; }
        case "k": { const id = list.idAt(Math.max(i - 1, 0)); if (id) open(id); break; }
        case "/": ev.preventDefault(); searchRef.current?.focus(); break;
        case "#": act?.trash(); break;
        case "e": { const a = role("archive"); if (a && act) act.move(a.id); break; }
        case "Escape": case "u": setSelected(null); break;
        case "c": if (canSend) { ev.preventDefault(); setComposing({ to: "", cc: "", subject: "", body: "" }); } break;
        case "r": if (canSend && act && parsedRef.current) { ev.preventDefault(); act.reply(parsedRef.current, false); } break;
        case "f": if (canSend && act && parsedRef.current) { ev.preventDefault(); act.reply(parsedRef.current, true); } break;
        default: return;
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const currentBox = boxes.find((m) => m.id === current);
  return (
    <div class={`app${sel || composing ? " reading" : ""}${navOpen ? " nav-open" : ""}`}>
      <header class="top">
        <button type="button" class="menu" aria-label="Folders" aria-expanded={navOpen} onClick={() => setNavOpen(!navOpen)}>☰</button>
        <span class="brand">brev</span>
        <form role="search" onSubmit={(e) => { e.preventDefault(); setSearch(typed); }}>
          <label for="search" class="sr-only">Search mail</label>
          <input id="search" ref={searchRef} type="search" placeholder="Search (from:, to:, subject:)" value={typed}
            onInput={(e) => setTyped((e.currentTarget as HTMLInputElement).value)} />
        </form>
        {canSend && <button type="button" class="primary" onClick={() => setComposing({ to: "", cc: "", subject: "", body: "" })}>Compose</button>}
        <span class="user">{login.username}</span>
        <button type="button" onClick={onLogout}>Sign out</button>
      </header>
      <Folders boxes={boxes} current={current} onPick={(id) => { setCurrent(id); setSelected(null); setNavOpen(false); setTyped(""); setSearch(""); }} />
      <MessageList list={list} selected={selected} onOpen={open} label={currentBox ? currentBox.name : "Messages"} />
      {composing ? (
        <Compose key={JSON.stringify(composing)} jmap={jmap} draft={composing} drafts={role("drafts")?.id} sent={role("sent")?.id}
          onDone={(note) => { setComposing(null); if (note) { setStatus(note); refresh(); } }} />
      ) : sel && act ? <Reader email={sel} boxes={boxes} act={act} parsedRef={parsedRef} /> : <div class="reader empty" aria-hidden="true" />}
      <p class="status" role="status" aria-live="polite">{status}</p>
    </div>
  );
}

function App() {
  const [login, setLogin] = useState<Login | null>(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    jmap.onAuthLost = () => setLogin(null);
    jmap.resume().then(setLogin, () => null).finally(() => setReady(true));
  }, []);
  if (!ready) return <p class="loading">Loading…</p>;
  if (!login) return <LoginPage onLogin={setLogin} />;
  return <Mail login={login} onLogout={() => jmap.signOut().finally(() => setLogin(null))} />;
}

render(<App />, document.getElementById("app")!);
