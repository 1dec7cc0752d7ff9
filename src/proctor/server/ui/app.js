"use strict";
// proctor dashboard: a small hash-routed page over the admin API. No libraries; charts are SVG.
(() => {
  const KEY = "proctor.adminKey";
  const SVGNS = "http://www.w3.org/2000/svg";
  const main = document.getElementById("main");

  // ---- DOM helpers (text only: data never goes through innerHTML) ----
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const kid of kids) el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    return el;
  }

  // ---- formatting ----
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const fmtInt = (v) => (isNum(v) ? Math.round(v).toLocaleString("en-US") : "–");
  function fmtUsd(v) {
    if (!isNum(v)) return "–";
    if (v === 0) return "$0";
    if (Math.abs(v) < 0.01) return "$" + v.toPrecision(3);
    return "$" + v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function fmtMs(v) {
    if (!isNum(v)) return "–";
    if (v >= 10000) return (v / 1000).toFixed(1) + " s";
    if (v >= 1000) return (v / 1000).toFixed(2) + " s";
    return (v < 1 ? v.toFixed(2) : v < 10 ? v.toFixed(1) : Math.round(v)) + " ms";
  }
  const fmtPct = (v) => (isNum(v) ? (v * 100).toFixed(v < 0.1 && v > 0 ? 2 : 1) + "%" : "–");
  const fmtNum = (v) => (isNum(v) ? (Math.abs(v) >= 100 ? fmtInt(v) : v.toFixed(2)) : "–");
  function fmtTime(epoch) {
    if (!isNum(epoch)) return "–";
    const d = new Date(epoch * 1000);
    return d.toLocaleString("en-GB", { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  const shortTime = (epoch) => new Date(epoch * 1000).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });

  // ---- API ----
  class Unauthorized extends Error {}
  async function api(path) {
    const headers = { accept: "application/json" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.authorization = "Bearer " + key;
    const reply = await fetch(path, { headers });
    if (reply.status === 401) { showLogin(key ? "That key was refused." : ""); throw new Unauthorized(); }
    const body = await reply.json().catch(() => ({}));
    if (!reply.ok) throw new Error((body.error && body.error.message) || `${path}: HTTP ${reply.status}`);
    return body;
  }
  function showLogin(message) {
    document.getElementById("login").hidden = false;
    document.getElementById("login-error").textContent = message;
    main.hidden = true;
    document.getElementById("login-key").focus();
  }
  document.getElementById("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, document.getElementById("login-key").value.trim());
    document.getElementById("login").hidden = true;
    main.hidden = false;
    render();
  });
  document.getElementById("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); render(); });

  // ---- charts ----
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
  }
  // points: [{x: epoch, y: number}] -> an SVG line (or bar) chart with a y axis and time labels.
  function timeChart(title, points, fmt, kind) {
    const W = 420, H = 150, L = 52, R = 8, T = 8, B = 20;
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": title, class: "timechart" });
    const ys = points.map((p) => (isNum(p.y) ? p.y : 0));
    const max = niceMax(Math.max(0, ...ys));
    const n = Math.max(points.length, 1);
    const xAt = (i) => L + ((W - L - R) * (kind === "bar" ? i + 0.5 : i)) / (kind === "bar" ? n : Math.max(n - 1, 1));
    const yAt = (v) => T + (H - T - B) * (1 - v / max);
    for (const f of [0, 0.5, 1]) {
      svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: yAt(max * f), y2: yAt(max * f) }));
      svg.append(s("text", { x: L - 4, y: yAt(max * f) + 3, "text-anchor": "end" }, fmt(max * f)));
    }
    const step = Math.max(1, Math.ceil(points.length / 6));
    points.forEach((p, i) => {
      if (i % step === 0) svg.append(s("text", { x: xAt(i), y: H - 6, "text-anchor": "middle" }, shortTime(p.x)));
    });
    if (kind === "bar") {
      const bw = Math.max(1, ((W - L - R) / n) * 0.7);
      points.forEach((p, i) => svg.append(s("rect", { class: "bar", x: xAt(i) - bw / 2, y: yAt(ys[i]), width: bw, height: Math.max(0, H - B - yAt(ys[i])) },
        s("title", {}, `${fmtTime(p.x)}: ${fmt(ys[i])}`))));
    } else if (points.length) {
      const d = ys.map((y, i) => `${i ? "L" : "M"}${xAt(i).toFixed(1)},${yAt(y).toFixed(1)}`).join("");
      svg.append(s("path", { class: "area", d: `${d}L${xAt(n - 1)},${H - B}L${L},${H - B}Z` }));
      svg.append(s("path", { class: "line", d }));
    }
    return h("div", { class: "chart" }, h("div", { class: "title" }, title), svg);
  }

  // ---- shared bits ----
  const card = (label, value, id) => h("div", { class: "card", "data-card": id }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
  const empty = (text) => h("div", { class: "empty" }, text);
  function table(columns, rows, onclick, none) {
    if (!rows.length) return empty(none || "Nothing here for this window and filter.");
    return h("table", {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.label)))),
      h("tbody", {}, rows.map((r) => h("tr", { class: onclick ? "click" : null, "data-id": r.id || null, onclick: onclick ? () => onclick(r) : null },
        columns.map((c) => h("td", { class: (c.num ? "num " : "") + (c.cls ? c.cls(r) : "") }, c.fmt ? c.fmt(r[c.key], r) : r[c.key] ?? "–"))))));
  }
  function select(name, options, value, onchange) {
    return h("select", { name, onchange: (ev) => onchange(ev.target.value) },
      options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  }
  const SINCE = [["1h", "last hour"], ["24h", "last 24 h"], ["7d", "last 7 days"], ["30d", "last 30 days"]];
  const statusCls = (r) => (r.status >= 400 ? "status-bad" : "status-ok");
  const params = (obj) => new URLSearchParams(Object.entries(obj).filter(([, v]) => v !== "" && v !== undefined && v !== null)).toString();
  const state = { since: "24h", by: "model", costBy: "model", filters: {} };

  // ---- pages ----
  async function overview() {
    const bucket = state.since === "1h" ? "minute" : state.since === "24h" ? "hour" : "day";
    const stats = await api(`/admin/stats?${params({ since: state.since, bucket, by: state.by })}`);
    const t = stats.totals || {};
    const series = stats.series || [];
    const pts = (key) => series.map((b) => ({ x: b.start, y: b[key] }));
    return [
      h("div", { class: "filters" }, h("h1", {}, "Overview"), h("label", {}, "Window", select("since", SINCE, state.since, (v) => { state.since = v; render(); }))),
      h("div", { class: "cards" },
        card("Requests", fmtInt(t.requests), "requests"), card("Cost", fmtUsd(t.cost_usd), "cost"),
        card("Latency p50", fmtMs(t.latency_p50_ms), "p50"), card("Latency p95", fmtMs(t.latency_p95_ms), "p95"),
        card("Latency p99", fmtMs(t.latency_p99_ms), "p99"), card("Error rate", fmtPct(t.error_rate), "error_rate"),
        card("Cache hit rate", fmtPct(t.cache_hit_rate), "cache"), card("Guard events", fmtInt(t.guard_events), "guard"),
        card("Refusal rate", fmtPct(t.refusal_rate), "refusal_rate"),
        card("Feedback", t.feedback_count ? `${fmtInt(t.feedback_count)} · avg ${fmtNum(t.feedback_mean)}` : "none", "feedback")),
      h("h2", {}, "Over time"),
      series.length ? h("div", { class: "charts" },
        timeChart("Requests", pts("requests"), fmtInt, "bar"), timeChart("Cost (USD)", pts("cost_usd"), fmtUsd, "bar"),
        timeChart("Latency p95", pts("latency_p95_ms"), fmtMs), timeChart("Error rate", pts("error_rate"), fmtPct))
        : empty("No traffic in this window."),
      h("h2", {}, "Breakdown by ",
        select("by", ["model", "feature", "user", "endpoint"].map((d) => [d, d]), state.by, (v) => { state.by = v; render(); })),
      table([
        { key: "key", label: state.by, fmt: (v) => v ?? "(none)" },
        { key: "requests", label: "Requests", num: true, fmt: fmtInt },
        { key: "cost_usd", label: "Cost", num: true, fmt: fmtUsd },
        { key: "error_rate", label: "Errors", num: true, fmt: fmtPct },
        { key: "latency_p50_ms", label: "p50", num: true, fmt: fmtMs },
        { key: "latency_p95_ms", label: "p95", num: true, fmt: fmtMs },
        { key: "prompt_tokens", label: "Prompt tok", num: true, fmt: fmtInt },
        { key: "completion_tokens", label: "Compl. tok", num: true, fmt: fmtInt },
      ], stats.breakdown || []),
    ];
  }

  async function cost() {
    const series = state.since === "1h" ? "minute" : state.since === "24h" ? "hour" : "day";
    const rep = await api(`/admin/spend?${params({ by: state.costBy, since: state.since, top: 20, series })}`);
    const t = rep.totals || {};
    const groups = (rep.groups || []).map((g) => ({ ...g, name: Object.values(g.key || {}).map((v) => v ?? "(none)").join(" · ") }));
    if (rep.other) groups.push({ ...rep.other, name: `(${rep.groups_total - rep.groups.length} more)` });
    return [
      h("div", { class: "filters" }, h("h1", {}, "Cost explorer"),
        h("label", {}, "Window", select("since", SINCE, state.since, (v) => { state.since = v; render(); })),
        h("label", {}, "By", select("by", ["model", "feature", "user", "team", "tenant", "endpoint", "provider", "deployment"].map((d) => [d, d]), state.costBy, (v) => { state.costBy = v; render(); }))),
      h("div", { class: "cards" }, card("Cost", fmtUsd(t.cost_usd), "cost"), card("Requests", fmtInt(t.requests), "requests"),
        card("Per 1k requests", fmtUsd(t.cost_per_1k_requests), "per1k"), card("Prompt tokens", fmtInt(t.prompt_tokens), "prompt"),
        card("Completion tokens", fmtInt(t.completion_tokens), "completion"), card("Unpriced requests", fmtInt(t.unknown_cost_requests), "unknown")),
      h("h2", {}, "Cost over time"),
      (rep.series || []).length ? h("div", { class: "charts" }, timeChart("Cost (USD)", rep.series.map((b) => ({ x: b.start, y: b.cost_usd })), fmtUsd, "bar"),
        timeChart("Requests", rep.series.map((b) => ({ x: b.start, y: b.requests })), fmtInt, "bar")) : empty("No spend in this window."),
      h("h2", {}, `Top groups by ${state.costBy}`),
      table([
        { key: "name", label: state.costBy },
        { key: "cost_usd", label: "Cost", num: true, fmt: fmtUsd },
        { key: "requests", label: "Requests", num: true, fmt: fmtInt },
        { key: "errors", label: "Errors", num: true, fmt: fmtInt },
        { key: "prompt_tokens", label: "Prompt tok", num: true, fmt: fmtInt },
        { key: "completion_tokens", label: "Compl. tok", num: true, fmt: fmtInt },
        { key: "cost_per_1k_requests", label: "Per 1k", num: true, fmt: fmtUsd },
      ], groups),
    ];
  }

  const REQUEST_FILTERS = ["model", "feature", "user", "status", "q"];
  async function requests(query) {
    const f = { since: query.get("since") || state.since };
    for (const k of REQUEST_FILTERS) f[k] = query.get(k) || "";
    const body = await api(`/admin/requests?${params({ ...f, limit: 100, before: query.get("before") || "" })}`);
    const rows = body.data || [];
    const go = (changes) => { location.hash = "#/requests?" + params({ ...f, ...changes }); };
    const input = (k, label, ph) => h("label", {}, label, h("input", { name: k, value: f[k], placeholder: ph, onchange: (ev) => go({ [k]: ev.target.value.trim() }) }));
    return [
      h("div", { class: "filters" }, h("h1", {}, "Requests"),
        h("label", {}, "Window", select("since", SINCE, f.since, (v) => go({ since: v }))),
        input("model", "Model", "any"), input("feature", "Feature", "any"), input("user", "User", "any"),
        h("label", {}, "Status", select("status", [["", "any"], ["ok", "ok"], ["error", "errors"], ["200", "200"], ["4xx", "4xx"], ["5xx", "5xx"]], f.status, (v) => go({ status: v }))),
        input("q", "Search", "request or session id"),
        h("button", { type: "button", onclick: () => go({ model: "", feature: "", user: "", status: "", q: "" }) }, "Clear")),
      table([
        { key: "started_at", label: "Time", fmt: fmtTime },
        { key: "status", label: "Status", cls: statusCls },
        { key: "public_model", label: "Model" },
        { key: "provider", label: "Provider" },
        { key: "feature", label: "Feature" },
        { key: "user", label: "User" },
        { key: "latency_ms", label: "Latency", num: true, fmt: fmtMs },
        { key: "ttft_ms", label: "TTFT", num: true, fmt: (v, r) => (r.stream ? fmtMs(v) : "") },
        { key: "prompt_tokens", label: "Tokens", num: true, fmt: (v, r) => `${fmtInt(v)} / ${fmtInt(r.completion_tokens)}` },
        { key: "cost_usd", label: "Cost", num: true, fmt: fmtUsd },
        { key: "id", label: "Id", cls: () => "muted" },
      ], rows, (r) => { location.hash = "#/request/" + encodeURIComponent(r.id); }),
      body.next_before ? h("p", {}, h("a", { href: "#/requests?" + params({ ...f, before: body.next_before }) }, "Older →")) : null,
    ];
  }

  // The request's stages and attempts on one time axis, as horizontal bars.
  function waterfall(req) {
    const bars = [];
    const spans = Array.isArray(req.spans) ? req.spans : [];
    const t0 = spans.length ? Math.min(...spans.map((sp) => sp.start_ns)) : 0;
    const starts =
      typeof req.stage_start_ms === "string" ? JSON.parse(req.stage_start_ms || "{}") : req.stage_start_ms || {};
    const spanAt = Object.fromEntries(spans.map((sp) => [sp.attributes?.["proctor.stage"] || sp.name, sp]));
    for (const [stage, ms] of Object.entries(req.stage_ms || {})) {
      const sp = spanAt[stage];
      const logged = starts[stage];
      const start = typeof logged === "number" ? logged : sp ? (sp.start_ns - t0) / 1e6 : 0;
      bars.push({ label: stage, start, ms, cls: "stage", kind: "stage" });
    }
    (req.attempts || []).forEach((a, i) => bars.push({
      label: `attempt ${i + 1}: ${a.deployment || a.model}`, start: a.started_ms || 0, ms: a.latency_ms || 0,
      cls: a.status === 200 ? "ok" : "err", kind: "attempt", note: a.error ? `${a.status} ${a.error}` : String(a.status || ""),
    }));
    if (!bars.length) return empty("No stage timings were recorded for this request.");
    const total = Math.max(req.latency_ms || 0, ...bars.map((b) => b.start + b.ms), 0.001);
    const W = 900, L = 220, R = 150, row = 22;
    const svg = s("svg", { viewBox: `0 0 ${W} ${bars.length * row + 24}`, width: "100%", class: "waterfall", role: "img", "aria-label": "waterfall" });
    const x = (ms) => L + ((W - L - R) * ms) / total;
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      svg.append(s("line", { class: "axis", x1: x(total * f), x2: x(total * f), y1: 0, y2: bars.length * row }));
      svg.append(s("text", { x: x(total * f), y: bars.length * row + 14, "text-anchor": "middle" }, fmtMs(total * f)));
    }
    bars.forEach((b, i) => {
      const y = i * row;
      svg.append(s("text", { class: "lbl", x: 4, y: y + 15 }, b.label));
      svg.append(s("rect", { class: `bar ${b.cls}`, "data-kind": b.kind, x: x(b.start), y: y + 4, width: Math.max(2, x(b.start + b.ms) - x(b.start)), height: row - 8 },
        s("title", {}, `${b.label}: ${fmtMs(b.ms)} from ${fmtMs(b.start)}`)));
      svg.append(s("text", { x: x(b.start + b.ms) + 4, y: y + 15 }, `${fmtMs(b.ms)}${b.note ? "  " + b.note : ""}`));
    });
    return h("div", { class: "chart" }, svg);
  }

  async function requestDetail(id) {
    const r = await api("/admin/requests/" + encodeURIComponent(id));
    const kv = (pairs) => h("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "–")]));
    const failed = (r.attempts || []).filter((a) => a.error || a.status !== 200);
    return [
      h("p", {}, h("a", { href: "#/requests" }, "← Requests")),
      h("h1", {}, "Request ", h("code", {}, r.id)),
      kv([["Started", fmtTime(r.started_at)], ["Status", h("span", { class: statusCls(r) }, String(r.status))],
        ["Model", `${r.public_model} → ${r.deployment || "–"} (${r.provider || "–"})`], ["Stream", r.stream ? "yes" : "no"],
        ["Latency", fmtMs(r.latency_ms)], ["TTFT", fmtMs(r.ttft_ms)],
        ["Tokens", `${fmtInt(r.prompt_tokens)} prompt · ${fmtInt(r.completion_tokens)} completion`], ["Cost", fmtUsd(r.cost_usd)],
        ["Feature / user", `${r.feature ?? "–"} / ${r.user ?? "–"}`], ["Endpoint / session", `${r.endpoint ?? "–"} / ${r.session ?? "–"}`]]),
      r.error ? h("p", { class: "error" }, "Error: " + r.error) : null,
      h("h2", {}, "Waterfall"), waterfall(r),
      h("h2", {}, "Attempts"),
      table([{ key: "deployment", label: "Deployment" }, { key: "provider", label: "Provider" }, { key: "model", label: "Model" },
        { key: "started_ms", label: "Start", num: true, fmt: fmtMs }, { key: "latency_ms", label: "Latency", num: true, fmt: fmtMs },
        { key: "status", label: "Status", cls: (a) => (a.status === 200 ? "status-ok" : "status-bad") }, { key: "error", label: "Error" }], r.attempts || []),
      failed.length ? h("p", { class: "error" }, `${failed.length} attempt(s) failed before or instead of an answer.`) : null,
      h("h2", {}, "Findings"),
      table([{ key: "stage", label: "Stage" }, { key: "rule", label: "Rule" }, { key: "action", label: "Action" },
        { key: "score", label: "Score", num: true, fmt: fmtNum }, { key: "detail", label: "Detail" }], r.findings || [], null, "No findings."),
      h("h2", {}, "Feedback"),
      table([{ key: "score", label: "Score", num: true, fmt: fmtNum }, { key: "channel", label: "Channel" },
        { key: "comment", label: "Comment" }, { key: "created_at", label: "At", fmt: fmtTime }], r.feedback || [], null, "No feedback."),
    ];
  }

  async function events(query) {
    const kind = query.get("kind") || "";
    const body = await api(`/admin/events?${params({ kind, since: state.since, limit: 200 })}`);
    const detail = (v) => (v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v));
    return [
      h("div", { class: "filters" }, h("h1", {}, "Alerts & events"),
        h("label", {}, "Window", select("since", SINCE, state.since, (v) => { state.since = v; render(); })),
        h("label", {}, "Kind", h("input", { name: "kind", value: kind, placeholder: "any", onchange: (ev) => { location.hash = "#/events?" + params({ kind: ev.target.value.trim() }); } }))),
      table([{ key: "at", label: "At", fmt: fmtTime }, { key: "kind", label: "Kind" }, { key: "subject", label: "Subject" },
        { key: "detail", label: "Detail", fmt: detail }], body.data || []),
    ];
  }

  async function topics() {
    const body = await api(`/admin/topics?${params({ since: state.since })}`);
    const flags = (v, r) => [r.new ? "new" : "", r.growing ? "growing" : ""].filter(Boolean).join(" · ");
    return [
      h("div", { class: "filters" }, h("h1", {}, "Topics"),
        h("label", {}, "Window", select("since", SINCE, state.since, (v) => { state.since = v; render(); }))),
      h("p", { class: "muted" }, `${fmtInt(body.topics)} topics in all; growth compares with the previous window of the same length.`),
      table([
        { key: "label", label: "Topic" },
        { key: "flags", label: "Flags", fmt: flags, cls: (r) => (r.new || r.growing ? "flag" : "") },
        { key: "requests", label: "Requests", num: true, fmt: fmtInt },
        { key: "growth", label: "Growth", num: true, fmt: (v) => (isNum(v) ? v.toFixed(1) + "×" : "–") },
        { key: "cost_usd", label: "Cost", num: true, fmt: fmtUsd },
        { key: "latency_p50_ms", label: "p50", num: true, fmt: fmtMs },
        { key: "latency_p95_ms", label: "p95", num: true, fmt: fmtMs },
        { key: "guard_events", label: "Guard events", num: true, fmt: fmtInt },
        { key: "feedback_count", label: "Feedback", num: true, fmt: (v, r) => (v ? `${fmtInt(v)} · avg ${fmtNum(r.feedback_mean)}` : "–") },
        { key: "first_seen", label: "First seen", fmt: fmtTime },
      ], body.data || [], null, "No topics in this window yet (queries are clustered in the background)."),
    ];
  }

  // ---- router ----
  const PAGES = { overview, cost, requests, topics, events };
  let generation = 0;
  async function render() {
    const mine = ++generation;
    delete main.dataset.ready;
    const [path, qs] = (location.hash.replace(/^#\/?/, "") || "overview").split("?");
    const query = new URLSearchParams(qs || "");
    const [page, ...rest] = path.split("/");
    document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === (page === "request" ? "requests" : page)));
    document.getElementById("logout").hidden = !sessionStorage.getItem(KEY);
    try {
      const content = page === "request" ? await requestDetail(decodeURIComponent(rest.join("/"))) : await (PAGES[page] || overview)(query);
      if (mine !== generation) return;
      main.replaceChildren(...[content].flat().filter(Boolean));
      main.dataset.page = page;
      main.dataset.ready = "1";
    } catch (err) {
      if (err instanceof Unauthorized || mine !== generation) return;
      main.replaceChildren(h("p", { class: "error" }, String(err.message || err)));
      main.dataset.ready = "1";
    }
  }
  window.addEventListener("hashchange", render);
  render();
})();
