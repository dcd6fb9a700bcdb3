// render.tsx — showing a message's content safely (docs/web.md, "Safety").
//
// Plain text is rendered as Preact text nodes (escaped by construction)
// with http(s) URLs made into links. HTML goes through DOMPurify, then into
// an <iframe sandbox> without allow-scripts (nothing in it can run, not
// even what DOMPurify might miss), with its own CSP meta element (no
// remote loads), forms removed, CSS url() removed, links opening in a new
// browsing context with noopener and their real target shown; remote
// images are replaced by nothing until the reader allows them for that
// message.

import DOMPurify from "dompurify";
import type { Parsed, Part } from "./mime";

const URL_RE = /\bhttps?:\/\/[^\s<>"'()]+[^\s<>"'().,;:!?]/g;

export function TextBody({ text }: { text: string }) {
  const out: (string | preact.JSX.Element)[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    out.push(text.slice(last, m.index));
    out.push(
      <a href={m[0]} target="_blank" rel="noopener noreferrer" title={m[0]}>
        {m[0]}
      </a>,
    );
    last = m.index! + m[0].length;
  }
  out.push(text.slice(last));
  return <pre class="text-body">{out}</pre>;
}

function dataUrl(p: Part): string {
  let bin = "";
  for (let i = 0; i < p.bytes.length; i += 0x8000) bin += String.fromCharCode(...p.bytes.subarray(i, i + 0x8000));
  return `data:${p.type.replace(/[^a-z0-9.+\/-]/g, "")};base64,${btoa(bin)}`;
}

const FORBID = ["form", "input", "button", "select", "textarea", "option", "meta", "link", "base", "iframe",
  "frame", "frameset", "object", "embed", "applet", "script", "noscript", "audio", "video", "source", "track",
  "svg", "math", "portal", "template"];
const CSS_URL = /url\s*\(|expression\s*\(|@import|image-set\s*\(|image\s*\(/gi;

// Sanitises HTML mail; returns the body markup and how many remote images
// were held back.
export function sanitize(html: string, inline: Map<string, Part>, allowRemote: boolean): { html: string; blocked: number } {
  let blocked = 0;
  DOMPurify.removeAllHooks();
  DOMPurify.addHook("uponSanitizeElement", (node) => {
    if (node.nodeName === "STYLE" && node.textContent) node.textContent = node.textContent.replace(CSS_URL, "invalid(");
  });
  DOMPurify.addHook("uponSanitizeAttribute", (_node, data) => {
    if (data.attrName === "style") data.attrValue = data.attrValue.replace(CSS_URL, "invalid(");
  });
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    const el = node as Element;
    for (const a of ["srcset", "background", "poster", "lowsrc", "dynsrc", "ping", "action", "formaction", "longdesc", "usemap"]) el.removeAttribute?.(a);
    if (el.tagName === "IMG") {
      const src = el.getAttribute("src") || "";
      if (/^cid:/i.test(src)) {
        const p = inline.get(decodeURIComponent(src.slice(4)));
        if (p && p.type.startsWith("image/") && !p.type.includes("svg")) el.setAttribute("src", dataUrl(p));
        else el.removeAttribute("src");
      } else if (/^data:image\/(png|gif|jpe?g|webp);/i.test(src)) {
        /* kept */
      } else if (/^https?:/i.test(src) && allowRemote) {
        /* the reader allowed it */
      } else {
        if (/^https?:/i.test(src) || src.startsWith("//")) blocked++;
        el.removeAttribute("src");
      }
    }
    if (el.tagName === "A" || el.tagName === "AREA") {
      const href = el.getAttribute("href") || "";
      if (/^(https?:|mailto:)/i.test(href)) {
        el.setAttribute("target", "_blank");
        el.setAttribute("rel", "noopener noreferrer");
        el.setAttribute("title", href);
      } else {
        el.removeAttribute("href");
      }
    }
  });
  const clean = DOMPurify.sanitize(html, {
    FORBID_TAGS: FORBID,
    FORBID_ATTR: ["srcset"],
    ALLOW_DATA_ATTR: false,
    ALLOW_UNKNOWN_PROTOCOLS: false,
    WHOLE_DOCUMENT: false,
  }) as string;
  DOMPurify.removeAllHooks();
  return { html: clean, blocked };
}

export function frameDoc(body: string, allowRemote: boolean, dark: boolean): string {
  const img = allowRemote ? "data: https: http:" : "data:";
  return (
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\">" +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${img}; style-src 'unsafe-inline'; form-action 'none'">` +
    "<base target=\"_blank\">" +
    "</head><body" + (dark ? " class=\"dark\"" : "") + ">" + body + "</body></html>"
  );
}

export function HtmlBody({ parsed, allowRemote }: { parsed: Parsed; allowRemote: boolean }) {
  const { html } = sanitize(parsed.html || "", parsed.inline, allowRemote);
  const onLoad = (e: Event) => {
    const f = e.currentTarget as HTMLIFrameElement;
    try {
      const h = f.contentDocument?.documentElement.scrollHeight || 400;
      f.style.height = Math.min(Math.max(h + 16, 120), 20000) + "px";
    } catch {
      /* cannot measure: keep the CSS height */
    }
  };
  return (
    <iframe
      class="html-body"
      title="Message content"
      sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
      referrerpolicy="no-referrer"
      srcdoc={frameDoc(html, allowRemote, false)}
      onLoad={onLoad}
    />
  );
}

export function countBlocked(parsed: Parsed): number {
  return parsed.html ? sanitize(parsed.html, parsed.inline, false).blocked : 0;
}
