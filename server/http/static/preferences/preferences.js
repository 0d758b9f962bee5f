"use strict";
// The preference center talks only to /graphql on its own origin, with the customer token the shop hands
// it (URL fragment or postMessage). The token lives in this script's memory only, never in storage or a URL.

const NAMES = {
  NECESSARY: "Necessary", ANALYTICS: "Analytics", PERSONALIZATION: "Personalization",
  MARKETING_EMAIL: "Marketing e-mails", MARKETING_SMS: "Marketing text messages", ADVERTISING: "Advertising",
};
const SOURCES = {
  API: "set by the shop", EVENT: "from the shop's cookie banner", GPC: "your browser's Global Privacy Control signal",
  CUSTOMER: "by you", DSR: "by a privacy request", MERGE: "when your profiles were combined",
};
const REFUSED = ["UNAUTHENTICATED", "TOKEN_EXPIRED", "TOKEN_INVALID"];
const CHOICES = "consentMode consent { purpose granted source at } consentHistory { purpose granted source at }";
const $ = (id) => document.getElementById(id);
const when = (at) => new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(new Date(at));

let token = null;
let saving = Promise.resolve();  // one change at a time, so the ledger records them in the order made

class Unauthenticated extends Error {}

function say(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({}));
  const codes = (body.errors || []).map((e) => (e.extensions || {}).code);
  if (response.status === 401 || codes.some((code) => REFUSED.includes(code))) throw new Unauthenticated();
  if (!response.ok || codes.length || !body.data) throw new Error(`request failed (${codes[0] || response.status})`);
  return body.data;
}

function fail(error) {
  if (error instanceof Unauthenticated) {
    return finish("This link has expired or is not valid", "Please open your privacy choices again from the shop.");
  }
  say("Something went wrong. Please try again in a moment.", true);
}

// After an erasure or with a dead token there is nothing left to act on: the page only explains.
function finish(title, text) {
  for (const id of ["choices", "changes", "data"]) $(id).hidden = true;
  $("done-title").textContent = title;
  $("done-text").textContent = text;
  $("done").hidden = false;
  say("");
  $("done-title").focus();  // read out with its text (aria-describedby), so the status need not repeat it
}

function render(me) {
  const current = new Map(me.consent.map((decision) => [decision.purpose, decision]));
  for (const input of document.querySelectorAll("input[data-purpose]")) {
    const purpose = input.dataset.purpose;
    if (purpose === "NECESSARY") continue;
    const decision = current.get(purpose);
    // Without a decision the shop's rule applies: opt-in (off until you agree) or opt-out (on until you say no).
    const optOut = me.consentMode === "OPT_OUT";
    input.checked = decision ? decision.granted : optOut;
    $(`state-${purpose}`).textContent = decision
      ? `${decision.granted ? "On" : "Off"} since ${when(decision.at)} (${SOURCES[decision.source]})`
      : optOut ? "On: you have not opted out" : "Off: you have not made a choice yet";
  }
  const rows = [...me.consentHistory].reverse().map((decision) => {
    const row = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = decision.at;
    time.textContent = when(decision.at);
    const switched = decision.granted ? "on" : "off";
    row.append(time, ` — ${NAMES[decision.purpose]} switched ${switched} (${SOURCES[decision.source]})`);
    return row;
  });
  $("history").replaceChildren(...rows);
  $("no-history").hidden = rows.length > 0;
  for (const id of ["choices", "changes", "data"]) $(id).hidden = false;
  $("done").hidden = true;  // a fresh token from the shop brings back a page that had ended
}

async function load(newToken) {
  token = newToken;
  say("Loading your choices…");
  try {
    const data = await gql(`{ me { ${CHOICES} } }`);
    render(data.me);
    say("");
  } catch (error) {
    fail(error);
  }
}

async function save(input, granted) {
  const purpose = input.dataset.purpose;
  try {
    const data = await gql(
      `mutation($purpose: Purpose!, $granted: Boolean!) { setMyConsent(purpose: $purpose, granted: $granted) { ${CHOICES} } }`,
      { purpose, granted },
    );
    render(data.setMyConsent);
    say(`Saved: ${NAMES[purpose]} is now ${granted ? "on" : "off"}.`);
  } catch (error) {
    input.checked = !granted;
    fail(error);
  }
}

async function download() {
  say("Preparing your data…");
  try {
    const data = await gql("mutation { requestMyExport { downloadUrl } }");
    if (!data.requestMyExport.downloadUrl) return say("The shop holds no data about you.");
    // Only the path is used, so the file always comes from this origin, whatever host the server saw.
    const response = await fetch(new URL(data.requestMyExport.downloadUrl, location.href).pathname);
    if (!response.ok) throw new Error(`download failed (${response.status})`);
    const link = $("download-link");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([await response.blob()], { type: "application/json" }));
    link.hidden = false;
    link.focus();
    say("Your data is ready: use the “Save my-data.json” link to keep the file.");
  } catch (error) {
    fail(error);
  }
}

async function erase() {
  $("confirm").close();
  say("Erasing your data…");
  try {
    const data = await gql("mutation { requestMyErasure { status } }");
    if (data.requestMyErasure.status === "COMPLETED") {
      finish("Your data has been erased", "The shop no longer holds your profile, your activity or your choices.");
    } else {
      finish("Your request has been received", "The shop will erase your data and has recorded your request.");
    }
  } catch (error) {
    fail(error);
  }
}

function receive(event) {
  // Only the page that embeds this one may hand over a token (frame-ancestors limits who that can be).
  const data = event.data || {};
  if (event.source !== window.parent || data.type !== "granular:token" || typeof data.token !== "string") return;
  load(data.token);
}

document.addEventListener("change", (event) => {
  const input = event.target;
  const granted = input.checked;  // the state the customer chose, even if an earlier save re-renders first
  if (input.dataset.purpose) saving = saving.then(() => save(input, granted));
});
$("download").addEventListener("click", download);
$("erase").addEventListener("click", () => {
  $("confirm").showModal();
  $("confirm-cancel").focus();  // the safe choice first (autofocus is refused inside cross-origin frames)
});
$("confirm-cancel").addEventListener("click", () => $("confirm").close());
$("confirm-erase").addEventListener("click", erase);
$("confirm").addEventListener("close", () => { if ($("done").hidden) $("erase").focus(); });
window.addEventListener("message", receive);

const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromFragment) {
  history.replaceState(null, "", location.pathname + location.search);
  load(fromFragment);
} else if (window.parent !== window) {
  say("Waiting for the shop…");
  window.parent.postMessage({ type: "granular:ready" }, "*");
} else {
  say("Please open this page from the link the shop gave you.");
}
