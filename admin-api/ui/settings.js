// Scoville's web UI: alert channels (#/channels), maintenance windows (#/maintenance),
// public status pages (#/status-pages), members and invitations (#/members,
// #/join/{token}), result hooks (#/hooks), and API keys and probe tokens (#/api-keys).
//
// Rule: user text is only ever put in the page as text (el(), textContent).
"use strict";

(function () {
  const S = window.Scoville;
  const { el, show, api, field, checkGroup, onSubmit, confirmButton } = S;
  const enc = encodeURIComponent;

  // Each kind's fields: [name, label, type, attrs, hint].
  const CHANNEL_KINDS = {
    webhook: ["Webhook (signed JSON)", [
      ["url", "URL", "url", { required: true, placeholder: "https://example.com/hooks/scoville" }],
      ["secret", "Signing secret", "password", { autocomplete: "off" }, "Optional: signs each request (X-Scoville-Signature)."],
    ]],
    slack: ["Slack", [["webhook_url", "Incoming webhook URL", "url", { required: true, placeholder: "https://hooks.slack.com/services/…" }]]],
    discord: ["Discord", [
      ["webhook_url", "Webhook URL", "url", { required: true }],
      ["username", "Bot name", "text", {}, "Optional."],
    ]],
    teams: ["Microsoft Teams", [["webhook_url", "Webhook URL", "url", { required: true }]]],
    email: ["Email (SMTP)", [
      ["to", "To", "text", { required: true, placeholder: "ops@example.com" }, "One or more addresses, separated by commas."],
      ["from", "From", "text", { required: true, placeholder: "Scoville <alerts@example.com>" }],
      ["smtp_host", "SMTP host", "text", { required: true }],
      ["smtp_port", "SMTP port", "number", { placeholder: "587", inputmode: "numeric" }],
      ["starttls", "Security", "select", {}, null, [["required", "STARTTLS required"], ["opportunistic", "STARTTLS if offered"], ["none", "None (trusted local relay)"]]],
      ["username", "SMTP user", "text", { autocomplete: "off" }, "Optional."],
      ["password", "SMTP password", "password", { autocomplete: "off" }, "Optional."],
    ]],
    matrix: ["Matrix", [
      ["homeserver", "Homeserver URL", "url", { required: true, placeholder: "https://matrix.example.org" }],
      ["room_id", "Room id", "text", { required: true, placeholder: "!abc:example.org" }],
      ["access_token", "Access token", "password", { required: true, autocomplete: "off" }],
    ]],
    telegram: ["Telegram", [
      ["bot_token", "Bot token", "password", { required: true, autocomplete: "off" }],
      ["chat_id", "Chat id", "text", { required: true }],
    ]],
    pagerduty: ["PagerDuty", [["routing_key", "Routing key", "password", { required: true, autocomplete: "off" }]]],
  };

  const canWrite = () => { const me = S.me(); return me && me.role !== "viewer"; };

  function when(t) {
    return new Date(t).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function table(id, headers, rows, emptyText) {
    if (!rows.length) return el("p", { class: "empty", id }, emptyText);
    return el("div", { class: "scroll" }, el("table", { class: "table", id },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)));
  }

  /** The notice under a row's buttons (aria-live, so the result is read out). */
  const note = () => el("span", { class: "note", role: "status" });

  // ---- Channels -----------------------------------------------------------------------

  async function channelsPage() {
    const channels = await api("GET", "/v1/channels");
    const rows = channels.map((ch) => {
      const result = note();
      const test = el("button", { type: "button", class: "secondary", "data-test": ch.id }, "Send a test notification");
      test.addEventListener("click", async () => {
        test.disabled = true;
        result.className = "note";
        result.textContent = "Sending…";
        try {
          await api("POST", `/v1/channels/${enc(ch.id)}/test`);
          result.className = "note ok";
          result.textContent = "✔ Sent: the channel took it.";
        } catch (e) {
          result.className = "note bad";
          result.textContent = `✖ Not sent: ${(e.body && e.body.error) || e.message}`;
        } finally {
          test.disabled = false;
        }
      });
      return el("tr", { "data-id": ch.id },
        el("th", { scope: "row" }, ch.name),
        el("td", {}, (CHANNEL_KINDS[ch.type] || [ch.type])[0]),
        el("td", { class: "row-actions" }, canWrite() ? [test,
          confirmButton("Delete", "Confirm: delete", async () => {
            await api("DELETE", `/v1/channels/${enc(ch.id)}`).catch((e) => { result.textContent = `✖ ${e.message}`; });
            S.rerender();
          })] : null, result));
    });

    const kind = field("config.type", "Kind", "select", {}, {
      options: Object.entries(CHANNEL_KINDS).map(([k, [label]]) => [k, label]), value: "webhook",
    });
    const kindBox = el("div", { class: "kind-fields" });
    const renderKind = () => {
      const [, fields] = CHANNEL_KINDS[kind.querySelector("select").value];
      kindBox.replaceChildren(...fields.map(([name, label, type, attrs, hint, options]) =>
        field(`config.${name}`, label, type, attrs, { hint, options })));
    };
    kind.querySelector("select").addEventListener("change", renderKind);
    renderKind();
    const form = el("form", { class: "card wide", id: "channel-form", novalidate: true },
      el("h2", {}, "Add a channel"),
      field("name", "Name", "text", { required: true, maxlength: 100, placeholder: "On-call" }),
      kind, kindBox,
      el("p", { class: "form-error", role: "alert" }),
      el("button", { type: "submit" }, "Add channel"));
    onSubmit(form, async () => {
      const data = new FormData(form);
      const config = {};
      for (const [k, v] of data.entries()) {
        if (!k.startsWith("config.")) continue;
        const key = k.slice(7);
        const text = String(v).trim();
        if (text === "" && key !== "type") continue;
        if (key === "to") config.to = text.split(/[\s,;]+/).filter(Boolean);
        else if (key === "smtp_port") config.smtp_port = Number.isFinite(Number(text)) ? Number(text) : text;
        else config[key] = text;
      }
      await api("POST", "/v1/channels", { name: String(data.get("name")), config });
      S.rerender();
    });
    show("Alert channels",
      el("h1", {}, "Alert channels"),
      el("p", { class: "lead" }, "Where notices go when an endpoint goes down, recovers or flaps. Their secrets are never shown again after saving."),
      table("channels", ["Name", "Kind", ""], rows, "No channels yet: add one below."),
      canWrite() ? form : null);
  }

  // ---- Maintenance --------------------------------------------------------------------

  /** `datetime-local` text for a time (local). */
  function localInput(t) {
    const d = new Date(t - new Date(t).getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 16);
  }

  async function maintenancePage() {
    const [windows, endpoints] = await Promise.all([api("GET", "/v1/maintenance"), api("GET", "/v1/endpoints")]);
    const names = new Map(endpoints.map((e) => [e.id, e.name]));
    const now = Date.now();
    const rows = windows.sort((a, b) => a.from_ms - b.from_ms).map((w) => {
      const state = w.to_ms <= now ? "Over" : w.from_ms <= now ? "Now" : "Planned";
      return el("tr", { "data-id": w.id },
        el("td", {}, el("span", { class: `tag t-${state.toLowerCase()}` }, state)),
        el("td", {}, `${when(w.from_ms)} → ${when(w.to_ms)}`),
        el("td", {}, w.endpoint_ids.length ? w.endpoint_ids.map((id) => names.get(id) || id).join(", ") : "All endpoints"),
        el("td", {}, w.reason),
        el("td", { class: "row-actions" }, canWrite() ? confirmButton("Delete", "Confirm: delete", async () => {
          await api("DELETE", `/v1/maintenance/${enc(w.id)}`);
          S.rerender();
        }) : null));
    });
    const start = now - (now % 3600e3) + 3600e3;
    const form = el("form", { class: "card wide", id: "maintenance-form", novalidate: true },
      el("h2", {}, "Plan a window"),
      el("div", { class: "row2" },
        field("from_ms", "From", "datetime-local", { required: true }, { value: localInput(start) }),
        field("to_ms", "To", "datetime-local", { required: true }, { value: localInput(start + 3600e3), hint: "At most 31 days after the start." })),
      checkGroup("endpoint_ids", "Endpoints", endpoints.map((e) => [e.id, e.name]), [], "None checked: every endpoint."),
      field("reason", "Reason", "text", { maxlength: 500, placeholder: "Database upgrade" }),
      el("p", { class: "form-error", role: "alert" }),
      el("button", { type: "submit" }, "Add window"));
    onSubmit(form, async () => {
      const data = new FormData(form);
      const t = (k) => { const v = Date.parse(String(data.get(k))); return Number.isFinite(v) ? v : 0; };
      await api("POST", "/v1/maintenance", {
        from_ms: t("from_ms"), to_ms: t("to_ms"),
        endpoint_ids: data.getAll("endpoint_ids").map(String),
        reason: String(data.get("reason") || "").trim(),
      });
      S.rerender();
    });
    show("Maintenance",
      el("h1", {}, "Maintenance windows"),
      el("p", { class: "lead" }, "Notices about the endpoints in a window are muted while it lasts; their status keeps moving."),
      table("windows", ["", "When", "Endpoints", "Reason", ""], rows, "No maintenance windows."),
      canWrite() ? form : null);
  }

  // ---- Status pages -------------------------------------------------------------------

  /** A slug suggested by a title: lower case, `-` between words, at most 64 long. */
  function slugOf(title) {
    return title.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64).replace(/-+$/, "");
  }

  async function statusPagesPage() {
    const [pages, endpoints] = await Promise.all([api("GET", "/v1/status-pages"), api("GET", "/v1/endpoints")]);
    const names = new Map(endpoints.map((e) => [e.id, e.name]));
    const byName = [...endpoints].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: "base" }));
    const editor = el("div", { id: "status-page-editor" });
    const rows = pages.map((p) => {
      // Deleted endpoints drop off the public page; an id listed twice shows once.
      const shown = [...new Set(p.endpoint_ids)].filter((id) => names.has(id));
      const path = `/status/${enc(p.slug)}`;
      const edit = el("button", { type: "button", class: "secondary", "data-edit": p.id }, "Edit");
      edit.addEventListener("click", () => {
        editor.replaceChildren(pageForm(p));
        editor.querySelector("[name=title]").focus();
      });
      return el("tr", { "data-id": p.id, "data-slug": p.slug },
        el("th", { scope: "row" }, p.title),
        el("td", {}, el("a", { href: path, class: "mono public-link", title: "Open the public page" }, path)),
        el("td", { class: "page-eps", "data-count": shown.length },
          el("span", { class: "count" }, String(shown.length)),
          shown.length ? el("span", { class: "msg" }, shown.map((id) => names.get(id)).join(", ")) : null),
        el("td", { class: "row-actions" }, canWrite() ? [edit,
          confirmButton("Delete", "Confirm: delete", async () => {
            await api("DELETE", `/v1/status-pages/${enc(p.id)}`);
            S.rerender();
          })] : null));
    });

    /** The form adding a page, or editing `page`. */
    function pageForm(page) {
      // Editing: the page's endpoints first, in its order (the order shown publicly).
      const order = page ? [...new Set(page.endpoint_ids)].filter((id) => names.has(id)) : [];
      const items = [...order.map((id) => [id, names.get(id)]),
        ...byName.filter((e) => !order.includes(e.id)).map((e) => [e.id, e.name])];
      const form = el("form", { class: "card wide", id: "status-page-form", novalidate: true, "data-editing": page ? page.id : null },
        el("h2", {}, page ? `Edit “${page.title}”` : "Add a status page"),
        field("title", "Title", "text", { required: true, maxlength: 200, placeholder: "Acme status" },
          { value: page ? page.title : "", hint: "Shown publicly, at the top of the page." }),
        field("slug", "Public address", "text", { required: true, maxlength: 64, placeholder: "acme-status", autocomplete: "off", spellcheck: "false", class: "mono" },
          { value: page ? page.slug : "", hint: " " }),
        checkGroup("endpoint_ids", "Endpoints", items, order, "Shown in the order listed here. Anyone with the address sees their names, states, daily uptime and the times of their incidents."),
        el("p", { class: "form-error", role: "alert" }),
        el("div", { class: "actions" },
          el("button", { type: "submit" }, page ? "Save changes" : "Add status page"),
          page ? el("button", { type: "button", class: "quiet", id: "cancel-edit", onclick: () => editor.replaceChildren(pageForm(null)) }, "Cancel") : null));
      const title = form.querySelector("[name=title]");
      const slug = form.querySelector("[name=slug]");
      // The hint shows the page's address as it is typed.
      const hint = form.querySelector("#f-slug-hint");
      const address = () => {
        const typed = slug.value.trim().toLowerCase();
        hint.textContent = `3-64 lower-case letters, digits or “-”. The page's address: ${location.origin}/status/${typed || "…"}`;
      };
      address();
      // A new page's slug follows its title until it is typed in.
      let slugTyped = Boolean(page);
      slug.addEventListener("input", () => { slugTyped = slug.value !== ""; address(); });
      title.addEventListener("input", () => {
        if (!slugTyped) { slug.value = slugOf(title.value); address(); }
      });
      onSubmit(form, async () => {
        const data = new FormData(form);
        const body = {
          title: String(data.get("title") || "").trim(),
          slug: String(data.get("slug") || "").trim(),
          endpoint_ids: data.getAll("endpoint_ids").map(String),
        };
        try {
          if (page) await api("PUT", `/v1/status-pages/${enc(page.id)}`, body);
          else await api("POST", "/v1/status-pages", body);
        } catch (e) {
          // Another page (maybe another org's) has the address: say so at the field.
          if (e.status === 409) throw new S.ApiError(422, { error: e.message, field: "slug", reason: "is taken: choose another." });
          throw e;
        }
        S.rerender();
      });
      return form;
    }

    if (canWrite()) editor.replaceChildren(pageForm(null));
    show("Status pages",
      el("h1", {}, "Status pages"),
      el("p", { class: "lead" }, "Public pages showing chosen endpoints' state, 90 days of daily uptime and incidents, without a login. Nothing else of the organization is shown: no addresses, errors or regions."),
      table("status-pages", ["Title", "Public page", "Endpoints", ""], rows, "No status pages yet."),
      editor);
  }

  // ---- Members ------------------------------------------------------------------------

  const ROLES = [["viewer", "Viewer (read only)"], ["admin", "Admin"], ["owner", "Owner"]];

  async function membersPage() {
    const members = await api("GET", "/v1/members");
    const me = S.me();
    const owners = members.filter((m) => m.role === "owner").length;
    const mayChange = (m) => canWrite() && (me.role === "owner" || m.role !== "owner");
    // The last owner stays (the API refuses): no button that can only fail.
    const mayRemove = (m) => mayChange(m) && !(m.role === "owner" && owners <= 1);
    const rows = members.map((m) => {
      const result = note();
      const self = m.user_id === me.user_id;
      let role = el("span", {}, m.role);
      if (mayChange(m)) {
        role = el("select", { "aria-label": `Role of ${m.email}`, "data-member": m.user_id },
          ROLES.filter(([r]) => r !== "owner" || me.role === "owner").map(([r, l]) => el("option", { value: r, selected: r === m.role }, l)));
        role.addEventListener("change", async () => {
          try {
            await api("PUT", `/v1/members/${enc(m.user_id)}`, { role: role.value });
            result.className = "note ok";
            result.textContent = "✔ Saved.";
            if (self) await S.loadMe();
          } catch (e) {
            result.className = "note bad";
            result.textContent = `✖ ${e.message}`;
            role.value = m.role;
          }
        });
      }
      return el("tr", { "data-id": m.user_id },
        el("th", { scope: "row" }, m.email, self ? el("span", { class: "you" }, " (you)") : null),
        el("td", {}, role),
        el("td", { class: "row-actions" }, mayRemove(m) ? confirmButton(self ? "Leave" : "Remove", "Confirm: remove", async () => {
          try {
            await api("DELETE", `/v1/members/${enc(m.user_id)}`);
            if (self) { await S.loadMe(); location.hash = "#/"; } else S.rerender();
          } catch (e) {
            result.className = "note bad";
            result.textContent = `✖ ${e.message}`;
          }
        }) : null, result));
    });
    const invited = el("div", { id: "invitation", "aria-live": "polite" });
    const form = el("form", { class: "card wide", id: "invite-form", novalidate: true },
      el("h2", {}, "Invite someone"),
      field("email", "Email", "email", { required: true, autocomplete: "off" }),
      field("role", "Role", "select", {}, { options: ROLES.filter(([r]) => r !== "owner" || me.role === "owner"), value: "viewer" }),
      el("p", { class: "form-error", role: "alert" }),
      el("button", { type: "submit" }, "Create invitation"),
      invited);
    onSubmit(form, async () => {
      const data = new FormData(form);
      const inv = await api("POST", "/v1/invitations", { email: String(data.get("email")), role: String(data.get("role")) });
      const link = `${location.origin}/#/join/${enc(inv.token)}`;
      invited.replaceChildren(el("div", { class: "secret" },
        el("p", {}, el("strong", {}, `Invitation for ${inv.email} (${inv.role})`),
          `, valid until ${when(inv.expires_ms)}. Send them this link; it is shown only now:`),
        copyable(link, "invite-link")));
      form.querySelector("[name=email]").value = "";
    });
    show("Members",
      el("h1", {}, "Members"),
      table("members", ["Member", "Role", ""], rows, "No members."),
      canWrite() ? form : null);
  }

  /** A read-only text with a copy button. */
  function copyable(text, id) {
    const out = el("input", { type: "text", readonly: true, id, class: "mono", "aria-label": "Secret", value: text });
    const status = note();
    const copy = el("button", { type: "button", class: "secondary" }, "Copy");
    copy.addEventListener("click", async () => {
      out.select();
      try {
        await navigator.clipboard.writeText(text);
        status.textContent = "Copied.";
      } catch (_) {
        status.textContent = "Selected: copy it with Ctrl+C.";
      }
    });
    return el("div", { class: "copy" }, out, copy, status);
  }

  async function joinPage(token) {
    const result = el("p", { class: "form-error", role: "alert" });
    const button = el("button", { type: "button", id: "join" }, "Join the organization");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const joined = await api("POST", "/v1/invitations/accept", { token });
        document.cookie = `scoville_org=${enc(joined.org_id)}; Path=/; SameSite=Lax; Max-Age=31536000`;
        location.hash = "#/";
        location.reload();
      } catch (e) {
        result.textContent = e.status === 422 ? "This invitation is unknown, used or expired: ask for a new one." : e.message;
        button.disabled = false;
      }
    });
    show("Join", el("div", { class: "card" },
      el("h1", {}, "Join an organization"),
      el("p", {}, `You are signed in; accepting adds this account to the organization that invited you.`),
      result, button));
  }

  // ---- API keys -----------------------------------------------------------------------

  async function keysPage() {
    const keys = await api("GET", "/v1/api-keys");
    const rows = keys.map((k) => el("tr", { "data-id": k.id },
      el("th", { scope: "row" }, k.name),
      el("td", {}, k.scope === "read_write" ? "Read and write" : "Read only"),
      el("td", { class: "mono" }, k.id),
      el("td", { class: "row-actions" }, canWrite() ? confirmButton("Revoke", "Confirm: revoke", async () => {
        await api("DELETE", `/v1/api-keys/${enc(k.id)}`);
        S.rerender();
      }) : null)));
    const created = el("div", { id: "new-key", "aria-live": "polite" });
    const form = el("form", { class: "card wide", id: "key-form", novalidate: true },
      el("h2", {}, "Create a key"),
      field("name", "Name", "text", { required: true, maxlength: 100, placeholder: "CI" }),
      field("scope", "Access", "select", {}, { options: [["read", "Read only"], ["read_write", "Read and write"]], value: "read" }),
      el("p", { class: "form-error", role: "alert" }),
      el("button", { type: "submit" }, "Create key"));
    onSubmit(form, async () => {
      const data = new FormData(form);
      const k = await api("POST", "/v1/api-keys", { name: String(data.get("name")), scope: String(data.get("scope")) });
      await S.rerender();
      // After the list is redrawn: the secret, once.
      document.getElementById("new-key").replaceChildren(el("div", { class: "secret" },
        el("p", {}, el("strong", {}, `Key “${k.name}” created.`),
          " Copy it now: it is shown only once. Scripts send it in the header ", el("code", {}, "Authorization: Bearer sk_…")),
        copyable(k.key, "key-secret")));
    });
    show("API keys",
      el("h1", {}, "API keys"),
      el("p", { class: "lead" }, "For scripts and CI: the REST API is described at ", el("a", { href: "/v1/openapi.json" }, "/v1/openapi.json"), "."),
      created,
      table("keys", ["Name", "Access", "Id", ""], rows, "No API keys."),
      canWrite() ? form : null,
      await probeTokensSection());
  }

  /** Probe tokens: what the organization's own probes (in its data centres) list
   *  their endpoints with. */
  async function probeTokensSection() {
    const tokens = await api("GET", "/v1/probe-tokens");
    const rows = tokens.map((t) => el("tr", { "data-id": t.id },
      el("th", { scope: "row" }, t.name),
      el("td", { class: "mono" }, t.id),
      el("td", { class: "row-actions" }, canWrite() ? confirmButton("Revoke", "Confirm: revoke", async () => {
        await api("DELETE", `/v1/probe-tokens/${enc(t.id)}`);
        S.rerender();
      }) : null)));
    const created = el("div", { id: "new-probe-token", "aria-live": "polite" });
    const form = el("form", { class: "card wide", id: "probe-token-form", novalidate: true },
      el("h3", {}, "Create a probe token"),
      field("token_name", "Name", "text", { required: true, maxlength: 100, placeholder: "Frankfurt office" }),
      el("p", { class: "form-error", role: "alert" }),
      el("button", { type: "submit" }, "Create token"));
    onSubmit(form, async () => {
      const t = await api("POST", "/v1/probe-tokens", { name: String(new FormData(form).get("token_name")) });
      await S.rerender();
      document.getElementById("new-probe-token").replaceChildren(el("div", { class: "secret" },
        el("p", {}, el("strong", {}, `Token “${t.name}” created.`),
          " Copy it now: it is shown only once. The probe sends it as ", el("code", {}, "endpoints.token"), "."),
        copyable(t.token, "probe-token-secret")));
    });
    return el("section", { "aria-labelledby": "probe-tokens-title" },
      el("h2", { id: "probe-tokens-title" }, "Probe tokens"),
      el("p", {}, "A probe you run yourself (", el("code", {}, "probe run"), ") lists this organization's endpoints with one."),
      created,
      table("probe-tokens", ["Name", "Id", ""], rows, "No probe tokens."),
      canWrite() ? form : null);
  }

  // ---- Result hooks -------------------------------------------------------------------

  async function hooksPage() {
    const hooks = await api("GET", "/v1/hooks");
    const events = { all: "Every result and state change", state_changes: "State changes only" };
    const rows = hooks.map((h) => el("tr", { "data-id": h.id },
      el("th", { scope: "row" }, h.name),
      el("td", { class: "mono" }, h.url),
      el("td", {}, events[h.events] || h.events),
      el("td", { class: "row-actions" }, canWrite() ? confirmButton("Delete", "Confirm: delete", async () => {
        await api("DELETE", `/v1/hooks/${enc(h.id)}`);
        S.rerender();
      }) : null)));
    const created = el("div", { id: "new-hook", "aria-live": "polite" });
    const form = el("form", { class: "card wide", id: "hook-form", novalidate: true },
      el("h2", {}, "Add a hook"),
      field("name", "Name", "text", { required: true, maxlength: 100, placeholder: "Data lake" }),
      field("url", "URL", "url", { required: true, placeholder: "https://hooks.example.com/scoville" }),
      field("events", "Sends", "select", {}, { options: Object.entries(events), value: "state_changes" }),
      el("p", { class: "form-error", role: "alert" }),
      el("button", { type: "submit" }, "Add hook"));
    onSubmit(form, async () => {
      const data = new FormData(form);
      const h = await api("POST", "/v1/hooks", {
        name: String(data.get("name")), url: String(data.get("url")), events: String(data.get("events")),
      });
      await S.rerender();
      document.getElementById("new-hook").replaceChildren(el("div", { class: "secret" },
        el("p", {}, el("strong", {}, `Hook “${h.name}” added.`),
          " Copy its signing secret now: it is shown only once. Each POST carries ",
          el("code", {}, "X-Scoville-Signature"), ", an HMAC-SHA256 of the body with it."),
        copyable(h.secret, "hook-secret")));
    });
    show("Hooks",
      el("h1", {}, "Result hooks"),
      el("p", { class: "lead" }, "Signed webhooks for this organization: every endpoint's state changes, or every check result too."),
      created,
      table("hooks", ["Name", "URL", "Sends", ""], rows, "No hooks."),
      canWrite() ? form : null);
  }

  S.page(/^#\/channels$/, channelsPage);
  S.page(/^#\/maintenance$/, maintenancePage);
  S.page(/^#\/status-pages$/, statusPagesPage);
  S.page(/^#\/members$/, membersPage);
  S.page(/^#\/api-keys$/, keysPage);
  S.page(/^#\/hooks$/, hooksPage);
  S.page(/^#\/join\/([^/]+)$/, joinPage);
})();
