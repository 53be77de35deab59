/**
 * The status page itself (served by status-page.ts): plain HTML, inline CSS
 * and one inline script, no framework and nothing fetched from elsewhere.
 * The script polls status.json every two seconds: the counts by state, the
 * credentials that need attention (down, then failing), and the page of the
 * table the operator is on, searched and filtered. Values are put in the page
 * with textContent only, never as HTML. Times are shown relative to the
 * server's clock (serverTime), not the browser's.
 */
import { CREDENTIAL_KIND_TABLE, CREDENTIAL_STATE_TABLE } from "@wxtoken/client";

export const STATUS_PAGE_SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
const view = { tokens: [""], search: "", state: "", kind: "", pageSize: 50 };
const STATES = ${JSON.stringify(Object.fromEntries(CREDENTIAL_STATE_TABLE.map((s) => [s.enumName, s.name])))};
const KINDS = ${JSON.stringify(Object.fromEntries(CREDENTIAL_KIND_TABLE.map((k) => [k.enumName, k.name])))};
let timer;

function query(extra) {
  const q = new URLSearchParams({ page_size: String(view.pageSize), ...extra });
  for (const [k, v] of [["search", view.search], ["state_filter", view.state], ["kind_filter", view.kind]]) if (v) q.set(k, v);
  return q;
}

async function get(q) {
  const res = await fetch("status.json?" + q, { cache: "no-store" });
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || res.statusText);
  // proto3 JSON leaves an empty list out.
  body.credentials = body.credentials || [];
  return body;
}

function ago(iso, now) {
  if (!iso) return "";
  const s = Math.round((Date.parse(iso) - now) / 1000);
  const a = Math.abs(s);
  const text = a < 60 ? a + " s" : a < 3600 ? Math.round(a / 60) + " min" : a < 172800 ? (a / 3600).toFixed(1) + " h" : Math.round(a / 86400) + " d";
  return a === 0 ? "now" : s > 0 ? "in " + text : text + " ago";
}

function cell(row, text, cls, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (title) td.title = title;
  row.appendChild(td);
  return td;
}

function rowOf(c, now) {
  const tr = document.createElement("tr");
  const state = STATES[c.state] || "idle";
  tr.dataset.key = c.appId + (c.agent ? "/" + c.agent : "") + "#" + (KINDS[c.kind] || "");
  tr.className = "s-" + state;
  cell(tr, c.appId + (c.agent ? " / " + c.agent : ""), "app", c.platform ? "platform " + c.platform : "");
  cell(tr, KINDS[c.kind] || c.kind, "kind");
  const badge = document.createElement("span");
  badge.className = "badge " + state;
  badge.textContent = state;
  cell(tr, "", "state").appendChild(badge);
  cell(tr, c.version ? "v" + c.version : "", "version");
  cell(tr, c.fingerprint || "", "fingerprint mono");
  cell(tr, ago(c.expiresAt, now), "expires", c.expiresAt || "");
  cell(tr, ago(c.nextRefreshAt, now), "next", c.nextRefreshAt || "");
  cell(tr, c.failingSince ? ago(c.failingSince, now) + (c.failedAttempts ? " (" + c.failedAttempts + "\u00d7)" : "") : "", "since", c.failingSince || "");
  // The reason, and WeChat's errcode when it answered one: "WECHAT_ERROR 40164".
  cell(tr, (c.lastErrorReason || "") + (c.lastErrorCode ? " " + c.lastErrorCode : ""), "error", c.lastErrorMessage || "");
  const used = c.quotaUsed || 0;
  const limit = c.quotaLimit || 0;
  const q = cell(tr, used.toLocaleString("en") + " / " + limit.toLocaleString("en"), "quota");
  const bar = document.createElement("div");
  bar.className = "bar";
  const fill = document.createElement("div");
  const share = limit ? Math.min(1, used / limit) : 0;
  fill.style.width = Math.round(share * 100) + "%";
  fill.className = share >= 0.8 ? "hot" : "";
  bar.appendChild(fill);
  q.appendChild(bar);
  cell(tr, c.refreshedBy || "", "replica mono");
  return tr;
}

function fill(tbody, list, now) {
  tbody.replaceChildren(...list.map((c) => rowOf(c, now)));
}

async function load() {
  clearTimeout(timer);
  try {
    const token = view.tokens[view.tokens.length - 1];
    const page = await get(query(token ? { page_token: token } : {}));
    const now = Date.parse(page.serverTime);
    const counts = page.counts || {};
    for (const k of ["total", "ok", "failing", "down", "idle"]) $("count-" + k).textContent = String(counts[k] || 0);
    const trouble = (counts.down || 0) + (counts.failing || 0);
    $("attention").hidden = trouble === 0;
    if (trouble > 0) {
      const [down, failing] = await Promise.all(["CREDENTIAL_STATE_DOWN", "CREDENTIAL_STATE_FAILING"].map((s) => get(new URLSearchParams({ state_filter: s, page_size: "20" }))));
      fill($("attention-rows"), down.credentials.concat(failing.credentials), now);
      $("attention-more").textContent = trouble > 40 ? "Showing 40 of " + trouble + ": filter the table by state for all." : "";
    }
    fill($("rows"), page.credentials, now);
    $("empty").hidden = page.credentials.length > 0;
    // -1: not counted (a search); proto3 JSON leaves a 0 out.
    const total = page.totalSize === -1 ? "" : " of " + (page.totalSize || 0);
    $("page-info").textContent = "page " + view.tokens.length + " \u00b7 " + page.credentials.length + " shown" + total;
    $("next").disabled = !page.nextPageToken;
    $("next").dataset.token = page.nextPageToken || "";
    $("prev").disabled = view.tokens.length === 1;
    $("replica").textContent = page.replica ? "replica " + page.replica : "";
    $("updated").textContent = "updated " + new Date().toLocaleTimeString() + " \u00b7 server time " + page.serverTime;
    $("problem").hidden = true;
  } catch (err) {
    $("problem").hidden = false;
    $("problem").textContent = "Cannot load status: " + err.message + " (retrying)";
  }
  timer = setTimeout(load, 2000);
}

function restart() {
  view.tokens = [""];
  load();
}

let typing;
$("search").addEventListener("input", (e) => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    view.search = e.target.value.trim();
    restart();
  }, 250);
});
$("state").addEventListener("change", (e) => { view.state = e.target.value; restart(); });
$("kind").addEventListener("change", (e) => { view.kind = e.target.value; restart(); });
$("size").addEventListener("change", (e) => { view.pageSize = Number(e.target.value); restart(); });
$("next").addEventListener("click", () => { view.tokens.push($("next").dataset.token); load(); });
$("prev").addEventListener("click", () => { if (view.tokens.length > 1) view.tokens.pop(); load(); });
for (const s of ["ok", "failing", "down", "idle"]) {
  $("card-" + s).addEventListener("click", () => {
    const name = "CREDENTIAL_STATE_" + s.toUpperCase();
    view.state = view.state === name ? "" : name;
    $("state").value = view.state;
    restart();
  });
}
load();
`;

const STYLE = `
:root { --ok: #1a7f37; --failing: #9a6700; --down: #cf222e; --idle: #6e7781; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", sans-serif; color: #1f2328; background: #fff; }
header { display: flex; align-items: baseline; gap: 1em; padding: 12px 20px; border-bottom: 1px solid var(--line); background: var(--bg); }
header h1 { font-size: 18px; margin: 0; }
header .meta { color: #57606a; font-size: 12px; }
main { padding: 16px 20px; }
.cards { display: flex; gap: 10px; flex-wrap: wrap; margin-bottom: 16px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 110px; background: #fff; cursor: pointer; text-align: left; font: inherit; }
.card b { display: block; font-size: 22px; }
.card.ok b { color: var(--ok); } .card.failing b { color: var(--failing); } .card.down b { color: var(--down); } .card.idle b { color: var(--idle); }
.card.total { cursor: default; }
section { margin-bottom: 18px; }
h2 { font-size: 15px; margin: 0 0 8px; }
#attention h2 { color: var(--down); }
.controls { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; margin-bottom: 8px; }
.controls input[type=search] { width: 280px; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
.controls select, .controls button { padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; background: #fff; font: inherit; }
.controls .grow { flex: 1; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: var(--bg); font-weight: 600; font-size: 12px; color: #57606a; }
td.error { white-space: normal; max-width: 260px; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
tr.s-down { background: #ffebe9; } tr.s-failing { background: #fff8c5; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-size: 12px; }
.badge.ok { background: var(--ok); } .badge.failing { background: var(--failing); } .badge.down { background: var(--down); } .badge.idle { background: var(--idle); }
.bar { height: 4px; background: #eaeef2; border-radius: 2px; margin-top: 2px; }
.bar div { height: 4px; background: var(--ok); border-radius: 2px; } .bar div.hot { background: var(--down); }
#problem { color: var(--down); font-weight: 600; }
.note { color: #57606a; font-size: 12px; }
`;

const TABLE_HEAD = `<thead><tr><th>App / agent</th><th>Kind</th><th>State</th><th>Version</th><th>Fingerprint</th><th>Expires</th><th>Next refresh</th><th>Failing since</th><th>Last error</th><th>Quota today</th><th>Refreshed by</th></tr></thead>`;

const STATE_OPTIONS = CREDENTIAL_STATE_TABLE.map((s) => `<option value="${s.enumName}">${s.name}</option>`).join("");
const KIND_OPTIONS = CREDENTIAL_KIND_TABLE.map((k) => `<option value="${k.enumName}">${k.name}</option>`).join("");
const CARDS = ["ok", "failing", "down", "idle"].map((s) => `<button class="card ${s}" id="card-${s}" title="Show only ${s}"><b id="count-${s}">0</b>${s}</button>`).join("");

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wxtoken status</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>wxtoken status</h1><span class="meta" id="replica"></span><span class="meta" id="updated">loading…</span></header>
<main>
<p id="problem" hidden></p>
<div class="cards"><div class="card total"><b id="count-total">0</b>credentials</div>${CARDS}</div>
<section id="attention" hidden>
<h2>Needs attention</h2>
<table>${TABLE_HEAD}<tbody id="attention-rows"></tbody></table>
<p class="note" id="attention-more"></p>
</section>
<section>
<h2>Credentials</h2>
<div class="controls">
<input type="search" id="search" placeholder="Search appid, agent, kind, platform" aria-label="Search">
<select id="state" aria-label="State"><option value="">every state</option>${STATE_OPTIONS}</select>
<select id="kind" aria-label="Kind"><option value="">every kind</option>${KIND_OPTIONS}</select>
<select id="size" aria-label="Page size"><option>20</option><option selected>50</option><option>100</option><option>500</option></select>
<span class="grow"></span>
<span id="page-info" class="note"></span>
<button id="prev" disabled>‹ Previous</button><button id="next" disabled>Next ›</button>
</div>
<table id="credentials">${TABLE_HEAD}<tbody id="rows"></tbody></table>
<p class="note" id="empty" hidden>No credential on this page matches. A search looks at 10,000 credentials per page: try Next.</p>
</section>
<p class="note">Never a token or secret here: fingerprints are the first 8 hex digits of a value's SHA-256. Live: refreshed every 2 s.</p>
</main>
<script>${STATUS_PAGE_SCRIPT}</script>
</body>
</html>
`;
