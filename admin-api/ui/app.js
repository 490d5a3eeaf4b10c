// Scoville's web UI: plain JavaScript, no framework, no build step. This file holds the
// helpers, the session, the header (navigation, org switcher), the live dashboard and
// the router; endpoint.js (the endpoint page and form) and settings.js (channels,
// maintenance, members, API keys) register their pages through window.Scoville.
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

  const NAV = [
    ["#/", "Dashboard"],
    ["#/channels", "Channels"],
    ["#/maintenance", "Maintenance"],
    ["#/status-pages", "Status pages"],
    ["#/members", "Members"],
    ["#/hooks", "Hooks"],
    ["#/api-keys", "API keys"],
  ];

  function renderAccount() {
    const nav = document.getElementById("account");
    const links = document.getElementById("nav");
    nav.replaceChildren();
    links.replaceChildren();
    links.hidden = !me;
    if (!me) return;
    for (const [href, label] of NAV) {
      links.append(el("a", { href, "data-nav": href }, label));
    }
    markNav();
    const orgs = me.orgs || [];
    const org = orgs.find((o) => o.id === me.org_id);
    if (orgs.length > 1) {
      // The switcher: the choice is a cookie, so the live stream follows it too.
      const select = el("select", { id: "org-switch", class: "org-switch", onchange: () => switchOrg(select.value) },
        orgs.map((o) => el("option", { value: o.id, selected: o.id === me.org_id }, `${o.name} (${o.role})`)));
      append(nav, [el("label", { for: "org-switch", class: "visually-hidden" }, "Organization"), select]);
    } else {
      append(nav, [el("span", { class: "org", title: "Organization" }, org ? org.name : me.org_id)]);
    }
    append(nav, [el("button", { type: "button", class: "quiet", id: "logout", onclick: logout }, "Log out")]);
  }

  /** Marks the header link of the current page. */
  function markNav() {
    const hash = location.hash || "#/";
    for (const a of document.querySelectorAll("#nav a")) {
      const href = a.getAttribute("href");
      const on = href === "#/" ? hash === "#/" || hash.startsWith("#/endpoints") : hash.startsWith(href);
      if (on) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  /** Acts in another organization from now on (this tab and the next ones). */
  async function switchOrg(id) {
    document.cookie = `scoville_org=${encodeURIComponent(id)}; Path=/; SameSite=Lax; Max-Age=31536000`;
    stopDashboard();
    await loadMe();
    if (location.hash === "#/" || !location.hash) route();
    else location.hash = "#/";
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

  /** The id of the control for API field `name` (`check.url` -> `f-check-url`). */
  const fieldId = (name) => `f-${String(name).replace(/[^A-Za-z0-9_-]/g, "-")}`;

  /** A labelled control with an optional hint and a place for its inline error, both
   * tied to it with aria-describedby. `type` is an input type, "select" (with
   * `opts.options`: [value, label] pairs) or "textarea". */
  function field(name, label, type, extra, opts) {
    const o = opts || {};
    const id = fieldId(name);
    const described = [o.hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
    const attrs = Object.assign({ id, name, "aria-describedby": described }, extra || {});
    let control;
    if (type === "select") {
      control = el("select", attrs, (o.options || []).map(([v, l]) =>
        el("option", { value: v, selected: String(v) === String(o.value ?? "") }, l)));
    } else if (type === "textarea") {
      control = el("textarea", attrs);
      if (o.value !== undefined && o.value !== null) control.value = String(o.value);
    } else {
      control = el("input", Object.assign({ type }, attrs));
      if (type === "checkbox") control.checked = Boolean(o.value);
      else if (o.value !== undefined && o.value !== null) control.value = String(o.value);
    }
    return el("div", { class: `field${type === "checkbox" ? " check" : ""}`, "data-for": name },
      type === "checkbox" ? null : el("label", { for: id }, label),
      control,
      type === "checkbox" ? el("label", { for: id }, label) : null,
      o.hint ? el("p", { class: "hint", id: `${id}-hint` }, o.hint) : null,
      el("p", { class: "field-error", id: `${id}-error`, "aria-live": "polite" }));
  }

  /** A group of checkboxes named `name`, one per [value, label], in a fieldset that
   * takes the inline error of the field `name`. */
  function checkGroup(name, legend, items, checked, hint) {
    const id = fieldId(name);
    const set = new Set(checked || []);
    return el("fieldset", { class: "field group", "data-field": name, id, "aria-describedby": `${id}-error` },
      el("legend", {}, legend),
      hint ? el("p", { class: "hint" }, hint) : null,
      items.length ? items.map(([value, label], i) => el("label", { class: "option" },
        el("input", { type: "checkbox", name, value, id: `${id}-${i}`, checked: set.has(value) }), ` ${label}`))
        : el("p", { class: "hint" }, "None yet."),
      el("p", { class: "field-error", id: `${id}-error`, "aria-live": "polite" }));
  }

  function clearErrors(form) {
    for (const p of form.querySelectorAll(".field-error, .form-error")) p.textContent = "";
    for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  }

  /** The control an API field path names: itself, else without its index
   * (`regions[2]` -> `regions`), else its nearest named parent (`config.to[0]`). */
  function controlFor(form, path) {
    if (!path) return null;
    const find = (n) => form.querySelector(`[name="${CSS.escape(n)}"]:not([type=checkbox]), [data-field="${CSS.escape(n)}"]`);
    let name = String(path);
    while (name) {
      const found = find(name);
      if (found) return { control: found, exact: name === path };
      if (/\[\d+\]$/.test(name)) {
        name = name.replace(/\[\d+\]$/, "");
      } else {
        const dot = name.lastIndexOf(".");
        if (dot < 0) return null;
        name = name.slice(0, dot);
      }
    }
    return null;
  }

  /** Shows an API error next to the field it names (aria-invalid, the message tied to
   * the control), or above the button. */
  function showError(form, e) {
    const fieldName = e.body && e.body.field;
    const found = controlFor(form, fieldName);
    const reason = e.body && e.body.reason;
    let text = e.message;
    if (reason) {
      let what = fieldName;
      if (found && found.exact) {
        const c = found.control;
        const label = c.tagName === "FIELDSET" ? c.querySelector("legend") : form.querySelector(`label[for="${CSS.escape(c.id)}"]`);
        if (label) what = label.textContent;
      }
      text = `${what} ${reason}`;
    }
    if (e.status === 401) text = form.id === "login-form" ? "Wrong email or password." : "Signed out: log in again.";
    if (e.status === 403) text = `Not allowed: ${e.message}.`;
    if (e.status === 409 && form.id === "signup-form") text = "That email already has an account: log in instead.";
    if (e.status === 429) text = `Too many attempts: try again in ${e.retryAfter || "a few"} seconds.`;
    if (found && reason) {
      const c = found.control;
      if (c.tagName !== "FIELDSET") c.setAttribute("aria-invalid", "true");
      document.getElementById(`${c.id}-error`).textContent = text;
      (c.tagName === "FIELDSET" ? c.querySelector("input") || c : c).focus();
    } else {
      form.querySelector(".form-error").textContent = text || "Something went wrong.";
    }
  }

  /** Clears a field's inline error as soon as it is edited. */
  function clearOnInput(form) {
    form.addEventListener("input", (ev) => {
      const c = ev.target.closest("[aria-invalid=true], fieldset.field");
      if (!c) return;
      c.removeAttribute("aria-invalid");
      const p = document.getElementById(`${c.id}-error`);
      if (p) p.textContent = "";
    });
  }

  /** Runs `action` on submit with the button disabled; errors land inline. */
  function onSubmit(form, action) {
    clearOnInput(form);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await action();
      } catch (e) {
        if (e instanceof ApiError) showError(form, e);
        else form.querySelector(".form-error").textContent = String(e.message || e);
      } finally {
        button.disabled = false;
      }
    });
  }

  /** A button that asks once more before `action` (no native dialogs): the first
   * press turns it into "Confirm: …" for five seconds. */
  function confirmButton(label, confirmLabel, action, attrs) {
    let armed = null;
    const b = el("button", Object.assign({ type: "button", class: "danger" }, attrs || {}), label);
    b.addEventListener("click", async () => {
      if (!armed) {
        b.textContent = confirmLabel;
        b.classList.add("armed");
        armed = setTimeout(() => { armed = null; b.textContent = label; b.classList.remove("armed"); }, 5000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      b.disabled = true;
      try {
        await action();
      } finally {
        b.disabled = false;
        b.textContent = label;
        b.classList.remove("armed");
      }
    });
    return b;
  }

  function authForm(kind) {
    const signup = kind === "signup";
    // Arriving from an invitation link (#/join/{token}): sign up with it.
    const joining = (sessionStorage.getItem("scoville.next") || "").match(/^#\/join\/([^/]+)$/);
    const form = el("form", { class: "card", id: `${kind}-form`, novalidate: true },
      el("h1", {}, signup ? "Create your account" : "Log in"),
      field("email", "Email", "email", { autocomplete: "email", required: true }),
      field("password", "Password", "password", {
        autocomplete: signup ? "new-password" : "current-password", required: true, minlength: signup ? 10 : null,
      }),
      signup ? field("org_name", "Organization name", "text", { autocomplete: "organization", required: true }) : null,
      signup ? field("invitation", "Invitation token (if you were invited)", "text", { autocomplete: "off" },
        { value: joining ? decodeURIComponent(joining[1]) : "" }) : null,
      el("p", { class: "form-error", role: "alert" }),
      el("button", { type: "submit" }, signup ? "Sign up" : "Log in"),
      el("p", { class: "switch" },
        signup ? "Already have an account? " : "New here? ",
        el("a", { href: signup ? "#/login" : "#/signup" }, signup ? "Log in" : "Create an account")));
    onSubmit(form, async () => {
      const data = Object.fromEntries(new FormData(form).entries());
      if (signup && String(data.password).length < 10) {
        throw new ApiError(422, { error: "invalid", field: "password", reason: "must be 10-256 characters" });
      }
      if (!data.invitation) delete data.invitation;
      const answer = await api("POST", signup ? "/v1/signup" : "/v1/login", data);
      if (signup && answer.joined_org_id) {
        // The invitation is used up by the sign-up: open the organization it joined.
        document.cookie = `scoville_org=${encodeURIComponent(answer.joined_org_id)}; Path=/; SameSite=Lax; Max-Age=31536000`;
        sessionStorage.removeItem("scoville.next");
      }
      await loadMe();
      const next = sessionStorage.getItem("scoville.next");
      sessionStorage.removeItem("scoville.next");
      location.hash = next || "#/";
      route();
    });
    return form;
  }

  // ---- Dashboard ----------------------------------------------------------------------

  function target(check) {
    if (!check) return "";
    if (check.type === "heartbeat") return `pinged by the job every ${check.period_s} s`;
    return check.url || (check.host ? `${check.host}${check.port ? `:${check.port}` : ""}` : "") || check.name || check.type || "";
  }

  function pill(status) {
    const s = STATUS[status] || STATUS.unknown;
    return el("span", { class: `pill s-${status}` },
      el("span", { class: "icon", "aria-hidden": "true" }, s.icon),
      el("span", { class: "word" }, s.word));
  }

  /** A hand-drawn SVG sparkline of `values` (null: no data that step). */
  function sparkline(values, label, empty) {
    const w = 120, h = 28, pad = 2;
    const node = svg("svg", { class: "spark", viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none", role: "img" });
    const title = svg("title");
    title.textContent = label;
    node.append(title);
    const known = values.filter((v) => typeof v === "number");
    if (known.length < 2) {
      const t = svg("text", { x: 2, y: h / 2 + 3, class: "nodata" });
      t.textContent = empty || "no data yet";
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
      this.endpoints = new Map(); // id -> { endpoint, live, spark }
      this.filter = { text: "", status: "all" };
      this.source = null;
      this.historyTimer = null;
      this.listeners = new Set(); // called with each applied event (the endpoint page)
      this.listed = false; // the endpoint list has arrived
      this.snapshot = false; // the stream's first snapshot has arrived
      this.sparkAbort = null; // aborts the sparklines request in flight
      this.sparkAt = 0; // when the sparklines were last asked for
      this.build();
    }

    /** The dashboard's nodes, built once: they keep updating while another page shows,
     * and `mount()` puts them back. */
    build() {
      this.liveNote = el("span", { class: "live off", id: "live", "aria-live": "polite" }, "Connecting…");
      this.counts = el("ul", { class: "counts", id: "counts", "aria-label": "Endpoints by status" });
      this.search = el("input", {
        type: "search", id: "search", placeholder: "Filter by name, URL or tag", "aria-label": "Filter endpoints",
        oninput: () => { this.filter.text = this.search.value.trim().toLowerCase(); this.render(); },
      });
      this.list = el("ul", { class: "list", id: "endpoints", "aria-label": "Endpoints" });
      this.empty = el("p", { class: "empty", hidden: true });
      this.nodes = [
        el("div", { class: "dash-head" }, el("h1", {}, "Endpoints"), this.liveNote,
          me && me.role === "viewer" ? null : el("a", { class: "button", href: "#/endpoints/new", id: "new-endpoint" }, "＋ New endpoint")),
        this.counts,
        el("div", { class: "tools" }, this.search),
        this.empty,
        this.list,
      ];
    }

    mount() {
      show("Dashboard", this.nodes);
      this.render();
    }

    /** The live status of endpoint `id` ("unknown" before the first event). */
    statusOf(id) {
      const item = this.endpoints.get(id);
      return item ? item.live : null;
    }

    /** First paint comes from whichever answers first, the stream's snapshot (names and
     * statuses) or the endpoint list (targets and tags): both are asked at once. The
     * sparklines, one request for every row, are asked only once both are in, so they
     * never hold up the first paint. */
    async start() {
      this.connect();
      await this.loadEndpoints();
      this.listed = true;
      this.maybeSparklines();
      this.historyTimer = setInterval(() => this.loadSparklines(), 5 * 60 * 1000);
    }

    stop() {
      if (this.source) this.source.close();
      this.source = null;
      if (this.sparkAbort) this.sparkAbort.abort();
      clearInterval(this.historyTimer);
      clearTimeout(this.reloadTimer);
      clearTimeout(this.staleTimer);
    }

    maybeSparklines() {
      if (this.listed && this.snapshot && !this.sparkAt) this.loadSparklines();
    }

    async loadEndpoints() {
      this.listing = true;
      let list;
      try {
        list = await api("GET", "/v1/endpoints");
      } finally {
        this.listing = false;
      }
      const seen = new Set();
      for (const e of list) {
        seen.add(e.id);
        const known = this.endpoints.get(e.id);
        if (known) known.endpoint = e;
        else this.endpoints.set(e.id, { endpoint: e, live: { status: e.paused ? "paused" : "unknown" } });
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
      let stale = false;
      const ids = new Set();
      for (const live of data.endpoints || []) {
        ids.add(live.id);
        const known = this.endpoints.get(live.id);
        if (known) {
          // A status change means new results: redraw the sparklines soon.
          if (known.live.status !== live.status && live.status !== "paused") stale = true;
          known.live = live;
          known.endpoint.name = live.name;
        } else {
          unknownIds = !this.listing && this.listed;
          this.endpoints.set(live.id, { endpoint: { id: live.id, name: live.name }, live });
        }
      }
      for (const id of data.removed || []) this.endpoints.delete(id);
      if (full) for (const id of [...this.endpoints.keys()]) if (!ids.has(id)) this.endpoints.delete(id);
      this.render();
      if (full && !this.snapshot) {
        this.snapshot = true;
        this.maybeSparklines();
      }
      if (stale && this.sparkAt) {
        // At most one sparklines request per 10 s, however many changes.
        clearTimeout(this.staleTimer);
        const wait = Math.max(2000, this.sparkAt + 10000 - Date.now());
        this.staleTimer = setTimeout(() => this.loadSparklines(), wait);
      }
      for (const listener of this.listeners) listener(data);
      if (unknownIds) {
        // New endpoints: fetch their details (target, tags) and sparklines, once.
        clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => this.loadEndpoints().then(() => this.loadSparklines()).catch(() => {}), 500);
      }
    }

    /** Every row's sparkline and uptime in one request (`GET /v1/sparklines`). */
    async loadSparklines() {
      if (this.sparkAbort) this.sparkAbort.abort();
      const abort = new AbortController();
      this.sparkAbort = abort;
      this.sparkAt = Date.now();
      try {
        const resp = await fetch("/v1/sparklines?step=1h", {
          credentials: "same-origin", headers: { Accept: "application/json" }, signal: abort.signal,
        });
        if (!resp.ok) return;
        const data = await resp.json();
        for (const line of data.endpoints || []) {
          const item = this.endpoints.get(line.id);
          if (item) item.spark = line;
        }
        this.render();
      } catch (_) {
        // Aborted (a newer request, or the page went) or unreachable: the rows keep
        // what they show, and the next request tries again.
      } finally {
        if (this.sparkAbort === abort) this.sparkAbort = null;
      }
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
      const rows = shown.map((i) => this.row(i));
      this.list.replaceChildren(...rows);
      this.empty.hidden = shown.length > 0;
      this.empty.replaceChildren(...(this.endpoints.size === 0
        ? ["No endpoints yet. ", el("a", { href: "#/endpoints/new" }, "Create one"),
          " (or through the API, POST /v1/endpoints) and it appears here."]
        : ["No endpoint matches the filter."]));
    }

    row(item) {
      const { endpoint, live, spark } = item;
      const status = live.status in STATUS ? live.status : "unknown";
      const values = (spark && spark.values) || [];
      const p50 = spark && typeof spark.p50_ms === "number" ? `median ${Math.round(spark.p50_ms)} ms` : "no data";
      const uptime = spark && typeof spark.uptime === "number" ? `${(spark.uptime * 100).toFixed(2)}%` : "–";
      const row = el("li", { class: `row s-${status}`, "data-id": endpoint.id, "data-status": status },
        el("div", { class: "status" }, pill(status)),
        el("div", { class: "main" },
          el("div", { class: "name" }, el("a", { href: `#/endpoints/${encodeURIComponent(endpoint.id)}` }, endpoint.name)),
          el("div", { class: "target" }, target(endpoint.check)),
          status === "down" && live.error ? el("div", { class: "error" }, live.error) : null,
          status === "degraded" && live.note ? el("div", { class: "note" }, `⚠ ${live.note}`) : null,
          status === "down" && typeof live.checked_every_s === "number"
            ? el("div", { class: "note backoff" }, `Down for long: checked every ${Math.round(live.checked_every_s / 60)} min until it answers`)
            : null),
        sparkline(values, `Response time, last 24 hours: ${p50}`, spark ? "no data yet" : "…"),
        el("div", { class: "uptime", title: "Uptime, last 24 hours" }, uptime, el("small", {}, "24 h")));
      return row;
    }
  }

  function stopDashboard() {
    if (dashboard) dashboard.stop();
    dashboard = null;
  }

  // ---- Routing ------------------------------------------------------------------------

  const pages = []; // [RegExp, handler(...groups)]
  let leaving = []; // what the current page undoes when another one shows

  /** Registers a page: `handler` gets the pattern's groups, decoded. */
  function page(pattern, handler) {
    pages.push([pattern, handler]);
  }

  /** Registers what to undo (timers, listeners) when the current page is left. */
  function onLeave(fn) {
    leaving.push(fn);
  }

  /** The dashboard's live state, started once per session and org. */
  function live() {
    if (!dashboard) {
      dashboard = new Dashboard();
      dashboard.start().catch((e) => {
        if (e.status === 401) { me = null; location.hash = "#/login"; return; }
        show("Dashboard", el("p", { class: "notice error", role: "alert" }, `Could not load the endpoints: ${e.message}`));
      });
    }
    return dashboard;
  }

  async function route() {
    for (const fn of leaving) fn();
    leaving = [];
    const hash = (location.hash || "#/").startsWith("#/") ? location.hash : "#/";
    if (hash === "#/login" || hash === "#/signup") {
      stopDashboard();
      if (me) { location.hash = "#/"; return; }
      show(hash === "#/login" ? "Log in" : "Sign up", authForm(hash.slice(2)));
      const first = main().querySelector("input");
      if (first) first.focus();
      return;
    }
    if (!me && !(await loadMe())) {
      if (hash !== "#/") sessionStorage.setItem("scoville.next", hash);
      location.hash = "#/login";
      return;
    }
    markNav();
    const d = live();
    for (const [pattern, handler] of pages) {
      const m = hash.match(pattern);
      if (!m) continue;
      try {
        await handler(...m.slice(1).map(decodeURIComponent));
      } catch (e) {
        if (e.status === 401) { me = null; location.hash = "#/login"; return; }
        show("Error", el("p", { class: "notice error", role: "alert" },
          e.status === 404 ? "There is no such thing here (or it belongs to another organization)." : `Could not load this page: ${e.message}`));
      }
      main().focus({ preventScroll: true });
      return;
    }
    d.mount();
  }

  // Shared with endpoint.js and settings.js (loaded after this file).
  window.Scoville = {
    el, append, svg, show, api, ApiError, field, checkGroup, showError, onSubmit, confirmButton,
    pill, target, page, onLeave, STATUS,
    me: () => me,
    live: () => live(),
    reloadEndpoints: () => (dashboard ? dashboard.loadEndpoints().then(() => dashboard.loadSparklines()) : Promise.resolve()),
    loadMe,
    rerender: () => route(),
  };

  window.addEventListener("hashchange", route);
  // Leaving the page closes the stream and aborts what is in flight, so the server does
  // not keep answering a page no one sees; a page back from the back/forward cache
  // starts its dashboard again.
  window.addEventListener("pagehide", () => { if (dashboard) dashboard.stop(); });
  window.addEventListener("pageshow", (ev) => { if (ev.persisted) { stopDashboard(); route(); } });
  document.addEventListener("DOMContentLoaded", async () => {
    // The skip link moves focus; it must not change the hash (that is the router's).
    document.querySelector(".skip").addEventListener("click", (ev) => {
      ev.preventDefault();
      main().focus();
    });
    try {
      await loadMe();
    } catch (e) {
      show("Error", el("p", { class: "notice error", role: "alert" }, `The API does not answer: ${e.message}`));
      return;
    }
    route();
  });
})();
