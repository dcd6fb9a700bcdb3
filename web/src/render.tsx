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
    "</head><body" + (dark ? " class=\"dark\"" : "") + ">" + body + "</body></html>"
  );
}

// HTML beyond this is cut before sanitising (the reader says so).
export const MAX_HTML = 1024 * 1024;
// Browsers' HTML parsers are quadratic on some unclosed nestings (formatting
// elements inside blocks: 180 KB of "<div><span><b><i>" costs Chromium's
// DOMParser seconds), and sanitising needs a parse. So a cheap linear scan
// estimates the nesting first; deeper than this, the message is shown as
// text with its tags stripped.
export const MAX_NESTING = 400;
const VOID = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"]);

export function nesting(html: string): number {
  let depth = 0;
  let max = 0;
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*?(\/?)>/g)) {
    const name = m[2].toLowerCase();
    if (VOID.has(name)) continue;
    if (m[1]) depth = Math.max(0, depth - 1);
    else if (!m[3]) max = Math.max(max, ++depth);
  }
  return max;
}

export interface Clean {
  html: string; // sanitised markup, or "" when asText
  blocked: number;
  cut: boolean;
  asText: string | null; // too deeply nested: the text without its tags
}

export function cleanHtml(parsed: Parsed, allowRemote: boolean): Clean {
  const src = parsed.html || "";
  const cut = src.length > MAX_HTML;
  const html = cut ? src.slice(0, MAX_HTML) : src;
  if (nesting(html) > MAX_NESTING) {
    const text = parsed.text ?? html.replace(/<[^>]*>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    return { html: "", blocked: 0, cut, asText: text.replace(/\n{3,}/g, "\n\n") };
  }
  return { ...sanitize(html, parsed.inline, allowRemote), cut, asText: null };
}

export function HtmlBody({ clean, allowRemote }: { clean: Clean; allowRemote: boolean }) {
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
      srcdoc={frameDoc(clean.html, allowRemote, false)}
      onLoad={onLoad}
    />
  );
}
