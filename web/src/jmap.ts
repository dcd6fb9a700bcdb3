// jmap.ts — the browser side of brev's session and JMAP (docs/jmap.md,
// docs/web.md): log in with POST /login (a cookie and a CSRF token), call
// /jmap/api/, download blobs, and follow the push stream.
//
// Every state-changing request carries X-CSRF-Token; the cookie itself is
// HttpOnly and never seen here.

export interface Login {
  username: string;
  accountId: string;
  admin: boolean;
  csrfToken: string;
}

export class AuthError extends Error {}

const USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", "urn:ietf:params:jmap:submission"];

export class Jmap {
  login: Login | null = null;
  apiUrl = "/jmap/api/";
  downloadUrl = "/jmap/download/{accountId}/{blobId}/{name}?accept={type}";
  uploadUrl = "/jmap/upload/{accountId}/";
  eventSourceUrl = "/jmap/eventsource/?types={types}&closeafter={closeafter}&ping={ping}";
  capabilities: Record<string, unknown> = {};
  onAuthLost: () => void = () => {};

  get accountId(): string {
    return this.login ? this.login.accountId : "";
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = {};
    if (json) h["Content-Type"] = "application/json";
    if (this.login && this.login.csrfToken) h["X-CSRF-Token"] = this.login.csrfToken;
    return h;
  }

  // The session a reload still has (its cookie), or null.
  async resume(): Promise<Login | null> {
    const r = await fetch("/session", { credentials: "same-origin" });
    if (r.status !== 200) return null;
    this.login = await r.json();
    await this.loadSession();
    return this.login;
  }

  async signIn(username: string, password: string): Promise<Login> {
    const r = await fetch("/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (r.status === 429) throw new AuthError("Too many attempts. Wait a minute and try again.");
    if (r.status !== 200) throw new AuthError("Wrong address or password.");
    this.login = await r.json();
    await this.loadSession();
    return this.login!;
  }

  async signOut(): Promise<void> {
    try {
      await fetch("/logout", { method: "POST", credentials: "same-origin", headers: this.headers(false) });
    } finally {
      this.login = null;
    }
  }

  private async loadSession() {
    const r = await fetch("/.well-known/jmap", { credentials: "same-origin", headers: this.headers(false) });
    if (r.status === 401) throw new AuthError("session ended");
    const s = await r.json();
    this.apiUrl = s.apiUrl || this.apiUrl;
    this.downloadUrl = s.downloadUrl || this.downloadUrl;
    this.uploadUrl = s.uploadUrl || this.uploadUrl;
    this.eventSourceUrl = s.eventSourceUrl || this.eventSourceUrl;
    this.capabilities = s.capabilities || {};
  }

  // One request of several method calls; returns the responses by call id.
  async call(calls: [string, Record<string, unknown>, string][]): Promise<Map<string, [string, any]>> {
    const using = USING.filter((u) => u in this.capabilities || u.endsWith(":core") || u.endsWith(":mail"));
    const r = await fetch(this.apiUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: this.headers(true),
      body: JSON.stringify({ using, methodCalls: calls }),
    });
    if (r.status === 401 || r.status === 403) {
      this.onAuthLost();
      throw new AuthError("session ended");
    }
    if (!r.ok) throw new Error(`JMAP request failed: ${r.status}`);
    const body = await r.json();
    const out = new Map<string, [string, any]>();
    // the first response of each call id: EmailSubmission/set adds an implicit
    // Email/set response under the same id (RFC 8621 7.5)
    for (const [name, args, id] of body.methodResponses) if (!out.has(id)) out.set(id, [name, args]);
    return out;
  }

  // One method call; a method error is thrown with its type.
  async one(name: string, args: Record<string, unknown>): Promise<any> {
    const res = await this.call([[name, { accountId: this.accountId, ...args }, "0"]]);
    const [rname, rargs] = res.get("0")!;
    if (rname === "error") throw new MethodError(rargs.type, rargs.description);
    return rargs;
  }

  blobUrl(blobId: string, name: string, type: string): string {
    return this.downloadUrl
      .replace("{accountId}", encodeURIComponent(this.accountId))
      .replace("{blobId}", encodeURIComponent(blobId))
      .replace("{name}", encodeURIComponent(name))
      .replace("{type}", encodeURIComponent(type));
  }

  async download(blobId: string): Promise<Uint8Array> {
    const r = await fetch(this.blobUrl(blobId, "message.eml", "message/rfc822"), { credentials: "same-origin", headers: this.headers(false) });
    if (!r.ok) throw new Error(`download failed: ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  }

  async upload(data: Blob, type: string): Promise<{ blobId: string; type: string; size: number }> {
    const r = await fetch(this.uploadUrl.replace("{accountId}", encodeURIComponent(this.accountId)), {
      method: "POST",
      credentials: "same-origin",
      headers: { ...this.headers(false), "Content-Type": type || "application/octet-stream" },
      body: data,
    });
    if (!r.ok) throw new Error(`upload failed: ${r.status}`);
    return r.json();
  }

  // Follows the push stream (RFC 8620 7.3) until stop() is called; calls
  // onChange for each StateChange. Read with fetch rather than EventSource
  // so that a dropped stream is retried on our terms (back-off, no storm).
  push(onChange: () => void): { stop: () => void } {
    let stopped = false;
    let ctl: AbortController | null = null;
    const url = this.eventSourceUrl.replace("{types}", "*").replace("{closeafter}", "no").replace("{ping}", "60");
    const run = async () => {
      let delay = 1000;
      while (!stopped) {
        ctl = new AbortController();
        try {
          const r = await fetch(url, { credentials: "same-origin", signal: ctl.signal, headers: this.headers(false) });
          if (r.status === 401) { this.onAuthLost(); return; }
          if (!r.ok || !r.body) throw new Error(String(r.status));
          delay = 1000;
          const reader = r.body.getReader();
          const dec = new TextDecoder();
          let buf = "";
          let event = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true });
            let i: number;
            while ((i = buf.indexOf("\n")) >= 0) {
              const line = buf.slice(0, i).replace(/\r$/, "");
              buf = buf.slice(i + 1);
              if (line.startsWith("event:")) event = line.slice(6).trim();
              else if (line === "") { if (event === "state") onChange(); event = ""; }
            }
            if (buf.length > 1 << 20) buf = "";
          }
        } catch {
          /* retried below */
        }
        if (stopped) return;
        await new Promise((res) => setTimeout(res, delay));
        delay = Math.min(delay * 2, 30000);
        onChange(); // something may have changed while the stream was down
      }
    };
    run();
    return { stop: () => { stopped = true; ctl?.abort(); } };
  }
}

export class MethodError extends Error {
  constructor(public type: string, description?: string) {
    super(description ? `${type}: ${description}` : type);
  }
}
