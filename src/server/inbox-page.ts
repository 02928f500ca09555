// The review inbox page (HTML, CSS and script in one string; no build step).
export const INBOX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Waypoint review inbox</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 12px 20px; display: flex; gap: 16px; align-items: center; }
  header h1 { font-size: 17px; margin: 0; flex: 1; }
  main { max-width: 980px; margin: 20px auto; padding: 0 16px; }
  .card { background: #fff; border: 1px solid #d9dde5; border-radius: 8px; padding: 16px 18px; margin-bottom: 16px; }
  .card h2 { font-size: 15px; margin: 0 0 4px; }
  .muted { color: #667085; font-size: 12px; }
  .done li::marker { content: "✓ "; color: #1a7f37; } .done li.failed::marker { content: "✗ "; color: #c4320a; }
  .action { background: #f8f9fb; border-left: 3px solid #3b5bdb; padding: 8px 12px; margin: 10px 0; }
  .action > b { white-space: pre-wrap; }
  pre { background: #f1f3f6; padding: 8px; border-radius: 4px; white-space: pre-wrap; margin: 4px 0; font-size: 12px; }
  button { border: 1px solid #b8c0cc; background: #fff; border-radius: 5px; padding: 5px 12px; cursor: pointer; margin: 4px 6px 0 0; }
  button.primary { background: #3b5bdb; color: #fff; border-color: #3b5bdb; }
  label { display: block; margin: 6px 0 2px; font-weight: 600; font-size: 12px; }
  input[type=text], textarea { width: 100%; box-sizing: border-box; padding: 5px; border: 1px solid #b8c0cc; border-radius: 4px; font: 13px monospace; }
  .outcomes { font-size: 12px; color: #475467; margin: 6px 0; } .outcomes b { color: #1d2330; }
  .status { padding: 8px 12px; border-radius: 5px; margin-top: 8px; } .ok { background: #e6f4ea; } .err { background: #fdecea; color: #8a1c0a; }
  details summary { cursor: pointer; color: #475467; font-size: 12px; margin-top: 8px; }
  #empty { text-align: center; color: #667085; padding: 40px; }
</style>
</head>
<body>
<header><h1>Waypoint review inbox</h1><span class="muted" id="who"></span><button id="refresh">Refresh</button></header>
<main><div id="list"></div><div id="empty" hidden>Nothing waits for an answer.</div></main>
<script>
// A token given in the link (?token= or #token=) is kept in this browser and taken out of the address
// bar at once, so it does not stay in the history, a bookmark or a screenshot.
const params = new URLSearchParams(location.search);
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
const given = params.get("token") || fromHash;
if (given) {
  localStorage.setItem("waypoint-token", given);
  params.delete("token");
  history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
}
const token = localStorage.getItem("waypoint-token") || "";
document.getElementById("who").textContent = token ? "signed in with a token" : "no token (auth off?)";
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
async function api(path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: { "content-type": "application/json", ...(token ? { authorization: "Bearer " + token } : {}) } });
  const text = await res.text();
  // The API's own errors are plain text ("HTTP 422: ..."); Waypoint's routes answer JSON.
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) throw new Error((data && data.message) || text || res.status + " " + res.statusText);
  return data;
}
function field(name, schema, value) {
  const type = schema && schema.type;
  const shown = type === "string" ? (value ?? "") : JSON.stringify(value ?? null);
  const hint = schema && schema.description ? " (" + esc(schema.description) + ")" : "";
  return '<label>' + esc(name) + hint + '</label><input type="text" data-arg="' + esc(name) + '" data-type="' + esc(type || "json") + '" value="' + esc(shown) + '">';
}
function readArgs(form) {
  const args = {};
  for (const input of form.querySelectorAll("[data-arg]")) {
    const t = input.dataset.type;
    args[input.dataset.arg] = t === "string" ? input.value : JSON.parse(input.value);
  }
  return args;
}
// One card per pending interrupt. A request in the HITL shape (humanInTheLoopMiddleware's, the review
// node's, the doubt step's, any graph's) is shown with its actions and answered with the decisions it
// allows, no others; any other interrupt value is shown as JSON and answered with a JSON value (checked
// by the server against the value's response_schema, when it has one).
const TITLES = { in_doubt: "did this happen?", choice: "a decision is needed", scope: "permission needed", guard: "paused by a guardrail" };
function shell(t, p, title) {
  const card = document.createElement("div");
  card.className = "card";
  card.dataset.thread = t.threadId;
  card.dataset.interrupt = p.interruptId;
  card.innerHTML =
    "<h2>" + esc(t.agent) + ": " + esc(title) + "</h2>" +
    '<div class="muted">thread ' + esc(t.threadId) + " · " + esc(p.namespace ? p.namespace + " > " : "") + esc(p.node) + " · interrupt " + esc(p.interruptId) + (t.description ? " · " + esc(t.description) : "") + "</div>" +
    '<div class="body"></div><div class="buttons"></div><form class="form" hidden></form><div class="result"></div>' +
    "<details><summary>History</summary><ul><li class='muted'>loading…</li></ul></details>";
  // The history is read when the card's History is opened (the list reads no checkpoint).
  const details = card.querySelector("details");
  details.addEventListener("toggle", async () => {
    if (!details.open || details.dataset.loaded) return;
    details.dataset.loaded = "1";
    const list = details.querySelector("ul");
    try {
      const history = await api("/inbox/api/threads/" + encodeURIComponent(t.threadId) + "/history");
      list.innerHTML = history.map((h) => "<li>step " + h.step + ": " + esc(h.writes.join("; ") || (h.interrupted ? "waiting for an answer" : "-")) + "</li>").join("") || "<li>-</li>";
    } catch (e) {
      delete details.dataset.loaded;
      list.innerHTML = '<li class="status err">' + esc(e.message) + "</li>";
    }
  });
  return card;
}
// Send the answer to this interrupt (by id) and show what became of the thread, or why it was refused.
function answerer(t, p, card) {
  return async (answer) => {
    const result = card.querySelector(".result");
    result.innerHTML = '<div class="status">Applying…</div>';
    try {
      await api("/threads/" + t.threadId + "/runs/wait", { method: "POST", body: JSON.stringify({ assistant_id: t.assistantId, command: { resume: { [p.interruptId]: answer } } }) });
      const after = await api("/threads/" + t.threadId);
      const now = after.status === "idle" ? "done" : after.status;
      result.innerHTML = '<div class="status ok">Answer applied. Thread is now <b class="thread-status">' + esc(now) + "</b>.</div>";
      card.querySelector(".buttons").innerHTML = "";
      card.querySelector(".form").hidden = true;
      // The card no longer asks for anything: its title says what became of it, the old history goes
      // (Refresh shows the thread's next request, if any, as a new card).
      card.querySelector("h2").textContent = t.agent + ": answered, thread " + now;
      card.classList.add("answered");
      const old = card.querySelector("details");
      if (old) old.remove();
    } catch (e) {
      result.innerHTML = '<div class="status err">' + esc(e.message) + "</div>";
    }
  };
}
function render(t, p) {
  return p.request ? renderReview(t, p) : renderValue(t, p);
}
function renderValue(t, p) {
  const card = shell(t, p, "an answer is needed");
  card.classList.add("plain");
  const value = p.value;
  const schema = value && typeof value === "object" && !Array.isArray(value) ? value.response_schema || value.responseSchema : undefined;
  // The schema is shown once, under its own heading.
  const shown = schema ? Object.fromEntries(Object.entries(value).filter(([k]) => k !== "response_schema" && k !== "responseSchema")) : value;
  card.querySelector(".body").innerHTML =
    '<div><b>The interrupt</b><pre class="value">' + esc(JSON.stringify(shown, null, 2)) + "</pre></div>" +
    (schema ? '<div class="outcomes">The answer is checked against its <b>response_schema</b>:</div><pre class="schema">' + esc(JSON.stringify(schema, null, 2)) + "</pre>" : "");
  const form = card.querySelector(".form");
  form.hidden = false;
  form.innerHTML = '<label>Answer (JSON: "text", 3, true, {"key": "value"}, ...)</label><textarea rows="3" name="answer" data-answer></textarea><button class="primary" type="submit">Send answer</button>';
  const send = answerer(t, p, card);
  form.onsubmit = (ev) => {
    ev.preventDefault();
    let answer;
    try {
      answer = JSON.parse(form.answer.value);
    } catch (e) {
      card.querySelector(".result").innerHTML = '<div class="status err">The answer is not JSON (' + esc(e.message) + '); a text answer goes in quotes: "Lisbon".</div>';
      return;
    }
    send(answer);
  };
  return card;
}
function renderReview(t, p) {
  const req = p.request;
  const kind = req.kind || "review";
  const ctx = req.context;
  const card = shell(t, p, TITLES[kind] || "review requested");
  // Only what every action of the request allows (one decision per action, the same for each).
  const configs = req.actionRequests.map((a) => req.reviewConfigs.find((c) => c.actionName === a.name) || req.reviewConfigs[0]);
  const allowed = (configs[0] ? configs[0].allowedDecisions : []).filter((d) => configs.every((c) => c && c.allowedDecisions.includes(d)));
  card.dataset.allowed = allowed.join(",");
  const done = ctx.done.map((d) => '<li class="' + (d.outcome === "failed" ? "failed" : "") + '"><b>' + esc(d.step) + "</b>: " + esc(d.summary) + "</li>").join("");
  const actions = req.actionRequests.map((a) => '<div class="action"><b>' + esc(a.description) + "</b><pre>" + esc(a.name + " " + JSON.stringify(a.args, null, 2)) + "</pre></div>").join("");
  const outcomes = Object.entries(ctx.decisionOutcomes || {}).filter(([k]) => allowed.includes(k)).map(([k, v]) => "<div><b>" + esc(k) + "</b>: " + esc(v) + "</div>").join("");
  const notices = (t.notices || []).filter((n) => n.interruptId === p.interruptId).map((n) => '<div class="status err notice">' + esc((n.kind === "escalation" ? "Escalated to " + (n.group || "?") : "Reminder") + " at " + String(n.at).slice(0, 19).replace("T", " ") + ": " + n.message) + "</div>").join("");
  const doubts = t.openCalls.length ? '<div class="outcomes"><b>Calls in doubt:</b> ' + t.openCalls.map((o) => esc(o.tool + ": " + o.explanation)).join("; ") + "</div>" : "";
  card.querySelector(".body").innerHTML =
    "<div><b>Done so far</b><ul class=done>" + (done || "<li>nothing yet</li>") + "</ul></div>" +
    (ctx.notStarted && ctx.notStarted.length ? "<div><b>Not started:</b> " + esc(ctx.notStarted.join(", ")) + "</div>" : "") +
    (ctx.artifacts.length ? "<div><b>Artifacts:</b> " + ctx.artifacts.map((a) => esc(a.kind + " " + a.ref)).join(", ") + "</div>" : "") +
    notices + actions + '<div class="outcomes">' + outcomes + "</div>" + doubts;
  const buttons = card.querySelector(".buttons");
  const form = card.querySelector(".form");
  const send = answerer(t, p, card);
  const decide = (decisions) => send({ decisions });
  const n = req.actionRequests.length;
  const same = (d) => Array.from({ length: n }, () => d);
  const button = (label, cls, onClick) => {
    const b = document.createElement("button");
    b.textContent = label;
    if (cls) b.className = cls;
    b.type = "button";
    b.onclick = onClick;
    buttons.appendChild(b);
  };
  const askText = (label, build) => {
    form.hidden = false;
    form.innerHTML = "<label>" + esc(label) + '</label><textarea rows="2" name="message"></textarea><button class="primary" type="submit">Send</button>';
    form.onsubmit = (ev) => { ev.preventDefault(); decide(same(build(form.message.value))); };
  };
  if (allowed.includes("approve")) button("Approve", "primary", () => decide(same({ type: "approve" })));
  if (allowed.includes("grant_once")) button("Grant for this call", "primary", () => decide(same({ type: "grant_once" })));
  if (allowed.includes("grant_for_run")) button("Grant for the rest of the run", "", () => decide(same({ type: "grant_for_run" })));
  if (allowed.includes("edit") && n === 1) button("Edit", "", () => {
    const a = req.actionRequests[0];
    const schema = (configs[0] || {}).argsSchema || { properties: {} };
    form.hidden = false;
    form.innerHTML = Object.keys(schema.properties || a.args).map((k) => field(k, (schema.properties || {})[k], a.args[k])).join("") + '<button class="primary" type="submit">Approve with these arguments</button>';
    form.onsubmit = (ev) => { ev.preventDefault(); try { decide([{ type: "edit", editedAction: { name: a.name, args: readArgs(form) } }]); } catch (e) { card.querySelector(".result").innerHTML = '<div class="status err">' + esc(e.message) + "</div>"; } };
  });
  if (allowed.includes("reject")) button(kind === "scope" ? "Refuse" : "Reject", "", () => askText("Why (given to the agent)", (m) => (m ? { type: "reject", message: m } : { type: "reject" })));
  if (allowed.includes("respond")) button("Respond", "", () => askText("Result to give the agent instead", (m) => ({ type: "respond", message: m })));
  // A call in doubt: each button carries the decision's own name, as "What each decision does" shows it.
  if (allowed.includes("confirm_done")) button("confirm_done: it happened", "primary", () => askText("What you found (e.g. the reference)", (m) => (m ? { type: "confirm_done", message: m } : { type: "confirm_done" })));
  if (allowed.includes("run_again")) button("run_again: it did not happen, run it again", "", () => decide(same({ type: "run_again" })));
  if (allowed.includes("skip")) button("skip: leave it undone", "", () => askText("Why", (m) => (m ? { type: "skip", message: m } : { type: "skip" })));
  if (allowed.includes("choose")) for (const o of (configs[0] || {}).options || []) button(o.description, "", () => decide([o.tool ? { type: "choose", option: o.id, args: o.exampleArgs || {} } : { type: "choose", option: o.id }]));
  return card;
}
async function load() {
  const list = document.getElementById("list");
  try {
    const waiting = await api("/inbox/api/waiting");
    list.innerHTML = "";
    waiting.forEach((t) => t.pending.forEach((p) => list.appendChild(render(t, p))));
    document.getElementById("empty").hidden = waiting.length > 0;
  } catch (e) {
    list.innerHTML = '<div class="card status err">' + esc(e.message) + " — open /inbox?token=&lt;your token&gt;</div>";
  }
}
document.getElementById("refresh").onclick = load;
load();
</script>
</body>
</html>`;
