// Scoville's web UI: the endpoint page (#/endpoints/{id}) and the endpoint form
// (#/endpoints/new, #/endpoints/{id}/edit). Charts are hand-drawn SVG.
//
// Rule: user text is only ever put in the page as text (el(), textContent).
"use strict";

(function () {
  const S = window.Scoville;
  const { el, svg, show, api, field, checkGroup, onSubmit, confirmButton, pill } = S;

  const RANGES = [
    // [key, label, span ms, step]
    ["1h", "1 h", 3600e3, "5m"],
    ["24h", "24 h", 86400e3, "15m"],
    ["7d", "7 d", 7 * 86400e3, "1h"],
    ["30d", "30 d", 30 * 86400e3, "6h"],
  ];
  // Colour-blind-safe (Okabe–Ito) region colours; p95 is also dashed, never colour alone.
  const COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#8c8c8c", "#b8860b"];
  const KINDS = [["http", "HTTP(S)"], ["tcp", "TCP"], ["tls", "TLS certificate"], ["dns", "DNS"], ["icmp", "Ping (ICMP)"], ["heartbeat", "Heartbeat (the job pings)"]];
  const PHASES = [["dns_ms", "DNS"], ["connect_ms", "Connect"], ["tls_ms", "TLS"], ["ttfb_ms", "First byte"]];

  const enc = encodeURIComponent;

  function ms(v) {
    if (typeof v !== "number") return "–";
    return v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
  }

  /** A time: only the hour today, with the date otherwise. */
  function when(t) {
    const d = new Date(t);
    if (d.toDateString() === new Date().toDateString()) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function duration(d) {
    const m = Math.round(d / 60000);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h ${m % 60} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  // ---- Charts -------------------------------------------------------------------------

  /** A "nice" upper bound for an axis: a round multiple of a power of ten. */
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 4, 5, 6, 8, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function timeLabel(t, span) {
    const d = new Date(t);
    if (span <= 86400e3) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  }

  /** A line chart: `series` = [{ label, colour, dashed, points: [[t, v|null]] }] over
   * [from, to]; `y` = { max (optional), format }. Gaps (null) break the line. */
  function lineChart(series, from, to, y, title, width) {
    // Drawn at the box's own width, so labels keep their size on a phone.
    const W = Math.max(280, Math.round(width || 720)), H = W < 500 ? 200 : 280, L = 56, R = 12, T = 12, B = 28;
    const ticks = W < 500 ? 2 : 4;
    const node = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
    const t = svg("title");
    t.textContent = title;
    node.append(t);
    const values = series.flatMap((s) => s.points.map((p) => p[1]).filter((v) => typeof v === "number"));
    const top = y.max !== undefined ? y.max : niceMax(Math.max(...values, 0) * 1.05);
    const xOf = (tm) => L + ((tm - from) / Math.max(to - from, 1)) * (W - L - R);
    const yOf = (v) => T + (1 - v / top) * (H - T - B);
    // Grid and y labels.
    for (let i = 0; i <= 4; i += 1) {
      const v = (top * i) / 4;
      const yy = yOf(v);
      node.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: yy, y2: yy }));
      const label = svg("text", { class: "axis", x: L - 6, y: yy + 4, "text-anchor": "end" });
      label.textContent = y.format(v);
      node.append(label);
    }
    // X labels.
    for (let i = 0; i <= ticks; i += 1) {
      const tm = from + ((to - from) * i) / ticks;
      const label = svg("text", { class: "axis", x: xOf(tm), y: H - 8, "text-anchor": i === 0 ? "start" : i === ticks ? "end" : "middle" });
      label.textContent = timeLabel(tm, to - from);
      node.append(label);
    }
    node.append(svg("line", { class: "axis-line", x1: L, x2: L, y1: T, y2: H - B }));
    node.append(svg("line", { class: "axis-line", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    if (!values.length) {
      const none = svg("text", { class: "nodata", x: (L + W - R) / 2, y: (T + H - B) / 2, "text-anchor": "middle" });
      none.textContent = "No checks in this range";
      node.append(none);
      return node;
    }
    for (const s of series) {
      let d = "";
      let run = 0;
      for (const [tm, v] of s.points) {
        if (typeof v !== "number") { run = 0; continue; }
        d += `${run ? "L" : "M"}${xOf(tm).toFixed(1)},${yOf(Math.min(v, top)).toFixed(1)} `;
        run += 1;
      }
      if (!d) continue;
      // A lone point still shows: a tiny segment with round caps.
      if (!/L/.test(d)) d += `l0.1,0`;
      const path = svg("path", {
        d: d.trim(), class: `series${s.dashed ? " dashed" : ""}`, stroke: s.colour, "data-series": s.label,
      });
      const tt = svg("title");
      tt.textContent = s.label;
      path.append(tt);
      node.append(path);
    }
    return node;
  }

  function legend(series) {
    return el("ul", { class: "legend", "aria-label": "Legend" }, series.map((s) =>
      el("li", {},
        (() => {
          const sw = svg("svg", { class: "swatch", viewBox: "0 0 24 8", "aria-hidden": "true" });
          sw.append(svg("line", { x1: 0, x2: 24, y1: 4, y2: 4, stroke: s.colour, class: s.dashed ? "dashed" : "" }));
          return sw;
        })(),
        ` ${s.label}`)));
  }

  /** Stacked bar of one result's phases (and the rest of its total). */
  function phaseBar(timings, scale) {
    const W = 200, H = 14;
    const node = svg("svg", { class: "phases", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", "aria-hidden": "true" });
    let x = 0;
    let known = 0;
    PHASES.forEach(([key], i) => {
      const v = timings[key];
      if (typeof v !== "number" || v <= 0) return;
      known += v;
      const w = (v / scale) * W;
      node.append(svg("rect", { x: x.toFixed(2), y: 0, width: w.toFixed(2), height: H, class: `ph ph${i}` }));
      x += w;
    });
    const rest = Math.max((timings.total_ms || 0) - known, 0);
    if (rest > 0) node.append(svg("rect", { x: x.toFixed(2), y: 0, width: ((rest / scale) * W).toFixed(2), height: H, class: "ph ph-rest" }));
    return node;
  }

  // ---- The endpoint page --------------------------------------------------------------

  function liveStatus(endpoint) {
    const live = S.live().statusOf(endpoint.id);
    if (endpoint.paused) return { status: "paused" };
    return live || { status: "unknown" };
  }

  async function endpointPage(id) {
    const endpoint = await api("GET", `/v1/endpoints/${enc(id)}`);
    const state = { range: sessionStorage.getItem("scoville.range") || "24h" };
    const pillBox = el("span", { class: "status-now", id: "ep-status", "aria-live": "polite" });
    const liveError = el("div", { id: "ep-live-error" });
    const renderStatus = () => {
      const l = liveStatus(endpoint);
      pillBox.replaceChildren(pill(l.status in S.STATUS ? l.status : "unknown"));
      pillBox.setAttribute("data-status", l.status);
      liveError.replaceChildren(...(l.status === "down" && l.error
        ? [el("p", { class: "notice error" }, el("strong", {}, "Open incident: "), l.error)] : []));
    };
    renderStatus();
    const listener = (data) => {
      if ((data.endpoints || []).some((e) => e.id === endpoint.id)) renderStatus();
    };
    S.live().listeners.add(listener);
    S.onLeave(() => S.live().listeners.delete(listener));

    const pauseButton = el("button", { type: "button", class: "secondary", id: "pause" }, endpoint.paused ? "Resume" : "Pause");
    const actionNote = el("p", { class: "form-error", role: "alert" });
    pauseButton.addEventListener("click", async () => {
      pauseButton.disabled = true;
      try {
        const updated = await api("POST", `/v1/endpoints/${enc(id)}/${endpoint.paused ? "resume" : "pause"}`);
        Object.assign(endpoint, updated || { paused: !endpoint.paused });
        pauseButton.textContent = endpoint.paused ? "Resume" : "Pause";
        renderStatus();
        S.reloadEndpoints();
      } catch (e) {
        actionNote.textContent = `Could not ${endpoint.paused ? "resume" : "pause"}: ${e.message}`;
      } finally {
        pauseButton.disabled = false;
      }
    });
    const del = confirmButton("Delete", "Confirm: delete", async () => {
      try {
        await api("DELETE", `/v1/endpoints/${enc(id)}`);
        await S.reloadEndpoints();
        location.hash = "#/";
      } catch (e) {
        actionNote.textContent = `Could not delete: ${e.message}`;
      }
    }, { id: "delete" });

    const rangeButtons = RANGES.map(([key, label]) => el("button", {
      type: "button", class: "seg", "data-range": key, "aria-pressed": String(key === state.range),
      onclick: () => {
        state.range = key;
        sessionStorage.setItem("scoville.range", key);
        for (const b of rangeButtons) b.setAttribute("aria-pressed", String(b.getAttribute("data-range") === key));
        loadCharts();
      },
    }, label));

    const summary = el("dl", { class: "stats", id: "ep-summary" });
    const chartBox = el("div", { class: "chart-box", id: "latency-chart" }, el("p", { class: "loading" }, "Loading…"));
    const apdexBox = el("div", { class: "chart-box", id: "apdex-chart" });
    const regionsBox = el("div", { id: "ep-regions" }, el("p", { class: "loading" }, "Loading…"));
    const timingsBox = el("div", { id: "ep-timings" });
    const errorBox = el("div", { id: "ep-error" });
    const incidentsBox = el("div", { id: "ep-incidents" }, el("p", { class: "loading" }, "Loading…"));
    const heartbeat = endpoint.check.type === "heartbeat" ? heartbeatBox(endpoint) : null;

    show(endpoint.name,
      el("p", { class: "crumbs" }, el("a", { href: "#/" }, "← Dashboard")),
      el("div", { class: "ep-head" },
        el("div", {},
          el("h1", { id: "ep-name" }, endpoint.name),
          el("p", { class: "target" }, `${endpoint.check.type.toUpperCase()} · ${S.target(endpoint.check)}`),
          el("p", { class: "meta" }, endpoint.check.type === "heartbeat"
            ? `Grace ${endpoint.check.grace_s} s · Apdex T ${endpoint.apdex_t_ms} ms (on the run's duration)`
            : `Every ${endpoint.interval_s} s from ${endpoint.regions.join(", ")} · Apdex T ${endpoint.apdex_t_ms} ms`,
            endpoint.tags.length ? ` · tags: ${endpoint.tags.join(", ")}` : "")),
        pillBox),
      // A viewer sees no buttons that could only answer 403.
      S.me().role === "viewer" ? null : el("div", { class: "actions" },
        pauseButton,
        el("a", { class: "button secondary", href: `#/endpoints/${enc(id)}/edit`, id: "edit" }, "Edit"),
        del),
      actionNote,
      liveError,
      heartbeat,
      el("section", { "aria-labelledby": "h-rt" },
        el("div", { class: "section-head" },
          el("h2", { id: "h-rt" }, "Response time"),
          el("div", { class: "segmented", role: "group", "aria-label": "Range" }, rangeButtons)),
        summary,
        chartBox),
      el("section", { "aria-labelledby": "h-apdex" }, el("h2", { id: "h-apdex" }, "Apdex"), apdexBox),
      el("section", { "aria-labelledby": "h-regions" }, el("h2", { id: "h-regions" }, "Regions now"), regionsBox),
      el("section", { "aria-labelledby": "h-err" }, el("h2", { id: "h-err" }, "Latest error"), errorBox),
      el("section", { "aria-labelledby": "h-timings" }, el("h2", { id: "h-timings" }, "Recent checks"), timingsBox),
      el("section", { "aria-labelledby": "h-inc" }, el("h2", { id: "h-inc" }, "Incidents"), incidentsBox));

    let loads = 0;
    async function loadCharts() {
      const mine = ++loads;
      const [, , span, step] = RANGES.find((r) => r[0] === state.range) || RANGES[1];
      const to = Date.now();
      const from = to - span;
      const q = `from=${from}&to=${to}&step=${step}`;
      const base = `/v1/endpoints/${enc(id)}/history?${q}`;
      let all, perRegion;
      try {
        [all, ...perRegion] = await Promise.all([
          api("GET", base),
          ...endpoint.regions.map((r) => api("GET", `${base}&region=${enc(r)}`).catch(() => null)),
        ]);
      } catch (e) {
        if (mine === loads) chartBox.replaceChildren(el("p", { class: "notice error" }, `No history: ${e.message}`));
        return;
      }
      if (mine !== loads) return;
      const sm = all.summary || {};
      const stat = (k, v) => el("div", {}, el("dt", {}, k), el("dd", {}, v));
      summary.replaceChildren(
        stat("Uptime", typeof sm.uptime === "number" ? `${(sm.uptime * 100).toFixed(2)}%` : "–"),
        stat("Apdex", typeof sm.apdex === "number" ? sm.apdex.toFixed(2) : "–"),
        stat("p50", ms(sm.p50_ms)),
        stat("p95", ms(sm.p95_ms)),
        stat("Checks", String(sm.count || 0)));
      const half = all.step_ms / 2;
      const series = [];
      endpoint.regions.forEach((region, i) => {
        const h = perRegion[i];
        if (!h) return;
        const colour = COLOURS[i % COLOURS.length];
        const pts = (k) => h.steps.map((s) => [s.start_ms + half, s[k]]);
        series.push({ label: `${region} p50`, colour, dashed: false, points: pts("p50_ms") });
        series.push({ label: `${region} p95`, colour, dashed: true, points: pts("p95_ms") });
      });
      const label = RANGES.find((r) => r[0] === state.range)[1];
      draw = () => drawCharts(series, all, from, to, half, label);
      draw();
    }

    let draw = null;
    let resizeTimer = null;
    const onResize = () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (draw) draw(); }, 200);
    };
    window.addEventListener("resize", onResize);
    S.onLeave(() => { window.removeEventListener("resize", onResize); clearTimeout(resizeTimer); });

    function drawCharts(series, all, from, to, half, label) {
      chartBox.replaceChildren(
        lineChart(series, from, to, { format: (v) => ms(v) }, `Response time over the last ${label}: p50 (solid) and p95 (dashed) per region`, chartBox.clientWidth - 16),
        legend(series));
      const apdex = [{ label: "Apdex", colour: COLOURS[2], dashed: false, points: all.steps.map((s) => [s.start_ms + half, s.apdex]) }];
      apdexBox.replaceChildren(
        lineChart(apdex, from, to, { max: 1, format: (v) => v.toFixed(2) }, `Apdex over the last ${label} (1 is every check satisfied)`, apdexBox.clientWidth - 16),
        el("p", { class: "hint" }, `Satisfied under ${endpoint.apdex_t_ms} ms, tolerating under ${4 * endpoint.apdex_t_ms} ms.`));
    }

    async function loadResults() {
      let results;
      try {
        results = (await api("GET", `/v1/endpoints/${enc(id)}/results?limit=200&from=${Date.now() - 86400e3}`)).results || [];
      } catch (e) {
        regionsBox.replaceChildren(el("p", { class: "notice error" }, `No results: ${e.message}`));
        return;
      }
      // Each region's newest result.
      const latest = new Map();
      for (const r of results) if (!latest.has(r.region)) latest.set(r.region, r);
      const word = (r) => (r.outcome === "up" ? "up" : r.outcome === "warning" ? "degraded" : "down");
      regionsBox.replaceChildren(el("div", { class: "scroll" }, el("table", { class: "table", id: "regions-table" },
        el("thead", {}, el("tr", {}, ["Region", "Status", "Last check", "Time", "Answer"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, endpoint.regions.map((region) => {
          const r = latest.get(region);
          return el("tr", { "data-region": region },
            el("th", { scope: "row" }, region),
            el("td", {}, pill(r ? word(r) : "unknown")),
            el("td", {}, r ? when(r.started_at_ms) : "no check in 24 h"),
            el("td", { class: "num" }, r ? ms(r.timings.total_ms) : "–"),
            el("td", { class: "msg" }, r ? r.message : ""));
        })))));
      const failed = results.find((r) => !r.up);
      errorBox.replaceChildren(failed
        ? el("div", { class: "latest-error" },
          el("p", {}, el("strong", {}, failed.message), failed.reason ? ` (${failed.reason})` : ""),
          el("p", { class: "meta" }, `${when(failed.started_at_ms)} from ${failed.region}`, failed.status ? ` · HTTP ${failed.status}` : ""))
        : el("p", { class: "empty" }, "No failed check in the last 24 hours."));
      const recent = results.slice(0, 12);
      const scale = Math.max(...recent.map((r) => r.timings.total_ms || 0), 1);
      timingsBox.replaceChildren(recent.length
        ? el("div", { class: "scroll" },
          el("ul", { class: "legend", "aria-label": "Phases" },
            [...PHASES.map(([, l], i) => [l, `ph${i}`]), ["Rest (body, redirects)", "ph-rest"]].map(([l, c]) =>
              el("li", {}, (() => { const s = svg("svg", { class: "swatch", viewBox: "0 0 12 12", "aria-hidden": "true" }); s.append(svg("rect", { width: 12, height: 12, class: `ph ${c}` })); return s; })(), ` ${l}`))),
          el("table", { class: "table", id: "timings-table" },
            el("thead", {}, el("tr", {}, ["When", "Region", ...PHASES.map((p) => p[1]), "Total", "Breakdown"].map((h) => el("th", { scope: "col" }, h)))),
            el("tbody", {}, recent.map((r) => el("tr", {},
              el("td", {}, new Date(r.started_at_ms).toLocaleTimeString()),
              el("td", {}, r.region),
              PHASES.map(([k]) => el("td", { class: "num" }, ms(r.timings[k]))),
              el("td", { class: "num" }, el("strong", {}, ms(r.timings.total_ms)), r.up ? "" : el("span", { class: "bad" }, " ✖ failed")),
              el("td", { class: "bar" }, phaseBar(r.timings, scale)))))))
        : el("p", { class: "empty" }, "No checks yet."));
    }

    async function loadIncidents() {
      let page;
      try {
        page = await api("GET", `/v1/incidents?endpoint_id=${enc(id)}&limit=20`);
      } catch (e) {
        incidentsBox.replaceChildren(el("p", { class: "notice error" }, `No incident log: ${e.message}`));
        return;
      }
      const list = page.incidents || [];
      incidentsBox.replaceChildren(list.length
        ? el("ol", { class: "timeline", id: "incidents" }, list.map((i) => el("li", { class: `s-${i.status === "open" ? "down" : "up"}` },
          el("div", { class: "tl-head" },
            pill(i.status === "open" ? "down" : "up"),
            el("strong", {}, i.status === "open" ? " Ongoing" : " Resolved"),
            ` · ${duration(i.duration_ms)}`),
          el("p", { class: "meta" }, `Started ${when(i.started_at_ms)} · confirmed ${when(i.confirmed_at_ms)}`,
            i.resolved_at_ms ? ` · resolved ${when(i.resolved_at_ms)}` : "",
            i.regions.length ? ` · ${i.regions.join(", ")}` : ""),
          i.error ? el("p", { class: "error" }, i.error) : null)))
        : el("p", { class: "empty" }, "No incidents. "));
    }

    await Promise.all([loadCharts(), loadResults(), loadIncidents()]);
    const timer = setInterval(() => { loadResults(); loadIncidents(); }, 60000);
    S.onLeave(() => clearInterval(timer));
  }

  // ---- A heartbeat's ping URL and state ----------------------------------------------

  function heartbeatBox(endpoint) {
    const id = endpoint.id;
    const urlBox = el("div", { id: "ping-url" });
    const showUrl = (url) => urlBox.replaceChildren(
      el("p", { class: "notice" }, el("strong", {}, "Ping URL (shown once; keep it secret): ")),
      el("pre", { class: "code", id: "ping-url-text" }, url),
      el("p", { class: "meta" }, "Call it when the job finishes (POST a report to have it judged); append /start when it starts and /fail when it fails."));
    const fresh = sessionStorage.getItem(`scoville.ping.${id}`);
    if (fresh) {
      sessionStorage.removeItem(`scoville.ping.${id}`);
      showUrl(fresh);
    }
    const stateBox = el("p", { id: "heartbeat-state", class: "meta" }, "Loading…");
    api("GET", `/v1/endpoints/${enc(id)}/heartbeat`).then((h) => {
      stateBox.setAttribute("data-status", h.status);
      stateBox.replaceChildren(el("strong", {}, `Heartbeat: ${h.status}`),
        h.last_ping_ms ? ` · last ping ${when(h.last_ping_ms)}` : " · never pinged",
        h.next_due_ms ? ` · next due ${when(h.next_due_ms)}` : "",
        ` · expected every ${endpoint.check.period_s} s, grace ${endpoint.check.grace_s} s`);
    }).catch((e) => { stateBox.textContent = `Heartbeat state unavailable: ${e.message}`; });
    const note = el("p", { class: "form-error", role: "alert" });
    const rotate = S.me().role === "viewer" ? null : confirmButton("New ping URL", "Confirm: the old URL stops working", async () => {
      try {
        const t = await api("POST", `/v1/endpoints/${enc(id)}/ping-token`);
        showUrl(t.ping_url);
      } catch (e) {
        note.textContent = `Could not issue a new URL: ${e.message}`;
      }
    }, { id: "new-ping-url" });
    return el("section", { "aria-labelledby": "h-hb" }, el("h2", { id: "h-hb" }, "Heartbeat"), stateBox, urlBox,
      rotate ? el("div", { class: "actions" }, rotate) : null, note);
  }

  // ---- The endpoint form --------------------------------------------------------------

  const list = (v) => String(v || "").split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
  /** A number when the text is one (else the text, for the API to name the field). */
  const num = (v) => (String(v).trim() === "" ? undefined : Number.isFinite(Number(v)) ? Number(v) : String(v));

  async function endpointForm(id) {
    const existing = id ? await api("GET", `/v1/endpoints/${enc(id)}`) : null;
    const channels = await api("GET", "/v1/channels").catch(() => []);
    const e = existing || { check: { type: "http" }, regions: [], tags: [], channels: [] };
    const c = e.check;
    const kind = field("check.type", "Check", "select", { required: true }, { options: KINDS, value: c.type });
    const kindFields = {
      http: [
        field("check.url", "URL", "url", { placeholder: "https://example.com/health", required: true, autocomplete: "url" }, { value: c.url }),
        field("check.method", "Method", "select", {}, { options: ["GET", "HEAD", "POST", "PUT", "OPTIONS"].map((m) => [m, m]), value: c.method || "GET" }),
      ],
      host: [field("check.host", "Host", "text", { placeholder: "db.example.com", required: true }, { value: c.host })],
      port: [field("check.port", "Port", "number", { min: 1, max: 65535, inputmode: "numeric" }, { value: c.port })],
      dns: [
        field("check.name", "Name to resolve", "text", { placeholder: "example.com", required: true }, { value: c.type === "dns" ? c.name : "" }),
        field("check.record_type", "Record type", "select", {}, { options: ["A", "AAAA", "CNAME", "MX", "TXT", "NS"].map((m) => [m, m]), value: c.record_type || "A" }),
      ],
    };
    kindFields.heartbeat = [el("div", { class: "row2" },
      field("check.period_s", "Expected every (s)", "number", { min: 30, inputmode: "numeric", required: true }, { value: c.period_s ?? 3600 }),
      field("check.grace_s", "Grace (s)", "number", { min: 0, inputmode: "numeric" }, { value: c.grace_s ?? 60, hint: "How late a ping may be." }))];
    const show_ = { http: ["http"], tcp: ["host", "port"], tls: ["host", "port"], dns: ["dns"], icmp: ["host"], heartbeat: ["heartbeat"] };
    const kindBox = el("div", { class: "kind-fields" });
    // What only probed checks have (a heartbeat is pushed by the job).
    const probed = el("div", { class: "probed" });
    const renderKind = () => {
      const k = kind.querySelector("select").value;
      kindBox.replaceChildren(...show_[k].flatMap((f) => kindFields[f]));
      probed.hidden = k === "heartbeat";
      for (const i of probed.querySelectorAll("input")) i.disabled = k === "heartbeat";
    };
    kind.querySelector("select").addEventListener("change", renderKind);

    const form = el("form", { class: "card wide", id: "endpoint-form", novalidate: true },
      el("h1", {}, existing ? `Edit ${existing.name}` : "New endpoint"),
      field("name", "Name", "text", { required: true, maxlength: 200 }, { value: e.name }),
      kind,
      kindBox,
      probed,
      field("apdex_t_ms", "Apdex T (ms)", "number", { min: 1, inputmode: "numeric" }, { value: e.apdex_t_ms ?? 500 }),
      field("tags", "Tags", "text", { placeholder: "prod, shop" }, { value: e.tags.join(", "), hint: "Letters, digits or - _ . : /, separated by commas." }),
      checkGroup("channels", "Alert channels", channels.map((ch) => [ch.id, `${ch.name} (${ch.type})`]), e.channels),
      existing ? field("paused", "Paused (not checked)", "checkbox", {}, { value: e.paused }) : null,
      el("p", { class: "form-error", role: "alert" }),
      el("div", { class: "actions" },
        el("button", { type: "submit" }, existing ? "Save" : "Create endpoint"),
        el("a", { class: "button secondary", href: existing ? `#/endpoints/${enc(id)}` : "#/" }, "Cancel")));

    probed.append(
      field("check.timeout_ms", "Timeout (ms)", "number", { min: 1, max: 120000, inputmode: "numeric" }, { value: c.timeout_ms, hint: "10 000 by default." }),
      field("regions", "Regions", "text", { required: true, placeholder: "eu-west-1, us-east-1" },
        { value: e.regions.join(", "), hint: "Where the checks run from, separated by commas." }),
      field("interval_s", "Interval (s)", "number", { min: 30, max: 3600, inputmode: "numeric" }, { value: e.interval_s ?? 60 }),
      el("div", { class: "row2" },
        field("confirm_regions", "Regions that must agree", "number", { min: 1, max: 16, inputmode: "numeric" }, { value: e.confirm_regions ?? 1 }),
        field("failure_threshold", "Failed rounds before down", "number", { min: 1, max: 50, inputmode: "numeric" }, { value: e.failure_threshold ?? 1 })));
    renderKind();

    onSubmit(form, async () => {
      const data = new FormData(form);
      const get = (k) => (data.get(k) === null ? "" : String(data.get(k)));
      const type = get("check.type");
      // Start from what is stored, so fields this form does not show (assertions,
      // headers, ...) are kept; a new kind starts afresh.
      const check = existing && existing.check.type === type ? Object.assign({}, existing.check) : { type };
      for (const k of ["url", "method", "host", "name", "record_type"]) {
        if (data.has(`check.${k}`)) check[k] = get(`check.${k}`).trim();
      }
      if (data.has("check.port")) { const p = num(get("check.port")); if (p === undefined) delete check.port; else check.port = p; }
      for (const k of ["period_s", "grace_s"]) {
        if (data.has(`check.${k}`)) { const v = num(get(`check.${k}`)); if (v === undefined) delete check[k]; else check[k] = v; }
      }
      const t = num(get("check.timeout_ms"));
      if (t === undefined || type === "heartbeat") delete check.timeout_ms; else check.timeout_ms = t;
      const body = existing ? Object.assign({}, existing) : {};
      delete body.id;
      delete body.org_id;
      Object.assign(body, {
        name: get("name"),
        check,
        regions: list(get("regions")),
        tags: list(get("tags")),
        channels: data.getAll("channels").map(String),
      });
      for (const k of ["interval_s", "apdex_t_ms", "confirm_regions", "failure_threshold"]) {
        const v = num(get(k));
        if (v === undefined) delete body[k]; else body[k] = v;
      }
      // A heartbeat has no regions (the job pings), nor does it take the probed fields.
      if (type === "heartbeat") for (const k of ["regions", "confirm_regions", "failure_threshold", "interval_s"]) delete body[k];
      if (existing) body.paused = data.has("paused");
      const saved = existing
        ? await api("PUT", `/v1/endpoints/${enc(id)}`, body)
        : await api("POST", "/v1/endpoints", body);
      await S.reloadEndpoints();
      // A new heartbeat's ping URL is shown once, on its page.
      if (saved.ping_url) sessionStorage.setItem(`scoville.ping.${saved.id}`, saved.ping_url);
      location.hash = `#/endpoints/${enc(saved.id)}`;
    });
    show(existing ? `Edit ${existing.name}` : "New endpoint",
      el("p", { class: "crumbs" }, el("a", { href: existing ? `#/endpoints/${enc(id)}` : "#/" }, existing ? "← Back" : "← Dashboard")),
      form);
    form.querySelector("input").focus();
  }

  S.page(/^#\/endpoints\/new$/, () => endpointForm(null));
  S.page(/^#\/endpoints\/([^/]+)\/edit$/, (id) => endpointForm(id));
  S.page(/^#\/endpoints\/([^/]+)$/, (id) => endpointPage(id));
})();
