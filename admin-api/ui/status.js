// Scoville's public status page: reads GET /v1/public/status/{slug} (no login) and
// shows the overall state, each endpoint's state and 90 days of daily uptime, and the
// incidents. Plain DOM: every piece of text goes through textContent, never HTML.
"use strict";

(function () {
  const DAY_MS = 86400000;
  const REFRESH_MS = 60000;
  const main = document.getElementById("main");

  const OVERALL = {
    operational: { icon: "✓", text: "All systems operational" },
    partial_outage: { icon: "!", text: "Partial outage" },
    major_outage: { icon: "✕", text: "Major outage" },
    unknown: { icon: "?", text: "Status unknown" },
  };
  const STATUS = {
    up: { icon: "✓", text: "Operational" },
    degraded: { icon: "!", text: "Degraded" },
    down: { icon: "✕", text: "Down" },
    unknown: { icon: "?", text: "No recent data" },
    paused: { icon: "‖", text: "Paused" },
    incident: { icon: "!", text: "Incident ongoing" },
  };

  // A day's level: at least 99.9 % up is fine, at least 99 % a partial outage, less a
  // major one.
  function level(uptime) {
    if (uptime === null || uptime === undefined) return { key: "none", text: "No data" };
    if (uptime >= 0.999) return { key: "up", text: uptime >= 1 ? "No downtime" : "Minor downtime" };
    if (uptime >= 0.99) return { key: "partial", text: "Partial outage" };
    return { key: "down", text: "Major outage" };
  }

  // Percent, rounded down so that 99.996 % never shows as 100 %.
  function percent(v) {
    if (v === null || v === undefined) return "no data";
    if (v >= 1) return "100%";
    return (Math.floor(v * 10000) / 100).toFixed(2) + "%";
  }

  const dayFormat = new Intl.DateTimeFormat(undefined, {
    timeZone: "UTC", year: "numeric", month: "short", day: "numeric",
  });
  const shortDay = new Intl.DateTimeFormat(undefined, { timeZone: "UTC", month: "short", day: "numeric" });
  const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

  function duration(ms) {
    const min = Math.max(1, Math.round(ms / 60000));
    if (min < 60) return min + " min";
    const h = Math.floor(min / 60), m = min % 60;
    if (h < 48) return h + " h" + (m ? " " + m + " min" : "");
    const d = Math.floor(h / 24), rh = h % 24;
    return d + " d" + (rh ? " " + rh + " h" : "");
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return e;
  }

  function timeEl(ms, format) {
    const d = new Date(ms);
    return el("time", { datetime: d.toISOString(), text: (format || timeFormat).format(d) });
  }

  function slug() {
    const m = location.pathname.match(/^\/status\/([^/]+)\/?$/);
    if (!m) return "";
    try {
      return decodeURIComponent(m[1]);
    } catch (e) {
      return ""; // a malformed %-escape: no such page
    }
  }

  // The day a bar stands for, in words.
  function dayText(page, i, uptime, n) {
    const date = dayFormat.format(new Date(page.days_from_ms + i * DAY_MS));
    const lv = level(uptime);
    const today = i === n - 1 ? " (today, so far)" : "";
    if (lv.key === "none") return date + today + ": no data";
    return date + today + ": " + percent(uptime) + " up, " + lv.text.toLowerCase();
  }

  // Which day each endpoint's bars have selected (keyboard, tap), by position.
  const selected = new Map();

  function bars(page, ep, index) {
    const n = ep.days.length;
    const detail = el("p", { class: "day-detail", id: "day-detail-" + index, "aria-live": "polite" });
    const strip = el("div", {
      class: "bars",
      tabindex: 0,
      role: "group",
      "data-focus": "bars-" + index,
      "aria-describedby": "day-detail-" + index,
    });
    const worst = [];
    let none = 0;
    ep.days.forEach((u, i) => {
      const lv = level(u);
      if (lv.key === "none") none += 1;
      else if (lv.key !== "up") worst.push(shortDay.format(new Date(page.days_from_ms + i * DAY_MS)) + " " + percent(u));
      strip.append(el("span", {
        class: "bar",
        "data-level": lv.key,
        "data-day": new Date(page.days_from_ms + i * DAY_MS).toISOString().slice(0, 10),
        title: dayText(page, i, u, n),
        "aria-hidden": "true",
      }));
    });
    let label = "Uptime by day of " + ep.name + ", last " + n + " days: " + percent(ep.uptime_90d) + " overall.";
    label += worst.length ? " Days with outages: " + worst.join(", ") + "." : " No day with an outage.";
    if (none) label += " No data for " + none + (none === 1 ? " day." : " days.");
    label += " Use the arrow keys to read each day.";
    strip.setAttribute("aria-label", label);

    const show = (i) => {
      const all = strip.children;
      for (let k = 0; k < all.length; k++) all[k].classList.toggle("sel", k === i);
      detail.textContent = dayText(page, i, ep.days[i], n);
      selected.set(index, i);
    };
    const start = selected.has(index) ? Math.min(selected.get(index), n - 1) : n - 1;
    detail.textContent = dayText(page, start, ep.days[start], n);
    if (selected.has(index)) show(start);
    strip.addEventListener("keydown", (ev) => {
      const cur = selected.has(index) ? selected.get(index) : n - 1;
      const next = { ArrowLeft: cur - 1, ArrowRight: cur + 1, Home: 0, End: n - 1, PageUp: cur - 7, PageDown: cur + 7 }[ev.key];
      if (next === undefined) return;
      ev.preventDefault();
      show(Math.max(0, Math.min(n - 1, next)));
    });
    strip.addEventListener("focus", () => show(selected.has(index) ? selected.get(index) : n - 1));
    const pick = (ev) => {
      const i = Array.prototype.indexOf.call(strip.children, ev.target);
      if (i >= 0) show(i);
    };
    strip.addEventListener("mouseover", pick);
    strip.addEventListener("click", pick);

    const scale = el("div", { class: "scale", "aria-hidden": "true" },
      el("span", { class: "long", text: n + " days ago" }),
      el("span", { class: "short", text: "30 days ago" }),
      el("span", { text: "Today" }));
    return [strip, scale, detail];
  }

  function endpointItem(page, ep, index) {
    // An open incident outweighs results that look fine (or that are missing).
    let key = ep.paused ? "paused" : ep.status;
    if (ep.open_incident && (key === "up" || key === "unknown")) key = "incident";
    const st = STATUS[key] || STATUS.unknown;
    const li = el("li", { class: "endpoint", "data-status": key });
    const days = ep.days.length;
    li.append(el("div", { class: "ep-head" },
      el("div", { class: "ep-title" },
        el("h3", { class: "name", text: ep.name }),
        el("span", { class: "uptime", text: ep.uptime_90d === null ? "No data in " + days + " days"
          : percent(ep.uptime_90d) + " uptime, " + days + " days" })),
      el("span", { class: "pill", "data-status": key },
        el("span", { class: "icon", "aria-hidden": "true", text: st.icon }),
        el("span", { class: "word", text: st.text }))));
    li.append(...bars(page, ep, index));
    return li;
  }

  function incidentItem(i) {
    const open = i.status === "open";
    const when = el("p", { class: "when" });
    if (open) {
      when.append("Down since ", timeEl(i.started_at_ms), " · " + duration(i.duration_ms) + " so far");
    } else {
      const sameDay = new Date(i.started_at_ms).toDateString() === new Date(i.resolved_at_ms).toDateString();
      when.append(timeEl(i.started_at_ms), " – ", timeEl(i.resolved_at_ms, sameDay ? clockFormat : timeFormat),
        " · down for " + duration(i.duration_ms));
    }
    return el("li", { class: "incident", "data-status": i.status },
      el("span", { class: "icon", "aria-hidden": "true", text: open ? "✕" : "✓" }),
      el("div", { class: "incident-body" },
        el("p", { class: "what" },
          el("strong", { class: "ep", text: i.endpoint }),
          el("span", { class: "state", text: open ? " — ongoing" : " — resolved" })),
        when));
  }

  function incidents(title, id, list, empty) {
    const section = el("section", { class: "incidents", id, "aria-labelledby": id + "-h" },
      el("h2", { id: id + "-h", text: title }));
    if (!list.length) section.append(el("p", { class: "empty", text: empty }));
    else section.append(el("ul", { class: "incident-list" }, ...list.map(incidentItem)));
    return section;
  }

  function render(page) {
    // Keep the keyboard's place across refreshes.
    const focused = document.activeElement && document.activeElement.getAttribute("data-focus");
    document.title = page.title + " — status";
    const ov = OVERALL[page.overall] || OVERALL.unknown;
    const content = [
      el("header", { class: "page-head" },
        el("h1", { id: "title", text: page.title }),
        el("p", { class: "updated" }, "Updated ", timeEl(page.generated_at_ms, clockFormat))),
      el("div", { class: "banner", id: "overall", role: "status", "data-overall": page.overall },
        el("span", { class: "icon", "aria-hidden": "true", text: ov.icon }),
        el("span", { class: "banner-text", text: ov.text })),
    ];
    if (page.current_incidents.length) {
      content.push(incidents("Current incidents", "current", page.current_incidents, ""));
    }
    const list = el("ul", { class: "endpoint-list" }, ...page.endpoints.map((ep, i) => endpointItem(page, ep, i)));
    content.push(el("section", { id: "endpoints", "aria-labelledby": "endpoints-h" },
      el("div", { class: "section-head" },
        el("h2", { id: "endpoints-h", text: "Services" }),
        legend()),
      page.endpoints.length ? list : el("p", { class: "empty", text: "This page shows no endpoints yet." })));
    if (!page.current_incidents.length) {
      content.push(incidents("Current incidents", "current", [], "No current incidents."));
    }
    content.push(incidents("Past incidents", "past", page.past_incidents, "No incidents in the last 90 days."));
    main.replaceChildren(...content);
    if (focused) {
      const again = main.querySelector("[data-focus=\"" + focused + "\"]");
      if (again) again.focus();
    }
  }

  function legend() {
    const item = (key, text) => el("li", {}, el("span", { class: "swatch", "data-level": key, "aria-hidden": "true" }), text);
    return el("ul", { class: "legend", "aria-label": "Colours of the daily bars" },
      item("up", "No outage"), item("partial", "Partial outage"), item("down", "Major outage"), item("none", "No data"));
  }

  function notFound() {
    document.title = "No status page here";
    main.replaceChildren(
      el("h1", { text: "No status page here" }),
      el("p", { class: "notice", text: "There is no status page at this address. Check the link you followed." }));
  }

  function failed(why) {
    const msg = "The status could not be loaded (" + why + "). Trying again in a minute.";
    const existing = document.getElementById("load-error");
    if (existing) { existing.textContent = msg; return; }
    const note = el("p", { class: "notice error", id: "load-error", role: "alert", text: msg });
    main.prepend(note);
    const loading = document.getElementById("loading");
    if (loading) loading.remove();
  }

  async function load() {
    const s = slug();
    if (!s) { notFound(); return false; }
    let resp;
    try {
      resp = await fetch("/v1/public/status/" + encodeURIComponent(s), {
        headers: { Accept: "application/json" }, credentials: "omit",
      });
    } catch (e) {
      failed("no connection");
      return true;
    }
    if (resp.status === 404) { notFound(); return false; }
    if (!resp.ok) { failed("HTTP " + resp.status); return true; }
    let page;
    try {
      page = await resp.json();
    } catch (e) {
      failed("a bad answer");
      return true;
    }
    render(page);
    return true;
  }

  load().then((again) => {
    if (again) setInterval(load, REFRESH_MS);
  });
})();
