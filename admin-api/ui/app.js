// Scoville's web UI: plain JavaScript, no framework, no build step.
//
// Rule: user text (names, URLs, errors) is only ever put in the page as text, through
// createElement and textContent (the el() helper below). Nothing here parses HTML.
"use strict";

(function () {
  const STATUS = {
    down: { word: "Down", icon: "✖", order: 0 },
    degraded: { word: "Degraded", icon: "▲", order: 1 },
    unknown: { word: "Pending", icon: "?", order: 2 },
    up: { word: "Up", icon: "✔", order: 3 },
    paused: { word: "Paused", icon: "❚❚", order: 4 },
  };
  const SVG = "http://www.w3.org/2000/svg";

  // ---- DOM helpers (text only) -------------------------------------------------------

  /** An element with attributes (strings, set as attributes; `on*` keys become
   * listeners) and children (nodes, or strings added as text). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        node.addEventListener(key.slice(2), value);
      } else {
        node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  const main = () => document.getElementById("main");

  function show(title, ...children) {
    document.title = title ? `${title} · Scoville` : "Scoville";
    const m = main();
    m.replaceChildren();
    append(m, children);
  }

  // ---- The API ------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body, headers) {
      super((body && body.error) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
      this.retryAfter = headers && headers.get("retry-after");
    }
  }

  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    let data = null;
    if ((resp.headers.get("content-type") || "").includes("json")) {
      data = await resp.json().catch(() => null);
    }
    if (!resp.ok) throw new ApiError(resp.status, data, resp.headers);
    return data;
  }

  // ---- Session ------------------------------------------------------------------------

  let me = null;
  let dashboard = null;

  async function loadMe() {
    try {
      me = await api("GET", "/v1/me");
    } catch (e) {
      if (e.status === 401) me = null;
      else throw e;
    }
    renderAccount();
    return me;
  }

  function renderAccount() {
    const nav = document.getElementById("account");
    nav.replaceChildren();
    if (!me) return;
    const org = (me.orgs || []).find((o) => o.id === me.org_id);
    append(nav, [
      el("span", { class: "org", title: "Organization" }, org ? org.name : me.org_id),
      el("button", { type: "button", class: "quiet", id: "logout", onclick: logout }, "Log out"),
    ]);
  }

  async function logout() {
    try {
      await api("POST", "/v1/logout");
    } catch (_) {
      // Signed out either way.
    }
    me = null;
    stopDashboard();
    renderAccount();
    location.hash = "#/login";
  }

  // ---- Forms --------------------------------------------------------------------------

  /** A labelled input with a place for its inline error. */
  function field(name, label, type, extra) {
    const id = `f-${name}`;
    const input = el("input", Object.assign({ id, name, type, "aria-describedby": `${id}-error` }, extra || {}));
    return el("div", { class: "field" },
      el("label", { for: id }, label),
      input,
      el("p", { class: "field-error", id: `${id}-error`, "aria-live": "polite" }));
  }

  function clearErrors(form) {
    for (const p of form.querySelectorAll(".field-error, .form-error")) p.textContent = "";
    for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  }

  /** Shows an API error next to the field it names, or above the button. */
  function showError(form, e) {
    const fieldName = e.body && e.body.field;
    const input = fieldName && form.querySelector(`[name="${CSS.escape(fieldName)}"]`);
    let text = e.body && e.body.reason ? `${fieldName} ${e.body.reason}` : e.message;
    if (e.status === 401) text = "Wrong email or password.";
    if (e.status === 409) text = "That email already has an account: log in instead.";
    if (e.status === 429) text = `Too many attempts: try again in ${e.retryAfter || "a few"} seconds.`;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      document.getElementById(`${input.id}-error`).textContent = text;
      input.focus();
    } else {
      form.querySelector(".form-error").textContent = text || "Something went wrong.";
    }
  }

  function authForm(kind) {
    const signup = kind === "signup";
    const form = el("form", { class: "card", id: `${kind}-form`, novalidate: true },
      el("h1", {}, signup ? "Create your account" : "Log in"),
      field("email", "Email", "email", { autocomplete: "email", required: true }),
      field("password", "Password", "password", {
        autocomplete: signup ? "new-password" : "current-password", required: true, minlength: signup ? 10 : null,
      }),
      signup ? field("org_name", "Organization name", "text", { autocomplete: "organization", required: true }) : null,
      el("p", { class: "form-error", role: "alert" }),
      el("button", { type: "submit" }, signup ? "Sign up" : "Log in"),
      el("p", { class: "switch" },
        signup ? "Already have an account? " : "New here? ",
        el("a", { href: signup ? "#/login" : "#/signup" }, signup ? "Log in" : "Create an account")));
    // An inline error goes as soon as the field is edited.
    form.addEventListener("input", (ev) => {
      if (ev.target.getAttribute("aria-invalid") !== "true") return;
      ev.target.removeAttribute("aria-invalid");
      document.getElementById(`${ev.target.id}-error`).textContent = "";
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const data = Object.fromEntries(new FormData(form).entries());
      if (signup && String(data.password).length < 10) {
        showError(form, new ApiError(422, { field: "password", reason: "must be 10-256 characters" }));
        return;
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await api("POST", signup ? "/v1/signup" : "/v1/login", data);
        await loadMe();
        location.hash = "#/";
        route();
      } catch (e) {
        showError(form, e);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  // ---- Dashboard ----------------------------------------------------------------------

  function target(check) {
    if (!check) return "";
    return check.url || (check.host ? `${check.host}${check.port ? `:${check.port}` : ""}` : "") || check.name || check.type || "";
  }

  function pill(status) {
    const s = STATUS[status] || STATUS.unknown;
    return el("span", { class: `pill s-${status}` },
      el("span", { class: "icon", "aria-hidden": "true" }, s.icon),
      el("span", { class: "word" }, s.word));
  }

  /** A hand-drawn SVG sparkline of `values` (null: no data that step). */
  function sparkline(values, label) {
    const w = 120, h = 28, pad = 2;
    const node = svg("svg", { class: "spark", viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none", role: "img" });
    const title = svg("title");
    title.textContent = label;
    node.append(title);
    const known = values.filter((v) => typeof v === "number");
    if (known.length < 2) {
      const t = svg("text", { x: 2, y: h / 2 + 3, class: "nodata" });
      t.textContent = "no data yet";
      node.append(t);
      return node;
    }
    const max = Math.max(...known), min = Math.min(...known);
    const span = max - min || 1;
    const step = (w - 2 * pad) / Math.max(values.length - 1, 1);
    // One line per run of steps with data: a gap (no checks) stays a gap.
    let points = [];
    const flush = () => {
      if (points.length > 1) node.append(svg("polyline", { points: points.join(" ") }));
      points = [];
    };
    values.forEach((v, i) => {
      if (typeof v !== "number") { flush(); return; }
      const x = pad + i * step;
      const y = h - pad - ((v - min) / span) * (h - 2 * pad);
      points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
    });
    flush();
    return node;
  }

  class Dashboard {
    constructor() {
      this.endpoints = new Map(); // id -> { endpoint, live, history }
      this.filter = { text: "", status: "all" };
      this.source = null;
      this.historyTimer = null;
      this.rows = new Map();
      this.build();
    }

    build() {
      this.liveNote = el("span", { class: "live off", id: "live", "aria-live": "polite" }, "Connecting…");
      this.counts = el("ul", { class: "counts", id: "counts", "aria-label": "Endpoints by status" });
      this.search = el("input", {
        type: "search", id: "search", placeholder: "Filter by name, URL or tag", "aria-label": "Filter endpoints",
        oninput: () => { this.filter.text = this.search.value.trim().toLowerCase(); this.render(); },
      });
      this.list = el("ul", { class: "list", id: "endpoints", "aria-label": "Endpoints" });
      this.empty = el("p", { class: "empty", hidden: true });
      show("Dashboard",
        el("div", { class: "dash-head" }, el("h1", {}, "Endpoints"), this.liveNote),
        this.counts,
        el("div", { class: "tools" }, this.search),
        this.empty,
        this.list);
    }

    async start() {
      await this.loadEndpoints();
      this.connect();
      this.loadHistories();
      this.historyTimer = setInterval(() => this.loadHistories(), 5 * 60 * 1000);
    }

    stop() {
      if (this.source) this.source.close();
      this.source = null;
      clearInterval(this.historyTimer);
      clearTimeout(this.reloadTimer);
    }

    async loadEndpoints() {
      const list = await api("GET", "/v1/endpoints");
      const seen = new Set();
      for (const e of list) {
        seen.add(e.id);
        const known = this.endpoints.get(e.id);
        if (known) known.endpoint = e;
        else this.endpoints.set(e.id, { endpoint: e, live: { status: e.paused ? "paused" : "unknown" }, history: null });
      }
      for (const id of [...this.endpoints.keys()]) if (!seen.has(id)) this.endpoints.delete(id);
      this.render();
    }

    connect() {
      this.source = new EventSource("/v1/events");
      this.source.addEventListener("open", () => this.setLive(true));
      this.source.addEventListener("snapshot", (ev) => this.apply(JSON.parse(ev.data), true));
      this.source.addEventListener("status", (ev) => this.apply(JSON.parse(ev.data), false));
      this.source.addEventListener("error", async () => {
        this.setLive(false);
        if (this.source && this.source.readyState === EventSource.CLOSED) {
          // The server refused (signed out, or too many streams): check, then retry.
          this.source = null;
          if (!(await loadMe())) { location.hash = "#/login"; return; }
          setTimeout(() => { if (dashboard === this && !this.source) this.connect(); }, 5000);
        }
      });
    }

    setLive(on) {
      this.liveNote.className = `live ${on ? "on" : "off"}`;
      this.liveNote.textContent = on ? "Live" : "Reconnecting…";
    }

    apply(data, full) {
      let unknownIds = false;
      const ids = new Set();
      for (const live of data.endpoints || []) {
        ids.add(live.id);
        const known = this.endpoints.get(live.id);
        if (known) {
          known.live = live;
          known.endpoint.name = live.name;
        } else {
          unknownIds = true;
          this.endpoints.set(live.id, { endpoint: { id: live.id, name: live.name }, live, history: null });
        }
      }
      for (const id of data.removed || []) this.endpoints.delete(id);
      if (full) for (const id of [...this.endpoints.keys()]) if (!ids.has(id)) this.endpoints.delete(id);
      this.render();
      if (unknownIds) {
        // New endpoints: fetch their details (target, tags) and history, once.
        clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => this.loadEndpoints().then(() => this.loadHistories()).catch(() => {}), 500);
      }
    }

    async loadHistories() {
      const ids = [...this.endpoints.keys()];
      const worker = async () => {
        while (ids.length) {
          const id = ids.shift();
          const item = this.endpoints.get(id);
          if (!item) continue;
          try {
            item.history = await api("GET", `/v1/endpoints/${encodeURIComponent(id)}/history?step=1h`);
          } catch (_) {
            item.history = null;
          }
          this.renderRow(id);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    }

    visible(item) {
      const { endpoint, live } = item;
      if (this.filter.status !== "all" && live.status !== this.filter.status) return false;
      if (!this.filter.text) return true;
      const hay = [endpoint.name, target(endpoint.check), ...(endpoint.tags || [])].join(" ").toLowerCase();
      return hay.includes(this.filter.text);
    }

    renderCounts() {
      const n = { all: this.endpoints.size };
      for (const k of Object.keys(STATUS)) n[k] = 0;
      for (const { live } of this.endpoints.values()) n[live.status in STATUS ? live.status : "unknown"] += 1;
      if (!this.countButtons) {
        // Built once and updated in place, so keyboard focus stays where it is.
        this.countButtons = new Map();
        const entries = [["all", "All", ""], ...Object.entries(STATUS).map(([k, s]) => [k, s.word, s.icon])];
        for (const [key, word, icon] of entries) {
          const number = el("span", { class: "n" }, "0");
          const b = el("button", {
            type: "button", class: key === "all" ? "" : `s-${key}`, "data-status": key, "aria-pressed": "false",
            onclick: () => { this.filter.status = this.filter.status === key && key !== "all" ? "all" : key; this.render(); },
          },
          icon ? el("span", { "aria-hidden": "true" }, icon) : null, number, ` ${word}`);
          this.countButtons.set(key, { b, number });
          this.counts.append(el("li", {}, b));
        }
      }
      for (const [key, { b, number }] of this.countButtons) {
        number.textContent = String(n[key]);
        b.setAttribute("aria-pressed", String(this.filter.status === key));
      }
    }

    render() {
      this.renderCounts();
      const items = [...this.endpoints.values()].sort((a, b) =>
        (STATUS[a.live.status] || STATUS.unknown).order - (STATUS[b.live.status] || STATUS.unknown).order ||
        String(a.endpoint.name).localeCompare(String(b.endpoint.name)));
      const shown = items.filter((i) => this.visible(i));
      this.rows = new Map();
      const rows = shown.map((i) => this.row(i));
      this.list.replaceChildren(...rows);
      this.empty.hidden = shown.length > 0;
      this.empty.textContent = this.endpoints.size === 0
        ? "No endpoints yet. Create one through the API (POST /v1/endpoints) and it appears here."
        : "No endpoint matches the filter.";
    }

    renderRow(id) {
      const old = this.rows.get(id);
      const item = this.endpoints.get(id);
      if (!old || !item || !old.isConnected) return;
      old.replaceWith(this.row(item));
    }

    row(item) {
      const { endpoint, live, history } = item;
      const status = live.status in STATUS ? live.status : "unknown";
      const steps = (history && history.steps) || [];
      const values = steps.map((s) => (typeof s.p50_ms === "number" ? s.p50_ms : s.mean_ms));
      const summary = history && history.summary;
      const p50 = summary && typeof summary.p50_ms === "number" ? `median ${Math.round(summary.p50_ms)} ms` : "no data";
      const uptime = summary && typeof summary.uptime === "number" ? `${(summary.uptime * 100).toFixed(2)}%` : "–";
      const row = el("li", { class: `row s-${status}`, "data-id": endpoint.id, "data-status": status },
        el("div", { class: "status" }, pill(status)),
        el("div", { class: "main" },
          el("div", { class: "name" }, endpoint.name),
          el("div", { class: "target" }, target(endpoint.check)),
          status === "down" && live.error ? el("div", { class: "error" }, live.error) : null),
        sparkline(values, `Response time, last 24 hours: ${p50}`),
        el("div", { class: "uptime", title: "Uptime, last 24 hours" }, uptime, el("small", {}, "24 h")));
      this.rows.set(endpoint.id, row);
      return row;
    }
  }

  function stopDashboard() {
    if (dashboard) dashboard.stop();
    dashboard = null;
  }

  // ---- Routing ------------------------------------------------------------------------

  async function route() {
    const hash = location.hash || "#/";
    if (hash === "#/login" || hash === "#/signup") {
      stopDashboard();
      if (me) { location.hash = "#/"; return; }
      show(hash === "#/login" ? "Log in" : "Sign up", authForm(hash.slice(2)));
      const first = main().querySelector("input");
      if (first) first.focus();
      return;
    }
    if (!me && !(await loadMe())) { location.hash = "#/login"; return; }
    if (!dashboard) {
      dashboard = new Dashboard();
      dashboard.start().catch((e) => {
        if (e.status === 401) { me = null; location.hash = "#/login"; return; }
        show("Dashboard", el("p", { class: "notice error", role: "alert" }, `Could not load the endpoints: ${e.message}`));
      });
    }
  }

  window.addEventListener("hashchange", route);
  document.addEventListener("DOMContentLoaded", async () => {
    try {
      await loadMe();
    } catch (e) {
      show("Error", el("p", { class: "notice error", role: "alert" }, `The API does not answer: ${e.message}`));
      return;
    }
    route();
  });
})();
