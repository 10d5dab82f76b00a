// The dashboard page: rollouts arrive as server-sent events (a snapshot,
// then one event per change), are drawn with the DOM and inline SVG, and
// actions are POSTed with this page's CSRF token.
"use strict";

const token = document.querySelector('meta[name="csrf-token"]').content;
const rollouts = new Map(); // key -> view
const messages = new Map(); // key -> {ok, text} of the last action
const SVG = "http://www.w3.org/2000/svg";

const plots = [
  { metric: "weight", title: "Traffic weight", unit: "%", min: 0, max: 100, value: (p) => p.weight, step: true },
  { metric: "successRate", title: "Success rate", unit: "%", value: (p) => p.successRate, max: 100, gate: (a) => a.min_success_rate },
  { metric: "latencyP99Ms", title: "Latency p99", unit: " ms", value: (p) => p.latencyP99Ms, min: 0, gate: (a) => a.max_latency_p99_ms },
  { metric: "requests", title: "Requests", unit: "", value: (p) => p.requests, min: 0, gate: (a) => a.min_request_count },
  { metric: "pValue", title: "p-value (canary vs stable)", unit: "", value: (p) => p.pValue, min: 0, max: 1 },
];

const confirmText = {
  pause: (v) => `Pause ${v.microservice}? The engine holds the traffic weight at ${v.status.weight}% from its next step.`,
  resume: (v) => `Resume ${v.microservice}? The engine continues from its next step.`,
  promote: (v) => `Promote ${v.microservice} ${version(v.status.canaryVersion)}? The engine skips the remaining steps and sends all traffic to it.`,
  abort: (v) => `Abort ${v.microservice} ${version(v.status.canaryVersion)}? The engine sends all traffic back to ${version(v.status.stableVersion)} and removes the canary.`,
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function version(v) { return v > 0 ? "v" + v : "-"; }
function clock(t) { return t ? new Date(t).toLocaleTimeString([], { hour12: false }) : "-"; }
function stamp(t) {
  if (!t || t.startsWith("0001")) return "-";
  const d = new Date(t);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
function fmt(v, unit, digits) {
  if (v === undefined || v === null) return "-";
  return Number(v).toFixed(digits) + unit;
}

// cells are a row's cells, each labelled with its column's heading for the
// card layout of narrow screens.
function cells(headings, ...tds) {
  tds.forEach((td, i) => td.setAttribute("data-label", headings[i]));
  return tds;
}

// tickSteps are the round intervals the time axis may be labelled at.
const tickSteps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

// timeTicks are the round local times from t0 to t1 at the smallest step
// that gives at most six labels.
function timeTicks(t0, t1) {
  const step = tickSteps.find((s) => (t1 - t0) / s < 6) ?? tickSteps[tickSteps.length - 1];
  const offset = new Date(t0).getTimezoneOffset() * 60000;
  const ticks = [];
  for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1; t += step) ticks.push(t);
  return { step, ticks };
}

function tickLabel(t, step) {
  const d = new Date(t), two = (n) => String(n).padStart(2, "0");
  if (step >= 86400000) return two(d.getMonth() + 1) + "-" + two(d.getDate());
  const hm = two(d.getHours()) + ":" + two(d.getMinutes());
  return step < 60000 ? hm + ":" + two(d.getSeconds()) : hm;
}

function digitsFor(metric) { return metric === "pValue" ? 3 : metric === "successRate" ? 2 : 0; }

function lastVerdict(st) {
  const v = (st.verdicts || [])[0];
  if (!v) return "-";
  return v.successRate !== undefined ? `${v.result} ${fmt(v.successRate, "%", 2)}` : v.result;
}

function traffic(st) {
  let s = `${st.weight}%`;
  const phase = st.phase;
  if (["Succeeded", "RolledBack", "Failed", "Invalid"].includes(phase)) return s;
  if (phase === "Paused") return s + " (paused)";
  if (phase === "WaitingPromotion") return s + " → waiting for promote";
  if (phase === "Baking") return s + " (baking)";
  if (st.nextWeight > st.weight) return s + ` → next ${st.nextWeight}%`;
  return s;
}

// drawPlot draws one figure of the timeline into an SVG: a line through the
// points that carry it, a dot per analysis coloured by its result and a
// dashed line at the gate the analysis holds it to, if any.
function drawPlot(spec, points, start, end, gate) {
  const W = 300, H = 120, L = 40, R = 6, T = 8, B = 18;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", preserveAspectRatio: "none", "data-metric": spec.metric });
  const pts = points.filter((p) => spec.value(p) !== undefined && spec.value(p) !== null);
  s.setAttribute("data-points", String(pts.length));
  const values = pts.map(spec.value);
  let lo = spec.min !== undefined ? Math.min(spec.min, ...values) : Math.min(...values);
  let hi = spec.max !== undefined ? Math.max(spec.max, ...values) : Math.max(...values);
  if (spec.metric === "successRate" && values.length) lo = Math.min(...values, 95);
  if (!values.length) { lo = spec.min ?? 0; hi = spec.max ?? 1; }
  if (gate !== undefined && gate !== null) { lo = Math.min(lo, gate); hi = Math.max(hi, gate); }
  if (hi === lo) { hi = lo + 1; }
  const t0 = start, t1 = Math.max(end, start + 1000);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  s.append(svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  s.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  const label = (text, attrs) => { const e = svg("text", attrs); e.textContent = text; s.append(e); };
  const d = digitsFor(spec.metric);
  const axisDigits = spec.metric === "pValue" ? 1 : hi - lo < 5 ? 1 : 0;
  label(fmt(hi, spec.unit.trim(), axisDigits), { x: L - 4, y: T + 8, "text-anchor": "end" });
  label(fmt(lo, spec.unit.trim(), axisDigits), { x: L - 4, y: H - B, "text-anchor": "end" });
  const { step, ticks } = timeTicks(t0, t1);
  s.setAttribute("data-tick-step", String(step));
  for (const t of ticks) {
    const tx = x(t);
    s.append(svg("line", { x1: tx.toFixed(1), y1: H - B, x2: tx.toFixed(1), y2: H - B + 3, class: "axis" }));
    label(tickLabel(t, step), { x: tx.toFixed(1), y: H - 4, class: "tick", "data-at": String(t), "text-anchor": tx > W - R - 20 ? "end" : "middle" });
  }
  if (gate !== undefined && gate !== null) {
    const g = svg("line", { x1: L, y1: y(gate).toFixed(1), x2: W - R, y2: y(gate).toFixed(1), class: "gate" });
    const tip = svg("title");
    tip.textContent = "gate: " + fmt(gate, spec.unit, d);
    g.append(tip);
    s.append(g);
  }
  if (!pts.length) {
    const analysed = points.some((p) => p.result);
    label(analysed ? "not reported by the analyses" : "no analysis yet", { x: (L + W) / 2, y: H / 2, "text-anchor": "middle" });
    return s;
  }
  let path = "";
  pts.forEach((p, i) => {
    const px = x(Date.parse(p.at)), py = y(spec.value(p));
    if (i === 0) path += `M${px.toFixed(1)},${py.toFixed(1)}`;
    else if (spec.step) path += `H${px.toFixed(1)}V${py.toFixed(1)}`;
    else path += `L${px.toFixed(1)},${py.toFixed(1)}`;
  });
  if (spec.step) path += `H${x(t1).toFixed(1)}`;
  s.append(svg("path", { d: path, class: "line" }));
  for (const p of pts) {
    if (!p.result) continue;
    const c = svg("circle", { cx: x(Date.parse(p.at)).toFixed(1), cy: y(spec.value(p)).toFixed(1), r: 3, class: p.result });
    const tip = svg("title");
    tip.textContent = `${clock(p.at)} ${p.result} ${fmt(spec.value(p), spec.unit, d)} at ${p.weight}%`;
    c.append(tip);
    s.append(c);
  }
  return s;
}

function plotsOf(v) {
  const points = v.status.timeline || [];
  const running = !["Succeeded", "RolledBack", "Failed", "Invalid", ""].includes(v.status.phase);
  const start = points.length ? Date.parse(points[0].at) : Date.now();
  let end = points.length ? Date.parse(points[points.length - 1].at) : start;
  if (running) end = Math.max(end, Date.parse(v.status.updatedAt) || end);
  return el("div", { class: "plots" }, ...plots.map((spec) => {
    const last = [...points].reverse().find((p) => spec.value(p) !== undefined && spec.value(p) !== null);
    return el("figure", {},
      el("figcaption", {}, el("span", { text: spec.title }),
        el("span", { class: "now", text: last ? fmt(spec.value(last), spec.unit, digitsFor(spec.metric)) : "-" })),
      drawPlot(spec, points, start, end, spec.gate && v.status.analysis ? spec.gate(v.status.analysis) : undefined));
  }));
}

// gatesOf lists what every analysis checks, from deploy.json's analysis
// settings with their defaults.
function gatesOf(a) {
  if (!a) return null;
  const gates = [];
  if (a.min_success_rate !== undefined) gates.push(`success rate ≥ ${a.min_success_rate}%`);
  if (a.max_latency_p99_ms !== undefined) gates.push(`p99 ≤ ${a.max_latency_p99_ms} ms`);
  if (a.max_error_count !== undefined) gates.push(`5xx ≤ ${a.max_error_count} in the look-back window`);
  if (a.min_request_count) gates.push(`at least ${a.min_request_count} requests, else no data (${a.no_data || "fail"})`);
  if (a.baseline_comparison) gates.push("canary compared with stable (Mann-Whitney)");
  if (a.max_restarts !== undefined) gates.push(`container restarts ≤ ${a.max_restarts}`);
  if (a.unready_grace !== undefined) gates.push(`pods unready ≤ ${a.unready_grace} s`);
  if (a.interval) gates.push(`every ${a.interval} s`);
  if (a.consecutive_failure_limit) gates.push(`rolls back after ${a.consecutive_failure_limit} failed in a row`);
  return el("ul", { class: "gates" }, ...gates.map((g) => el("li", { text: g })));
}

const verdictHeadings = ["Time", "Weight", "Pod health", "Result", "Requests", "Errors", "Success", "p99", "p-value", "Queries", "Reason"];
const historyHeadings = ["Canary", "Image", "From", "Outcome", "Started", "Duration", "Reason"];

function verdictsOf(st) {
  const rows = (st.verdicts || []).map((v) => el("tr", {}, ...cells(verdictHeadings,
    el("td", { text: clock(v.at) }),
    el("td", { text: v.weight + "%" }),
    el("td", { text: v.pods || "-" }),
    el("td", { class: "result-" + v.result, text: v.result }),
    el("td", { text: String(v.requests ?? 0) }),
    el("td", { text: String(v.errors ?? 0) }),
    el("td", { text: fmt(v.successRate, "%", 2) }),
    el("td", { text: fmt(v.latencyP99Ms, " ms", 0) }),
    el("td", { text: fmt(v.pValue, "", 3) }),
    el("td", { text: (v.queries || []).map((q) => q.name + " " + fmt(q.value, "", 4)).join(", ") || "-" }),
    el("td", { class: "reason wide", text: v.reason || "-" }))));
  if (!rows.length) return el("p", { class: "muted", text: "No analysis yet." });
  return el("div", { class: "scroll" }, el("table", { class: "verdicts cards" },
    el("thead", {}, el("tr", {}, ...verdictHeadings.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows)));
}

function historyOf(v) {
  if (!v.history.length) return el("p", { class: "muted", text: "No finished rollouts yet." });
  return el("div", { class: "scroll" }, el("table", { class: "history cards" },
    el("thead", {}, el("tr", {}, ...historyHeadings.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...v.history.map((r) => el("tr", {}, ...cells(historyHeadings,
      el("td", { text: version(r.canaryVersion) }),
      el("td", { class: "wide", text: r.canaryImage || "-" }),
      el("td", { text: version(r.stableVersion) }),
      el("td", { class: r.phase === "Succeeded" ? "result-pass" : "result-fail", text: r.phase }),
      el("td", { text: stamp(r.startedAt) }),
      el("td", { class: "duration", text: r.duration }),
      el("td", { class: "reason wide", text: r.reason || "-" })))))));
}

// actionButtons are the action buttons as the server would answer them
// now: one it would refuse is disabled, with its reason as the title.
function actionButtons(v) {
  return (v.actions || []).map((a) => el("button", {
    "data-action": a.action, class: a.action === "abort" ? "danger" : null, disabled: !a.allowed, title: a.allowed ? null : a.reason,
    text: a.action[0].toUpperCase() + a.action.slice(1),
  }));
}

function section(v) {
  const st = v.status;
  const msg = messages.get(v.key);
  const outcomeBad = ["RolledBack", "Failed", "Invalid"].includes(st.phase);
  return el("section", { class: "rollout", id: sectionID(v.key), "data-key": v.key, "data-phase": st.phase || "Unknown" },
    el("h2", {}, v.microservice, el("span", { class: "ns", text: v.namespace })),
    el("div", { class: "facts" },
      el("span", {}, el("span", { class: "phase", "data-phase": st.phase || "Unknown", text: v.phase })),
      el("span", {}, "stable ", el("b", { class: "stable", text: version(st.stableVersion) }), " ", el("span", { class: "muted", text: st.stableImage || "" })),
      el("span", {}, "canary ", el("b", { class: "canary", text: version(st.canaryVersion) }), " ", el("span", { class: "muted", text: st.canaryImage || "" })),
      el("span", {}, el("span", { class: "bar" }, barFill(st.weight)), el("b", { class: "weight", "data-weight": String(st.weight), text: traffic(st) })),
      el("span", { class: "muted", text: st.steps ? `step ${st.step}/${st.steps}` : "" }),
      el("span", { class: "muted", text: [st.router, st.strategy].filter(Boolean).join(" · ") }),
      st.blueGreen ? el("span", { class: "stage", "data-stage": st.blueGreen.stage, text: blueGreenStage(st.blueGreen) }) : null,
      st.stage ? el("span", { class: "stage", text: st.stage }) : null),
    v.error ? el("p", { class: "outcome bad", text: "Unreadable status: " + v.error }) : null,
    v.outcome ? el("p", { class: "outcome" + (outcomeBad ? " bad" : ""), text: v.outcome }) : null,
    !v.outcome && st.reason ? el("p", { class: "outcome", text: "Reason: " + st.reason }) : null,
    ...(st.warnings || []).map(w => el("p", { class: "warning", text: "Warning: " + w })),
    el("div", { class: "actions" },
      ...actionButtons(v),
      msg ? el("span", { class: "message", "data-ok": String(msg.ok), text: msg.text }) : null),
    el("h3", { text: "Over time" }), plotsOf(v),
    el("h3", { text: "Gates and verdicts (newest first)" }), gatesOf(st.analysis), verdictsOf(st),
    el("h3", { text: "History" }), historyOf(v));
}

// blueGreenStage says where a blue-green rollout is, as canaryctl watch does.
function blueGreenStage(bg) {
  switch (bg.stage) {
    case "preview": return "preview" + (bg.preview ? ": test it by " + bg.preview : "");
    case "switched": return "switched to the new version";
    case "baking": return "baking, old version ready";
    case "old-kept": return "old version kept" + (bg.oldKeptUntil ? " until " + new Date(bg.oldKeptUntil).toISOString().slice(11, 19) : "");
    default: return bg.stage;
  }
}

function barFill(weight) {
  const i = el("i");
  i.style.width = Math.max(0, Math.min(100, weight)) + "%";
  return i;
}

function sortedViews() {
  return [...rollouts.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.microservice.localeCompare(b.microservice));
}

function sectionID(key) { return "rollout-" + key.replace(/[^a-z0-9-]/g, "_"); }

// renderOne redraws the overview and one rollout's section, so that a change
// of one rollout leaves the others (and any text selected in them) alone.
function renderOne(key) {
  const old = document.getElementById(sectionID(key));
  const v = rollouts.get(key);
  if (!old || !v) return render();
  renderOverview(sortedViews());
  old.replaceWith(fresh(old, v));
}

function render() {
  const views = sortedViews();
  renderOverview(views);
  document.getElementById("rollouts").replaceChildren(...views.map((v) => fresh(document.getElementById(sectionID(v.key)), v)));
}

// fresh is v's new section, keeping the old section's buttons with the new
// states: a click whose press and release straddle a live update still lands.
function fresh(old, v) {
  const s = section(v);
  const keep = old && old.querySelector(".actions"), drop = s.querySelector(".actions");
  if (keep && drop) {
    for (const b of keep.querySelectorAll("button[data-action]")) {
      const now = drop.querySelector(`button[data-action="${b.dataset.action}"]`);
      b.disabled = !now || now.disabled;
      if (now && now.title) b.title = now.title;
      else b.removeAttribute("title");
    }
    keep.querySelector(".message")?.remove();
    const msg = drop.querySelector(".message");
    if (msg) keep.append(msg);
    drop.replaceWith(keep);
  }
  return s;
}

function renderOverview(views) {
  const body = document.querySelector("#overview tbody");
  const headings = [...document.querySelectorAll("#overview thead th")].map((th) => th.textContent);
  body.replaceChildren(...views.map((v) => {
    const st = v.status;
    const id = sectionID(v.key);
    return el("tr", { "data-key": v.key }, ...cells(headings,
      el("td", { text: v.namespace }),
      el("td", {}, el("a", { href: "#" + id, text: v.microservice })),
      el("td", {}, el("span", { class: "phase", "data-phase": st.phase || "Unknown", text: v.phase })),
      el("td", { text: version(st.stableVersion) }),
      el("td", { text: version(st.canaryVersion) }),
      el("td", { class: "weight", text: st.weight + "%" }),
      el("td", { text: st.steps ? `${st.step}/${st.steps}` : "-" }),
      el("td", { text: lastVerdict(st) }),
      el("td", { text: clock(st.updatedAt) })));
  }));
  document.getElementById("empty").hidden = views.length > 0;
}

// act asks for an action after the operator confirmed it, and shows
// canaryctl's own answer.
function act(key, action) {
  const v = rollouts.get(key);
  if (!v) return;
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = confirmText[action](v);
  dialog.dataset.key = key;
  dialog.dataset.action = action;
  dialog.returnValue = "";
  dialog.showModal();
}

document.getElementById("confirm").addEventListener("close", async (e) => {
  const dialog = e.target;
  if (dialog.returnValue !== "ok") return;
  const key = dialog.dataset.key, action = dialog.dataset.action;
  const v = rollouts.get(key);
  if (!v) return;
  let result;
  try {
    const res = await fetch(`/api/rollouts/${encodeURIComponent(v.namespace)}/${encodeURIComponent(v.microservice)}/${action}`, {
      method: "POST", headers: { "X-CSRF-Token": token }, credentials: "same-origin",
    });
    // The dashboard's own refusals (no token, another host) are plain text.
    result = (res.headers.get("Content-Type") || "").startsWith("application/json")
      ? await res.json() : { ok: false, message: (await res.text()).trim() };
  } catch (err) {
    result = { ok: false, message: "canaryctl dashboard: no answer from the dashboard: " + err };
  }
  messages.set(key, { ok: result.ok, text: result.message });
  renderOne(key);
});

document.getElementById("rollouts").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-action]");
  if (!button) return;
  act(button.closest(".rollout").dataset.key, button.dataset.action);
});

function connect() {
  const conn = document.getElementById("conn");
  const es = new EventSource("/events");
  es.addEventListener("open", () => { conn.dataset.state = "live"; conn.textContent = "live"; });
  es.addEventListener("error", () => { conn.dataset.state = "reconnecting"; conn.textContent = "reconnecting…"; });
  es.addEventListener("snapshot", (e) => {
    rollouts.clear();
    for (const v of JSON.parse(e.data)) rollouts.set(v.key, v);
    document.body.dataset.loaded = "true";
    document.body.dataset.snapshots = String((+document.body.dataset.snapshots || 0) + 1);
    render();
  });
  es.addEventListener("rollout", (e) => {
    const v = JSON.parse(e.data);
    rollouts.set(v.key, v);
    renderOne(v.key);
  });
  es.addEventListener("removed", (e) => {
    rollouts.delete(JSON.parse(e.data).key);
    render();
  });
}

connect();
