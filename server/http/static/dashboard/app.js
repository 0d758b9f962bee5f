"use strict";
// The dashboard talks only to /graphql, with the key the user pasted (kept in sessionStorage, never a URL).

const KEY = "granular.key";
const charts = {};
const $ = (id) => document.getElementById(id);

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${sessionStorage.getItem(KEY)}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors && body.errors.length) {
    const code = (body.errors[0].extensions || {}).code || response.status;
    throw new Error(`${body.errors[0].message} (${code})`);
  }
  return body.data;
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(id), { ...config, options: { maintainAspectRatio: false, animation: false, ...(config.options || {}) } });
}

function empty(id, text) {
  if (charts[id]) { charts[id].destroy(); delete charts[id]; }
  const canvas = $(id);
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  status(text);
}

const PALETTE = ["#2f5bd3", "#e07a1f", "#2a9d8f", "#c2410c", "#7c3aed", "#0e7490", "#a16207"];

async function attribution() {
  const model = $("model").value;
  const data = await gql(`{ one: attribution(model: ${model}) { totalConversions rows { key conversions } }
    all: attributionComparison { model rows { key conversions } } }`);
  if (!data.one.rows.length) return empty("attribution-chart", "No conversions yet in this window.");
  draw("attribution-chart", {
    type: "bar",
    data: { labels: data.one.rows.map((r) => r.key), datasets: [{ label: `${model} conversions`, data: data.one.rows.map((r) => r.conversions), backgroundColor: PALETTE[0] }] },
  });
  const keys = [...new Set(data.all.flatMap((report) => report.rows.map((r) => r.key)))];
  draw("comparison-chart", {
    type: "bar",
    data: {
      labels: keys,
      datasets: data.all.map((report, i) => ({
        label: report.model, backgroundColor: PALETTE[i % PALETTE.length],
        data: keys.map((k) => (report.rows.find((r) => r.key === k) || { conversions: 0 }).conversions),
      })),
    },
  });
  status(`${data.one.totalConversions} conversions.`);
}

async function funnel() {
  const steps = $("steps").value.split(",").map((s) => s.trim()).filter(Boolean);
  const data = await gql("query($steps: [String!]!) { funnel(steps: $steps) { steps { name profiles conversionFromPrevious dropOff } } }", { steps });
  const rows = data.funnel.steps;
  if (!rows.length || rows[0].profiles === 0) return empty("funnel-chart", "No profile reached the first step yet.");
  draw("funnel-chart", { type: "bar", data: { labels: rows.map((r) => r.name), datasets: [{ label: "profiles", data: rows.map((r) => r.profiles), backgroundColor: PALETTE[2] }] } });
  $("funnel-dropoff").replaceChildren(...rows.slice(1).map((r) => {
    const li = document.createElement("li");
    li.textContent = `${r.name}: ${(100 * (r.conversionFromPrevious || 0)).toFixed(1)} % continue, ${r.dropOff} drop off`;
    return li;
  }));
  status("");
}

async function scores() {
  const data = await gql("{ profiles(first: 500) { edges { node { phase intentScore } } } }");
  const nodes = data.profiles.edges.map((e) => e.node);
  if (!nodes.length) return empty("phase-chart", "No profiles yet.");
  const phases = ["DISCOVERY", "INTEREST", "INTENT", "ACTION"];
  draw("phase-chart", { type: "bar", data: { labels: [...phases, "none"], datasets: [{ label: "profiles by phase", backgroundColor: PALETTE[4], data: [...phases.map((p) => nodes.filter((n) => n.phase === p).length), nodes.filter((n) => !n.phase).length] }] } });
  const buckets = Array(10).fill(0);
  nodes.filter((n) => n.intentScore !== null).forEach((n) => { buckets[Math.min(9, Math.floor(n.intentScore * 10))] += 1; });
  draw("intent-chart", { type: "bar", data: { labels: buckets.map((_, i) => `${i / 10}–${(i + 1) / 10}`), datasets: [{ label: "intent score", data: buckets, backgroundColor: PALETTE[1] }] } });
  status(`${nodes.length} profiles (first page).`);
}

async function ltv() {
  const data = await gql("{ profiles(first: 200) { edges { node { ltv { revenue } } } } ltvDrivers { event customersWith customersWithout meanWith meanWithout lift significant } }");
  const revenues = data.profiles.edges.map((e) => e.node.ltv.revenue).filter((r) => r > 0);
  if (revenues.length) {
    const top = Math.max(...revenues);
    const width = Math.max(1, Math.ceil(top / 10));
    const buckets = Array(10).fill(0);
    revenues.forEach((r) => { buckets[Math.min(9, Math.floor(r / width))] += 1; });
    draw("ltv-chart", { type: "bar", data: { labels: buckets.map((_, i) => `${i * width}–${(i + 1) * width}`), datasets: [{ label: "customers by revenue", data: buckets, backgroundColor: PALETTE[3] }] } });
  } else {
    empty("ltv-chart", "No purchases yet.");
  }
  const body = $("drivers").querySelector("tbody");
  body.replaceChildren(...data.ltvDrivers.slice(0, 12).map((d) => {
    const tr = document.createElement("tr");
    [d.event, d.customersWith, d.customersWithout, d.meanWith.toFixed(2), d.meanWithout.toFixed(2),
      d.lift === null ? "—" : `${(100 * d.lift).toFixed(0)} %`, d.significant ? "yes" : "no"].forEach((v) => {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    });
    return tr;
  }));
  if (!data.ltvDrivers.length) body.innerHTML = '<tr><td colspan="7" class="empty">No first sessions to compare yet.</td></tr>';
}

async function profile(event) {
  event.preventDefault();
  const id = $("profile-id").value.trim();
  const fields = "id userId phase engagementScore intentScore conversionProbability consent { purpose granted source } scoreExplanation { engagement { event weight } }";
  const data = await gql(`query($id: String) { byUser: profile(userId: $id) { ${fields} } byAnon: profile(anonymousId: $id) { ${fields} } }`, { id });
  const found = data.byUser || data.byAnon;
  const card = $("profile-card");
  if (!found) { card.innerHTML = '<p class="empty">No profile with this id.</p>'; $("timeline").replaceChildren(); return; }
  const dl = document.createElement("dl"); dl.className = "card";
  const rows = [["Profile", found.id], ["User id", found.userId || "—"], ["Phase", found.phase || "—"],
    ["Engagement", found.engagementScore === null ? "no personalization consent" : found.engagementScore.toFixed(3)],
    ["Intent", found.intentScore === null ? "—" : found.intentScore.toFixed(3)],
    ["Conversion probability", found.conversionProbability === null ? "—" : found.conversionProbability.toFixed(3)],
    ["Consent", found.consent.map((c) => `${c.purpose}: ${c.granted ? "yes" : "no"} (${c.source})`).join(", ") || "none recorded"],
    ["Why these scores", found.scoreExplanation ? found.scoreExplanation.engagement.map((c) => `${c.event} ${c.weight.toFixed(2)}`).join(", ") : "—"]];
  rows.forEach(([k, v]) => { const dt = document.createElement("dt"); dt.textContent = k; const dd = document.createElement("dd"); dd.textContent = v; dl.append(dt, dd); });
  card.replaceChildren(dl);
  const journey = await gql("query($id: ID!) { journey(profileId: $id, first: 100) { edges { node { event timestamp phase value channel } } } }", { id: found.id });
  $("timeline").replaceChildren(...journey.journey.edges.map(({ node }) => {
    const li = document.createElement("li");
    li.textContent = `${new Date(node.timestamp).toLocaleString()} — ${node.event} (${node.phase || "unscored"}, ${node.value}) via ${node.channel}`;
    return li;
  }));
  status("");
}

async function compliance() {
  const data = await gql("{ dsrRequests(first: 100) { edges { node { id kind status deadline overdue } } } }");
  const body = $("dsr").querySelector("tbody");
  const rows = data.dsrRequests.edges.map(({ node }) => {
    const tr = document.createElement("tr");
    [node.id, node.kind, node.status, `${new Date(node.deadline).toLocaleDateString()}${node.overdue ? " (overdue)" : ""}`]
      .forEach((v) => { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); });
    return tr;
  });
  body.replaceChildren(...rows);
  if (!rows.length) body.innerHTML = '<tr><td colspan="4" class="empty">No requests.</td></tr>';
}

async function dsr(event) {
  event.preventDefault();
  const kind = event.submitter.dataset.kind;
  const userId = $("dsr-user").value.trim();
  const regulation = $("dsr-regulation").value;
  if (kind === "erase" && !window.confirm(`Erase everything about ${userId}? This cannot be undone.`)) return;
  const mutation = kind === "erase" ? "requestErasure" : "requestExport";
  const data = await gql(`mutation($s: SubjectInput!, $r: Regulation!) { r: ${mutation}(subject: $s, regulation: $r) { id status downloadUrl } }`, { s: { userId }, r: regulation });
  $("dsr-result").textContent = `${data.r.id}: ${data.r.status}${data.r.downloadUrl ? " — download once: " + data.r.downloadUrl : ""}`;
  await compliance();
}

const VIEWS = { attribution, funnel, scores, ltv, compliance, profile: async () => status("") };

async function show(view) {
  document.querySelectorAll(".view").forEach((s) => { s.hidden = s.id !== view; });
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  status("Loading…");
  try { await VIEWS[view](); if ($("status").textContent === "Loading…") status(""); } catch (error) { status(error.message, true); }
}

function signedIn() {
  const has = Boolean(sessionStorage.getItem(KEY));
  $("tabs").hidden = !has;
  $("forget").hidden = !has;
  if (has) show("attribution"); else status("Paste an API key (ANALYST or ADMIN; COMPLIANCE for requests) to begin.");
}

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem(KEY, $("key").value.trim()); $("key").value = ""; signedIn(); });
  $("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); signedIn(); });
  document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));
  $("model").addEventListener("change", () => show("attribution"));
  $("funnel-run").addEventListener("click", () => show("funnel"));
  $("profile-form").addEventListener("submit", (e) => profile(e).catch((error) => status(error.message, true)));
  $("dsr-form").addEventListener("submit", (e) => dsr(e).catch((error) => status(error.message, true)));
  signedIn();
});
