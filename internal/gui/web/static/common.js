// Shared helpers of the admin GUI's pages: calls to the JSON admin API,
// building DOM nodes (never parsed HTML strings: every text goes through
// textContent), messages, and the page header (who is signed in, sign-out).

export const API = "/_/api/admin";

// ApiError is a failed API call: the HTTP status and the API's JSON error
// ({"error", "message", "field"?, "writer_url"?}).
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.error) || "";
    this.field = (body && body.field) || "";
    this.writerURL = (body && body.writer_url) || "";
  }
}

// api calls the admin API and returns the decoded JSON answer (null for
// 204), or throws an ApiError. A 401 on a page that needs a session sends
// the browser to the sign-in page. opts.raw returns the Response itself.
export async function api(method, path, body, opts = {}) {
  const init = { method, credentials: "same-origin", headers: { "Accept": "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(API + path, init);
  } catch (e) {
    throw new ApiError(0, { error: "network", message: "the instance did not answer: " + e.message });
  }
  if (resp.status === 401 && !opts.allow401 && document.body.dataset.page !== "login") {
    location.assign("/_/ui/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, { error: "unauthenticated", message: "your session ended: sign in again" });
  }
  let data = null;
  const text = await resp.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { message: text.trim() }; }
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  if (opts.raw) return { data, headers: resp.headers };
  return data;
}

// el builds an element: attributes (on* keys become listeners, "class"
// sets className, true/false toggle boolean attributes) and children
// (strings become text nodes; null/false are skipped).
export function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") n.addEventListener(k.slice(2), v);
    else if (k === "class") n.className = v;
    else if (v === true) n.setAttribute(k, "");
    else n.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

export const $ = (id) => document.getElementById(id);

export function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

// flash shows a message at the top of the page; errors stay until closed,
// successes go after a few seconds.
export function flash(text, kind = "ok", extra = null) {
  const box = $("messages");
  if (!box) return;
  const msg = el("div", { class: "msg " + kind, role: kind === "error" ? "alert" : "status" },
    el("span", { class: "text" }, text, extra ? " " : "", extra),
    el("button", { type: "button", "aria-label": "Close", onclick: () => msg.remove() }, "×"));
  box.prepend(msg);
  while (box.children.length > 4) box.lastChild.remove();
  if (kind !== "error") setTimeout(() => msg.remove(), 6000);
  return msg;
}

// showError shows why an API call failed, in the API's own words: 409 on a
// reader names the writer, 403 in declarative mode, 503 when the sync
// bucket is down.
export function showError(err, what = "") {
  const prefix = what ? what + " failed: " : "";
  if (!(err instanceof ApiError)) return flash(prefix + String(err && err.message || err), "error");
  let extra = null;
  if (err.writerURL) {
    extra = el("a", { href: err.writerURL.replace(/\/+$/, "") + "/_/ui/", class: "writer-link" }, "open the writer");
  }
  const code = err.code ? ` (${err.status} ${err.code})` : err.status ? ` (${err.status})` : "";
  return flash(prefix + err.message + code, "error", extra);
}

// mutate runs fn (an API call), shows its error if it fails, and returns
// its result or undefined.
export async function mutate(what, fn) {
  try {
    return await fn();
  } catch (e) {
    showError(e, what);
    return undefined;
  }
}

export function fmtTime(s) {
  if (!s || s.startsWith("0001-")) return "—";
  const d = new Date(s);
  if (isNaN(d)) return s;
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function fmtAgo(s, now = Date.now()) {
  if (!s || s.startsWith("0001-")) return "never";
  const secs = Math.round((now - new Date(s).getTime()) / 1000);
  if (secs < 60) return `${Math.max(secs, 0)} s ago`;
  if (secs < 3600) return `${Math.round(secs / 60)} min ago`;
  return `${Math.round(secs / 3600)} h ago`;
}

export function fmtSize(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

// parseRules reads a JSON rule list from a textarea; the API validates
// the rules themselves and names the field at fault.
export function parseRules(text, field) {
  const t = text.trim();
  if (t === "") return [];
  let v;
  try { v = JSON.parse(t); } catch (e) { throw new Error(`${field}: not valid JSON (${e.message})`); }
  if (!Array.isArray(v)) throw new Error(`${field}: must be a JSON array of rules`);
  return v;
}

export function rulesSummary(rules) {
  if (!rules || rules.length === 0) return "none";
  return rules.map((r) => `${r.effect} ${(r.actions || []).join(",")} on ${(r.resources || []).join(",")}`).join("; ");
}

// session is what whoami answered for this page (filled by initPage).
export let session = null;

// initPage fills the header (identity, sign-out buttons) of a page that
// needs a session and returns whoami's answer.
export async function initPage() {
  session = await api("GET", "/whoami");
  const who = $("whoami");
  if (who) {
    let name = session.identity;
    if (session.kind === "user") name = session.user_name || session.user_id;
    if (session.kind === "oidc") name = session.name || session.identity;
    who.textContent = `${name} (${session.kind === "admin" ? "bootstrap admin" : session.kind})`;
  }
  const out = $("signout");
  if (out) out.addEventListener("click", signOut);
  const all = $("signout-all");
  if (all && session.kind === "admin") {
    all.classList.remove("hidden");
    armed(all, "Really sign out everywhere?", signOutEverywhere);
  }
  return session;
}

async function signOut() {
  try {
    const r = await api("POST", "/logout", undefined, { allow401: true });
    if (r && r.revoked === false && r.message && !r.message.startsWith("no valid session")) {
      sessionStorage.setItem("dgp-signout-message", r.message);
    }
  } catch (e) {
    showError(e, "Sign-out");
    return;
  }
  location.assign("/_/ui/login?signed_out=1");
}

async function signOutEverywhere() {
  try {
    const r = await api("POST", "/sessions/revoke-all", undefined, { allow401: true });
    sessionStorage.setItem("dgp-signout-message", (r && r.message) || "signed out everywhere");
  } catch (e) {
    if (e.status === 404) {
      flash("This instance has no sign-out-everywhere endpoint (POST /_/api/admin/sessions/revoke-all).", "error");
    } else {
      showError(e, "Sign-out everywhere");
    }
    return;
  }
  location.assign("/_/ui/login?signed_out=1");
}

// boot runs a page's main after initPage, showing a failure to load.
export function boot(main) {
  const run = async () => {
    try {
      await initPage();
      await main();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return; // redirected
      showError(e, "Loading the page");
    }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
}

// notAvailable says plainly that an endpoint this page needs is missing
// on this instance (an older or partial build answers 404).
export function notAvailable(tbody, cols, what) {
  clear(tbody).append(el("tr", { class: "empty" }, el("td", { colspan: cols }, `${what} is not available on this instance (the API answered 404).`)));
}

// armed makes a button ask for a second click before running fn (no modal
// dialog: it would block the page and its tests).
export function armed(button, question, fn) {
  const label = button.textContent;
  let timer = null;
  button.addEventListener("click", async () => {
    if (!button.classList.contains("armed")) {
      button.classList.add("armed");
      button.textContent = question;
      timer = setTimeout(() => { button.classList.remove("armed"); button.textContent = label; }, 5000);
      return;
    }
    clearTimeout(timer);
    button.classList.remove("armed");
    button.textContent = label;
    button.disabled = true;
    try { await fn(); } finally { button.disabled = false; }
  });
  return button;
}

// button builds a button running fn on click (disabled while it runs).
export function button(label, fn, cls = "secondary", attrs = {}) {
  const b = el("button", { type: "button", class: cls, ...attrs }, label);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try { await fn(); } finally { b.disabled = false; }
  });
  return b;
}
