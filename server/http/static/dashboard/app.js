"use strict";
// The dashboard talks only to /graphql, with the key the user pasted (kept in sessionStorage, never a URL).
// Answers are kept per question while the page is open, so going back to a view is instant; Refresh
// asks again. Every count comes from the server's aggregates, never from a sample of profiles.

const KEY = "granular.key";
const DAY = 864e5;
const charts = {};
const answers = new Map();
const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const PALETTE = ["#2f5bd3", "#e07a1f", "#2a9d8f", "#c2410c", "#7c3aed", "#0e7490", "#a16207"];
const PHASES = ["DISCOVERY", "INTEREST", "INTENT", "ACTION"];

const MODELS = {
  FIRST_TOUCH: "First touch: all the credit goes to the first touch in the 30-day lookback.",
  LAST_TOUCH: "Last touch: all the credit goes to the last touch before the conversion.",
  LINEAR: "Linear: every touch in the path gets an equal share.",
  TIME_DECAY: "Time decay: touches closer to the conversion get more (the weight halves every 7 days).",
  POSITION_BASED: "Position based: 40 % to the first touch, 40 % to the last, 20 % shared by those between.",
  MARKOV: "Markov: credit by removal effect, the conversions that would be lost without the key.",
  SHAPLEY: "Shapley: each key's average extra conversions over the combinations of keys seen together.",
};
const SPECIAL_ROWS = {
  "(no touch)": "Conversions with no touch the customer allowed us to count in the lookback (a direct purchase, or touches without analytics consent).",
  "(other)": "Keys seen for fewer customers than the workspace's reporting minimum, merged so that no one is singled out.",
  "(none)": "Touches that carried no campaign name.",
};
const GROUPS = { CHANNEL: "Channel", CAMPAIGN: "Campaign", EVENT: "Micro-conversion" };

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function request(query, variables) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${sessionStorage.getItem(KEY)}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({ errors: [{ message: `The server answered ${response.status}.` }] }));
  if (body.errors && body.errors.length) {
    const code = (body.errors[0].extensions || {}).code || response.status;
    throw new Error(`${body.errors[0].message} (${code})`);
  }
  return body.data;
}

// Queries are kept by (query, variables); mutations and look-ups pass fresh: true.
function gql(query, variables = {}, { fresh = false } = {}) {
  const key = JSON.stringify([query, variables]);
  if (!fresh && answers.has(key)) return answers.get(key);
  const pending = request(query, variables);
  if (!fresh) {
    answers.set(key, pending);
    pending.catch(() => answers.delete(key));
  }
  return pending;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function wrap(tag, ...children) {
  const node = document.createElement(tag);
  node.append(...children);
  return node;
}

// A table row from cells: a <td> as it is, any other node inside a <td>, text as a plain <td>.
function row(cells) {
  return wrap("tr", ...cells.map((c) => (c instanceof Node ? (c.tagName === "TD" ? c : wrap("td", c)) : element("td", String(c)))));
}

const num = (text) => element("td", text, "num");

// Each cell carries its column's heading, which narrow screens show beside it (rows become cards).
function fill(tableId, rows, emptyText, columns) {
  const headings = [...$(tableId).querySelectorAll("thead th")].map((th) => th.textContent);
  rows.forEach((tr) => [...tr.children].forEach((td, i) => { td.dataset.label = headings[i]; }));
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren(...rows);
  if (!rows.length) {
    const td = element("td", emptyText, "empty");
    td.colSpan = columns;
    body.replaceChildren(wrap("tr", td));
  }
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  const options = { maintainAspectRatio: false, animation: false, ...(config.options || {}) };
  charts[id] = new Chart($(id), { ...config, options });
}

function clear(id) {
  if (charts[id]) { charts[id].destroy(); delete charts[id]; }
  const canvas = $(id);
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

// --- the shared date range -------------------------------------------------------------------------

function day(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60e3);
  return local.toISOString().slice(0, 10);
}

function presetChanged() {
  const preset = $("range-preset").value;
  if (preset === "all") { $("range-from").value = ""; $("range-to").value = ""; }
  if (/^\d+$/.test(preset)) {
    $("range-from").value = day(new Date(Date.now() - (Number(preset) - 1) * DAY));
    $("range-to").value = "";
  }
  reload();
}

function range() {
  const from = $("range-from").value, to = $("range-to").value;
  return {
    from: from ? new Date(`${from}T00:00:00`).toISOString() : null,
    to: to ? new Date(`${to}T23:59:59.999`).toISOString() : null,
  };
}

function rangeText() {
  const from = $("range-from").value, to = $("range-to").value;
  if (!from && !to) return "all time";
  return `${from || "the start"} to ${to || "today"}`;
}

// --- attribution -------------------------------------------------------------------------------------

async function taxonomy() {
  const data = await gql("{ taxonomy { name phase value description } }");
  return new Map(data.taxonomy.map((d) => [d.name, d]));
}

function humanize(name) {
  return name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, " ");
}

function label(key, groupBy) {
  return groupBy === "EVENT" && !SPECIAL_ROWS[key] ? humanize(key) : key;
}

function explanation(key, groupBy, events) {
  if (SPECIAL_ROWS[key]) return SPECIAL_ROWS[key];
  const definition = groupBy === "EVENT" ? events.get(key) : null;
  if (!definition) return groupBy === "EVENT" ? `${key}: not in the taxonomy (unplanned).` : "";
  const phase = definition.phase ? `${humanize(definition.phase.toLowerCase())}, worth ${definition.value}` : "no phase";
  return `${key} · ${phase}. ${definition.description}`;
}

async function attribution() {
  const groupBy = $("group-by").value;
  const { from, to } = range();
  const [data, events] = await Promise.all([
    gql(`query($from: DateTime, $to: DateTime, $groupBy: AttributionGroup, $audience: ID) {
      attributionComparison(from: $from, to: $to, groupBy: $groupBy, audience: $audience) {
        model totalConversions totalValue rows { key conversions value share } } }`, { from, to, groupBy, audience: chosenAudience() }),
    groupBy === "EVENT" ? taxonomy() : Promise.resolve(new Map()),
  ]);
  return showAttribution(data.attributionComparison, groupBy, events);
}

function showAttribution(reports, groupBy, events) {
  const model = $("model").value, measure = $("measure").value;
  const report = reports.find((r) => r.model === model);
  $("model-help").textContent = MODELS[model];
  $("key-heading").textContent = GROUPS[groupBy];
  const rows = report.rows;
  fill("attribution-table", rows.map((r) => row([
    wrap("td", element("span", label(r.key, groupBy)), element("small", explanation(r.key, groupBy, events))),
    num(number.format(r.conversions)), num(number.format(r.value)), num(`${(100 * r.share).toFixed(1)} %`),
  ])), "No conversions in this date range.", 4);
  if (!rows.length) {
    clear("attribution-chart"); clear("comparison-chart");
    return `No conversions in ${rangeText()}.`;
  }
  const top = [...rows].sort((a, b) => b[measure] - a[measure]).slice(0, 12).map((r) => r.key);
  const unit = measure === "value" ? "value" : "conversions";
  draw("attribution-chart", {
    type: "bar",
    data: { labels: top.map((k) => label(k, groupBy)), datasets: [{ label: `${model} ${unit}`, backgroundColor: PALETTE[0], data: top.map((k) => rows.find((r) => r.key === k)[measure]) }] },
    options: { indexAxis: "y" },
  });
  draw("comparison-chart", {
    type: "bar",
    data: {
      labels: top.map((k) => label(k, groupBy)),
      datasets: reports.map((r, i) => ({
        label: r.model, backgroundColor: PALETTE[i % PALETTE.length],
        data: top.map((k) => (r.rows.find((x) => x.key === k) || { [measure]: 0 })[measure]),
      })),
    },
    options: { indexAxis: "y" },
  });
  return `${number.format(report.totalConversions)} conversions worth ${number.format(report.totalValue)} in ${rangeText()}.`;
}

// --- funnel, phases, LTV -----------------------------------------------------------------------------

async function funnel() {
  const steps = $("steps").value.split(",").map((s) => s.trim()).filter(Boolean);
  const data = await gql(`query($steps: [String!]!, $from: DateTime, $to: DateTime, $audience: ID) {
    funnel(steps: $steps, from: $from, to: $to, audience: $audience) { steps { name profiles conversionFromPrevious dropOff } } }`,
  { steps, ...range(), audience: chosenAudience() });
  const rows = data.funnel.steps;
  if (!rows.length || rows[0].profiles === 0) {
    clear("funnel-chart"); $("funnel-dropoff").replaceChildren();
    return `No profile reached the first step in ${rangeText()}.`;
  }
  draw("funnel-chart", { type: "bar", data: { labels: rows.map((r) => humanize(r.name)), datasets: [{ label: "profiles", data: rows.map((r) => r.profiles), backgroundColor: PALETTE[2] }] } });
  $("funnel-dropoff").replaceChildren(...rows.slice(1).map((r) =>
    element("li", `${humanize(r.name)}: ${(100 * (r.conversionFromPrevious || 0)).toFixed(1)} % continue, ${whole.format(r.dropOff)} drop off`)));
  return `${whole.format(rows[0].profiles)} profiles reached the first step in ${rangeText()}.`;
}

async function scores() {
  const data = await gql(`query($from: DateTime, $to: DateTime) { phaseDistribution(from: $from, to: $to) {
    asOf profiles withoutConsent rows { phase journeyOpen count } } }`, range());
  const figures = data.phaseDistribution;
  const count = (phase, open) => figures.rows.filter((r) => r.phase === phase && r.journeyOpen === open).reduce((n, r) => n + r.count, 0);
  const labels = [...PHASES.map((p) => humanize(p.toLowerCase())), "No phase", "Not shown"];
  const open = [...PHASES.map((p) => count(p, true)), count(null, true), 0];
  const ended = [...PHASES.map((p) => count(p, false)), count(null, false), figures.withoutConsent];
  const inJourney = open.reduce((a, b) => a + b, 0);
  $("phase-summary").textContent = `${whole.format(figures.profiles)} profiles active in ${rangeText()}: ${whole.format(inJourney)} in an open journey, `
    + `${whole.format(figures.withoutConsent)} without personalization consent (no phase shown).`;
  if (!figures.profiles) { clear("phase-chart"); return `No profiles in ${rangeText()}.`; }
  draw("phase-chart", {
    type: "bar",
    data: { labels, datasets: [
      { label: "journey open", data: open, backgroundColor: PALETTE[4] },
      { label: "journey ended or none", data: ended, backgroundColor: "#b8c0d0" },
    ] },
    options: { scales: { x: { stacked: true }, y: { stacked: true } } },
  });
  return `Counted over every profile as of ${new Date(figures.asOf).toLocaleString()}.`;
}

function band(bucket) {
  if (bucket.lower === null) return `below ${number.format(bucket.upper)}`;
  if (bucket.upper === null) return `${number.format(bucket.lower)} or more`;
  return `${number.format(bucket.lower)}–${number.format(bucket.upper)}`;
}

async function ltv() {
  const { from, to } = range();
  const [data, events] = await Promise.all([
    gql(`query($from: DateTime, $to: DateTime, $audience: ID) {
      ltvDistribution(from: $from, to: $to, audience: $audience) { customers revenue averageRevenue buckets { lower upper customers revenue } }
      ltvDrivers(from: $from, to: $to, audience: $audience) { event customersWith customersWithout meanWith meanWithout lift significant } }`,
    { from, to, audience: chosenAudience() }),
    taxonomy(),
  ]);
  const figures = data.ltvDistribution;
  $("ltv-summary").textContent = figures.customers
    ? `${whole.format(figures.customers)} ${chosenAudience() ? "members" : "customers"} with an order in ${rangeText()}: revenue ${number.format(figures.revenue)}, ${number.format(figures.averageRevenue)} per customer (net of refunds).`
    : `No orders in ${rangeText()}.`;
  if (figures.buckets.length) {
    draw("ltv-chart", {
      type: "bar",
      data: { labels: figures.buckets.map(band), datasets: [{ label: "customers by net revenue", data: figures.buckets.map((b) => b.customers), backgroundColor: PALETTE[3] }] },
    });
  } else {
    clear("ltv-chart");
  }
  fill("drivers", data.ltvDrivers.slice(0, 12).map((d) => row([
    wrap("td", element("span", humanize(d.event)), element("small", explanation(d.event, "EVENT", events))),
    num(whole.format(d.customersWith)), num(whole.format(d.customersWithout)), num(number.format(d.meanWith)),
    num(number.format(d.meanWithout)), num(d.lift === null ? "—" : `${(100 * d.lift).toFixed(0)} %`),
    d.significant ? "yes" : "no",
  ])), "No first sessions to compare in this date range.", 7);
  const whom = chosenAudience() ? `the chosen audience's members` : "every customer";
  return figures.customers ? `Counted over ${whom} in ${rangeText()}.` : `No orders in ${rangeText()}.`;
}

// --- one profile ------------------------------------------------------------------------------------

async function profile(event) {
  event.preventDefault();
  const id = $("profile-id").value.trim();
  const fields = "id userId phase engagementScore intentScore conversionProbability consent { purpose granted source } scoreExplanation { engagement { event weight } }";
  const data = await gql(`query($id: String) { byUser: profile(userId: $id) { ${fields} } byAnon: profile(anonymousId: $id) { ${fields} } }`, { id }, { fresh: true });
  const found = data.byUser || data.byAnon;
  const card = $("profile-card");
  if (!found) { card.replaceChildren(element("p", "No profile with this id.", "empty")); $("timeline").replaceChildren(); status(""); return; }
  const shown = (value) => (value === null ? "—" : value.toFixed(3));
  const rows = [["Profile", found.id], ["User id", found.userId || "—"],
    ["Phase", found.phase ? humanize(found.phase.toLowerCase()) : "—"],
    ["Engagement", found.engagementScore === null ? "not shown: no personalization consent" : shown(found.engagementScore)],
    ["Intent", shown(found.intentScore)], ["Conversion probability", shown(found.conversionProbability)],
    ["Consent", found.consent.map((c) => `${c.purpose.toLowerCase()}: ${c.granted ? "yes" : "no"} (${c.source.toLowerCase()})`).join(", ") || "none recorded"],
    ["Why these scores", found.scoreExplanation ? found.scoreExplanation.engagement.map((c) => `${humanize(c.event)} ${c.weight.toFixed(2)}`).join(", ") : "—"]];
  const dl = element("dl", undefined, "card");
  rows.forEach(([k, v]) => dl.append(element("dt", k), element("dd", v)));
  card.replaceChildren(dl);
  const journey = await gql("query($id: ID!) { journey(profileId: $id, first: 100) { edges { node { event timestamp phase value channel } } } }", { id: found.id }, { fresh: true });
  $("timeline").replaceChildren(...journey.journey.edges.map(({ node }) =>
    element("li", `${new Date(node.timestamp).toLocaleString()} — ${humanize(node.event)} (${node.phase ? node.phase.toLowerCase() : "no phase"}, ${node.value}) via ${node.channel}`)));
  status("");
}

// --- compliance -------------------------------------------------------------------------------------

let subject = null;
const KINDS = { EXPORT: "Export", ERASURE: "Erasure", OPT_OUT: "Opt-out" };
const IDENTIFIERS = { email: "e-mail", phone: "phone number", userId: "user id", anonymousId: "anonymous id" };

function badge(text, className = "") {
  return element("span", text, `badge ${className}`.trim());
}

async function requests() {
  const data = await gql("{ dsrRequests(first: 100) { edges { node { id kind regulation status receivedAt deadline completedAt overdue } } } }", {}, { fresh: true });
  fill("dsr", data.dsrRequests.edges.map(({ node }) => {
    const deadline = wrap("td", element("span", new Date(node.deadline).toLocaleDateString()));
    if (node.overdue) deadline.append(" ", badge("overdue", "overdue"));
    return row([
      new Date(node.receivedAt).toLocaleString(), KINDS[node.kind] || node.kind, node.regulation,
      wrap("td", badge(node.status.toLowerCase(), node.status === "COMPLETED" ? "done" : "")), deadline,
      element("td", node.id, "mono"),
    ]);
  }), "No requests yet.", 6);
}

async function compliance() {
  await requests();
  return "";
}

async function findSubject(event) {
  event.preventDefault();
  const kind = $("subject-kind").value, value = $("subject-value").value.trim();
  subject = { [kind]: value };
  const data = await gql("query($filter: ProfileFilter) { profiles(filter: $filter, first: 20) { edges { node { id userId anonymousIds lastSeen } } } }", { filter: subject }, { fresh: true });
  const nodes = data.profiles.edges.map((e) => e.node);
  const what = IDENTIFIERS[kind];
  const found = $("subject-found");
  if (!nodes.length) {
    found.replaceChildren(element("p", `Nothing is held under this ${what}. A request is still recorded; an erasure also stops it from being collected again.`, "help"));
  } else {
    const list = wrap("ul", ...nodes.map((n) => element("li", `${n.id}${n.userId ? ` · user id ${n.userId}` : ""} · ${n.anonymousIds.length} device id(s) · last seen ${n.lastSeen ? new Date(n.lastSeen).toLocaleDateString() : "—"}`)));
    found.replaceChildren(element("p", `${nodes.length} profile(s) hold this ${what}:`), list);
  }
  $("subject-actions").hidden = false;
  $("dsr-result").textContent = "";
  status("");
}

async function act(event) {
  const kind = event.target.dataset.kind;
  if (!kind || !subject) return;
  const what = IDENTIFIERS[Object.keys(subject)[0]];
  if (kind === "erase" && !window.confirm(`Erase everything held under this ${what}, on every device and merged profile? This cannot be undone.`)) return;
  const mutation = { export: "requestExport", optOut: "optOut", erase: "requestErasure" }[kind];
  const data = await gql(`mutation($s: SubjectInput!, $r: Regulation!) { r: ${mutation}(subject: $s, regulation: $r) { id kind status deadline downloadUrl } }`,
    { s: subject, r: $("dsr-regulation").value }, { fresh: true });
  const done = data.r;
  const result = $("dsr-result");
  result.replaceChildren(`${KINDS[done.kind]} ${done.id}: ${done.status.toLowerCase()}, due ${new Date(done.deadline).toLocaleDateString()}.`);
  if (done.downloadUrl) {
    const link = element("a", "Download the export (works once, for 24 hours)");
    link.href = done.downloadUrl;
    result.append(" ", link);
  }
  await requests();
}

// --- audiences ---------------------------------------------------------------------------------------

// Views whose reports can be restricted to an audience's members (the selector shows only there).
const BY_AUDIENCE = new Set(["attribution", "funnel", "ltv"]);
let audienceCount = 0;

function audienceSelector() {
  $("audience-choice").hidden = !audienceCount || !BY_AUDIENCE.has(current);
}

function chosenAudience() {
  return $("audience-filter").value || null;
}

function audienceChoices(list) {
  const keep = (id) => { const select = $(id); const value = select.value; return [select, value]; };
  const [filter, filtered] = keep("audience-filter");
  filter.replaceChildren(element("option", "Everyone"), ...list.map((a) => { const o = element("option", a.name); o.value = a.id; return o; }));
  filter.firstChild.value = "";
  filter.value = list.some((a) => a.id === filtered) ? filtered : "";
  const [pick, picked] = keep("audience-pick");
  pick.replaceChildren(...list.map((a) => { const o = element("option", a.name); o.value = a.id; return o; }));
  if (list.some((a) => a.id === picked)) pick.value = picked;
  audienceCount = list.length;
  audienceSelector();
}

// The selector on the report views: keys that may not list audiences (COMPLIANCE) simply do not see it.
async function loadAudienceChoices() {
  try {
    audienceChoices((await gql("{ audiences { id name } }")).audiences);
  } catch {
    audienceCount = 0;
    audienceSelector();
  }
}

async function audiences() {
  const list = (await gql("{ audiences { id name definition purpose size } }", {}, { fresh: true })).audiences;
  audienceChoices(list);
  fill("audiences-table", list.map((a) => row([a.name, a.definition, a.purpose ? humanize(a.purpose.toLowerCase()) : "—", num(whole.format(a.size))])),
    "No audiences yet: define one with the defineAudience mutation (see the README).", 4);
  if (!list.length) { clear("audience-chart"); return "No audiences defined."; }
  const chosen = list.find((a) => a.id === $("audience-pick").value) || list[0];
  const { from, to } = range();
  const end = to ? new Date(to) : new Date();
  const start = from ? new Date(Math.max(new Date(from).getTime(), end.getTime() - 365 * DAY)) : new Date(end.getTime() - 89 * DAY);
  const history = (await gql(`query($id: ID!, $from: DateTime!, $to: DateTime!) {
    audienceSizeHistory(id: $id, from: $from, to: $to) { day size } }`, { id: chosen.id, from: start.toISOString(), to: end.toISOString() })).audienceSizeHistory;
  draw("audience-chart", { type: "line", data: { labels: history.map((p) => p.day.slice(0, 10)),
    datasets: [{ label: chosen.name, data: history.map((p) => p.size), borderColor: PALETTE[0], backgroundColor: PALETTE[0] }] } });
  return `${whole.format(list.length)} audiences; ${chosen.name}: ${whole.format(chosen.size)} members now.`;
}

// --- navigation ---------------------------------------------------------------------------------------

// Each view loads and draws its data and returns its status line; a view left before it finished
// does not overwrite the status of the one shown now.
const VIEWS = { attribution, funnel, scores, ltv, audiences, compliance, profile: async () => "" };
const WITHOUT_DATES = new Set(["profile", "compliance"]);
let current = "attribution";

// The view is kept in the address's fragment (#ltv), so a reload or a bookmark opens it again.
async function show(view) {
  current = view;
  history.replaceState(null, "", `#${view}`);
  document.querySelectorAll(".view").forEach((s) => { s.hidden = s.id !== view; });
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  $("range").hidden = WITHOUT_DATES.has(view);
  audienceSelector();
  status("Loading…");
  try {
    const text = await VIEWS[view]();
    if (current === view) status(text);
  } catch (error) {
    if (current === view) status(error.message, true);
  }
}

function reload() {
  show(current);
}

function signedIn() {
  const has = Boolean(sessionStorage.getItem(KEY));
  $("signed-in").hidden = !has;
  $("session").hidden = !has;
  $("key-form").hidden = has;
  $("welcome").hidden = has;
  answers.clear();
  const asked = location.hash.slice(1);
  if (has) {
    loadAudienceChoices();
    show(Object.hasOwn(VIEWS, asked) ? asked : current);
  }
}

function legend() {
  $("model-legend").replaceChildren(...[...Object.entries(MODELS), ...Object.entries(SPECIAL_ROWS)].flatMap(([name, text]) =>
    [element("dt", name), element("dd", text.replace(/^[^:]+: /, ""))]));
}

function guarded(handler) {
  return (event) => handler(event).catch((error) => status(error.message, true));
}

document.addEventListener("DOMContentLoaded", () => {
  legend();
  $("key-form").addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem(KEY, $("key").value.trim()); $("key").value = ""; signedIn(); });
  $("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); signedIn(); });
  $("refresh").addEventListener("click", () => { answers.clear(); reload(); });
  document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));
  $("range-preset").addEventListener("change", presetChanged);
  ["range-from", "range-to"].forEach((id) => $(id).addEventListener("change", () => { $("range-preset").value = "custom"; reload(); }));
  ["group-by", "model", "measure"].forEach((id) => $(id).addEventListener("change", () => show("attribution")));
  $("audience-filter").addEventListener("change", reload);
  $("audience-pick").addEventListener("change", () => show("audiences"));
  $("funnel-form").addEventListener("submit", (e) => { e.preventDefault(); show("funnel"); });
  $("profile-form").addEventListener("submit", guarded(profile));
  $("subject-form").addEventListener("submit", guarded(findSubject));
  $("subject-actions").addEventListener("click", guarded(act));
  signedIn();
});
