// The operator console: every request goes to the admin API with the key typed into the page as a
// bearer token. The key lives in this page's memory only (never in storage or the URL). Everything a
// plugin or an operator wrote (names, comments, errors) is set as text, never as HTML.
"use strict";

let adminKey = null;

const $ = (id) => document.getElementById(id);

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text == null ? "" : String(text);
  if (className) td.className = className;
  return td;
}

function say(text, ok) {
  $("status").textContent = text;
  $("status").className = ok ? "ok" : "error";
}

// One admin request; the JSON answer, or an Error carrying the status and the service's message.
async function admin(method, path, body) {
  const headers = { "Authorization": "Bearer " + adminKey, "X-Admin-Actor": $("actor").value || "console" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let answer = null;
  try { answer = await response.json(); } catch (_) { /* not JSON */ }
  if (!response.ok) {
    const message = answer && (answer.detail || answer.message || answer.error) || response.statusText;
    const error = new Error(response.status + ": " + (typeof message === "string" ? message : JSON.stringify(message)));
    error.status = response.status;
    throw error;
  }
  return answer;
}

function signer(signature) {
  if (!signature) return "";
  if (signature.status === "verified") return signature.key_id + " (" + signature.trusted_comment + ")";
  if (signature.status === "untrusted") return "untrusted: " + signature.reason;
  return signature.status.replace("_", " ");
}

function limits(l) {
  if (!l) return "";
  return "timeout " + l.timeout + " s, fuel " + l.fuel + ", memory " + l.memory_bytes + " B, result " +
    l.max_result_bytes + " B, response " + l.max_response_bytes + " B, " + l.max_concurrent_calls + " calls, " +
    l.max_requests_in_flight + " requests in flight";
}

function milliseconds(us) {
  return (us / 1000).toFixed(1) + " ms";
}

function renderPlugins(listing) {
  $("summary").textContent = listing.plugins.length + " plugins, " + listing.functions + " functions" +
    (listing.ready ? "" : " (not ready)") + (listing.database ? ", database generation " + listing.database.generation : "");
  const body = $("plugins");
  body.replaceChildren();
  for (const p of listing.plugins) {
    const row = body.insertRow();
    row.className = "plugin";
    row.dataset.name = p.name;
    cell(row, p.name + (p.status === "loaded" ? "" : " (" + p.status + ")"), "name");
    cell(row, p.version, "version");
    cell(row, p.sha256 ? p.sha256.slice(0, 12) : "", "sha256 mono").title = p.sha256 || "";
    cell(row, signer(p.signature), "signer");
    cell(row, p.functions.join(", "), "functions");
    cell(row, limits(p.limits), "limits");
    cell(row, p.egress.join(", "), "egress mono");
    cell(row, p.stats.calls, "calls");
    const failures = Object.entries(p.stats.failures_by_code).map(([code, n]) => code + " " + n).join(", ");
    const last = p.stats.last_error ? " — last: " + p.stats.last_error.code + ": " + p.stats.last_error.message : "";
    cell(row, failures + last, "failures");
    const latency = p.stats.latency;
    cell(row, latency ? milliseconds(latency.p50_us) + " / " + milliseconds(latency.p99_us) : "", "latency");
    const rejection = p.last_rejection;
    cell(row, rejection ? rejection.at + " " + rejection.error.stage + ": " + rejection.error.message : "", "rejection");
    const actions = row.insertCell();
    for (const [label, method, path, confirmText] of [
      ["Reload", "POST", "/reload", null],
      ["Roll back", "POST", "/rollback", null],
      ["Delete", "DELETE", "", "Remove plugin " + p.name + " from every instance?"],
    ]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.className = label.toLowerCase().replace(" ", "-");
      button.addEventListener("click", () => act(method, "/admin/plugins/" + encodeURIComponent(p.name) + path,
        label + " " + p.name, confirmText));
      actions.appendChild(button);
    }
  }
}

function renderAudit(page) {
  const body = $("audit");
  body.replaceChildren();
  for (const e of page.entries) {
    const row = body.insertRow();
    row.className = "audit-entry";
    cell(row, e.at);
    cell(row, (e.actor || "") + (e.key_id ? " [" + e.key_id + "]" : ""));
    cell(row, e.action, "action");
    cell(row, e.plugin, "plugin");
    cell(row, e.version);
    cell(row, e.outcome, "outcome");
    cell(row, e.detail);
  }
}

async function refresh() {
  const [listing, audit] = await Promise.all([admin("GET", "/admin/plugins"), admin("GET", "/admin/audit?limit=50")]);
  renderPlugins(listing);
  renderAudit(audit);
}

async function act(method, path, what, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return;
  try {
    const report = await admin(method, path);
    const outcome = report && report.outcome ? report.outcome + (report.version ? " " + report.version : "") : "done";
    const failed = report && report.error ? ": " + report.error.message : "";
    say(what + ": " + outcome + failed, !failed);
  } catch (error) {
    say(what + " failed: " + error.message, false);
  }
  await refresh().catch((error) => say("refreshing failed: " + error.message, false));
}

async function signIn(event) {
  event.preventDefault();
  adminKey = $("key").value;
  $("key").value = "";
  try {
    await refresh();
    $("refused").style.display = "none";
    $("signed-in").style.display = "block";
    say("signed in", true);
  } catch (error) {
    signOut();
    $("refused").textContent = "Refused: " + error.message;
    $("refused").style.display = "block";
  }
}

function signOut() {
  adminKey = null;
  $("signed-in").style.display = "none";
  $("plugins").replaceChildren();
  $("audit").replaceChildren();
  $("status").textContent = "";
}

function readFile(input, asText) {
  const file = input.files[0];
  if (!file) return Promise.resolve(null);
  return asText ? file.text() : file.arrayBuffer();
}

function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function upload() {
  const [manifest, wasm, signature] = await Promise.all([
    readFile($("upload-manifest"), true), readFile($("upload-wasm"), false), readFile($("upload-signature"), true),
  ]);
  if (manifest == null || wasm == null) return say("choose a plugin.toml and a plugin.wasm", false);
  const body = { manifest, wasm_base64: base64(wasm) };
  if (signature != null) body.signature = signature;
  try {
    const report = await admin("POST", "/admin/plugins", body);
    say("upload: " + report.outcome + " " + (report.plugin || "") + " " + (report.version || ""), true);
  } catch (error) {
    say("upload failed: " + error.message, false);
  }
  await refresh().catch((error) => say("refreshing failed: " + error.message, false));
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("refresh").addEventListener("click", () => refresh().catch((error) => say(error.message, false)));
  $("reload-all").addEventListener("click", () => act("POST", "/admin/plugins/reload", "reload all", null));
  $("upload").addEventListener("click", upload);
});
