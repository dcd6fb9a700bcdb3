// mime.ts — a message's raw bytes (RFC 5322 + MIME, RFC 2045-2047) to
// what the reading pane shows: decoded header fields, the text and HTML
// bodies, the attachments, and the inline parts by Content-ID.
//
// brev's Email/get does not give bodies yet, so the browser reads the
// blob (JMAP download) and parses it here. Every input is hostile: parts
// are bounded in depth and count, unknown charsets fall back to UTF-8
// with replacement characters, nothing here touches the DOM.

export interface Part {
  type: string; // lower case, "text/plain"
  params: Record<string, string>;
  disposition: string; // "", "inline", "attachment"
  filename: string;
  cid: string; // Content-ID without <>
  bytes: Uint8Array; // decoded body
}

export interface Parsed {
  headers: [string, string][]; // name lower case, value unfolded, RFC 2047 decoded
  text: string | null;
  html: string | null;
  attachments: Part[];
  inline: Map<string, Part>; // by Content-ID
}

const MAX_DEPTH = 16;
const MAX_PARTS = 500;

const latin1 = new TextDecoder("latin1");

function decodeCharset(bytes: Uint8Array, charset: string): string {
  let cs = (charset || "utf-8").toLowerCase();
  if (cs === "us-ascii" || cs === "ascii") cs = "windows-1252";
  try {
    return new TextDecoder(cs).decode(bytes);
  } catch {
    return new TextDecoder("utf-8").decode(bytes);
  }
}

function b64bytes(s: string): Uint8Array {
  const clean = s.replace(/[^A-Za-z0-9+/]/g, "");
  const usable = clean.length - (clean.length % 4 === 1 ? 1 : 0);
  let bin: string;
  try {
    bin = atob(clean.slice(0, usable) + "==".slice(0, (4 - (usable % 4)) % 4));
  } catch {
    return new Uint8Array(0);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function qpbytes(s: string, header: boolean): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "=") {
      if (s[i + 1] === "\r" && s[i + 2] === "\n") { i += 2; continue; }
      if (s[i + 1] === "\n") { i += 1; continue; }
      const hex = s.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) { out.push(parseInt(hex, 16)); i += 2; continue; }
      out.push(61);
    } else if (header && c === "_") {
      out.push(32);
    } else {
      out.push(s.charCodeAt(i) & 0xff);
    }
  }
  return new Uint8Array(out);
}

// RFC 2047 encoded words; white space between two encoded words goes.
export function decodeWords(v: string): string {
  const re = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;
  let out = "";
  let last = 0;
  let prevWasWord = false;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    const between = v.slice(last, m.index);
    if (!(prevWasWord && /^\s*$/.test(between))) out += between;
    const charset = m[1].split("*")[0];
    const bytes = m[2].toLowerCase() === "b" ? b64bytes(m[3]) : qpbytes(m[3], true);
    out += decodeCharset(bytes, charset);
    last = re.lastIndex;
    prevWasWord = true;
  }
  return out + v.slice(last);
}

function splitHead(raw: string): [string, string] {
  const m = /\r?\n\r?\n/.exec(raw);
  if (!m) return [raw, ""];
  return [raw.slice(0, m.index), raw.slice(m.index + m[0].length)];
}

function parseHeaders(head: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of head.split(/\r?\n(?![ \t])/)) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).replace(/\r?\n[ \t]/g, " ").trim();
    out.push([name, value]);
    if (out.length > 1000) break;
  }
  return out;
}

function header(hs: [string, string][], name: string): string {
  const h = hs.find(([n]) => n === name);
  return h ? h[1] : "";
}

// "text/html; charset=utf-8; name*=..." -> value and lower-cased params
// (RFC 2231 continuations are joined, their charset prefix is decoded).
function parseParams(v: string): [string, Record<string, string>] {
  const parts: string[] = [];
  let cur = "";
  let q = false;
  for (const c of v) {
    if (c === '"') q = !q;
    if (c === ";" && !q) { parts.push(cur); cur = ""; continue; }
    cur += c;
  }
  parts.push(cur);
  const params: Record<string, string> = {};
  const cont: Record<string, string[]> = {};
  for (const p of parts.slice(1)) {
    const i = p.indexOf("=");
    if (i < 0) continue;
    let k = p.slice(0, i).trim().toLowerCase();
    let val = p.slice(i + 1).trim();
    if (val.startsWith('"') && val.endsWith('"') && val.length >= 2) val = val.slice(1, -1).replace(/\\(.)/g, "$1");
    const m = /^([^*]+)\*(\d+)?\*?$/.exec(k);
    if (m) {
      k = m[1];
      (cont[k] ||= [])[Number(m[2] || 0)] = val;
      continue;
    }
    params[k] = decodeWords(val);
  }
  for (const [k, vs] of Object.entries(cont)) {
    let joined = vs.join("");
    const m = /^([^']*)'[^']*'(.*)$/.exec(joined);
    if (m) {
      const bytes = new Uint8Array(
        Array.from(m[2].replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), (c) => c.charCodeAt(0) & 0xff),
      );
      joined = decodeCharset(bytes, m[1]);
    }
    params[k] = joined;
  }
  return [parts[0].trim().toLowerCase(), params];
}

function decodeBody(body: string, cte: string): Uint8Array {
  switch (cte.toLowerCase().trim()) {
    case "base64": return b64bytes(body);
    case "quoted-printable": return qpbytes(body, false);
    default: {
      const out = new Uint8Array(body.length);
      for (let i = 0; i < body.length; i++) out[i] = body.charCodeAt(i) & 0xff;
      return out;
    }
  }
}

export function parseMessage(raw: Uint8Array): Parsed {
  // latin1 maps each byte to one char, so offsets are byte offsets and
  // bodies come back byte for byte.
  const s = latin1.decode(raw);
  const [head, body] = splitHead(s);
  const headers = parseHeaders(head).map(([n, v]) => [n, decodeWords(latin1ToUtf8(v))] as [string, string]);
  const res: Parsed = { headers, text: null, html: null, attachments: [], inline: new Map() };
  let count = 0;

  function walk(hs: [string, string][], b: string, depth: number, inAlt: boolean) {
    if (++count > MAX_PARTS) return;
    const [type0, params] = parseParams(header(hs, "content-type") || "text/plain");
    const type = type0 || "text/plain";
    const [disp, dparams] = parseParams(header(hs, "content-disposition"));
    const filename = dparams.filename || params.name || "";
    if (type.startsWith("multipart/") && params.boundary && depth < MAX_DEPTH) {
      const delim = "--" + params.boundary;
      const children: string[] = [];
      let cur: string[] | null = null;
      for (const line of b.split(/\r?\n/)) {
        const t = line.trimEnd();
        if (t === delim || t === delim + "--") {
          if (cur) children.push(cur.join("\r\n"));
          cur = t === delim ? [] : null;
          if (t !== delim) break;
          if (children.length > MAX_PARTS) break;
          continue;
        }
        if (cur) cur.push(line);
      }
      if (cur) children.push(cur.join("\r\n"));
      const alt = type === "multipart/alternative";
      for (const c of children) {
        const [ch, cb] = splitHead(c);
        walk(parseHeaders(ch), cb, depth + 1, alt);
      }
      return;
    }
    if (type === "message/rfc822" && depth < MAX_DEPTH && disp !== "attachment") {
      const [ch, cb] = splitHead(b);
      walk(parseHeaders(ch), cb, depth + 1, false);
      return;
    }
    const bytes = decodeBody(b, header(hs, "content-transfer-encoding"));
    const part: Part = { type, params, disposition: disp, filename, cid: header(hs, "content-id").replace(/^<|>$/g, ""), bytes };
    if (part.cid) res.inline.set(part.cid, part);
    if (disp !== "attachment" && !filename && type === "text/plain" && res.text === null) {
      res.text = decodeCharset(bytes, params.charset);
    } else if (disp !== "attachment" && !filename && type === "text/html" && res.html === null) {
      res.html = decodeCharset(bytes, params.charset);
    } else if (!(inAlt && type.startsWith("text/")) && !(part.cid && disp !== "attachment" && type.startsWith("image/"))) {
      res.attachments.push(part);
    }
  }
  walk(parseHeaders(head), body, 0, false);
  return res;
}

// Header bytes that are raw UTF-8 (RFC 6532) were read as latin1.
function latin1ToUtf8(v: string): string {
  if (!/[\x80-\xff]/.test(v)) return v;
  const bytes = Uint8Array.from(v, (c) => c.charCodeAt(0) & 0xff);
  return new TextDecoder("utf-8").decode(bytes);
}

export function getHeader(p: Parsed, name: string): string {
  return header(p.headers, name);
}
