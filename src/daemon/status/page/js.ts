/**
 * The status page's script. Data from the daemon reaches the document only
 * through `textContent` and attribute setters, never as markup. It reads
 * `/status` and `/agents`, and reads them again on every `/events` event;
 * `EventSource` reconnects by itself, and a stream the browser gave up on
 * (the daemon was down for a while) is opened again every 3 s.
 */
export const PAGE_JS = `"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var state = { status: null, agents: null };
  var source = null;
  var reopenTimer = 0;
  var refreshTimer = 0;
  var refreshing = false;
  var again = false;

  function setLive(kind, text) {
    var live = $("live");
    live.dataset.state = kind;
    $("live-text").textContent = text;
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function time(iso) {
    var node = el("time", clock(iso));
    node.dateTime = iso;
    node.title = iso;
    return node;
  }

  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString([], { hour12: false });
  }

  function ago(iso) {
    var ms = Date.now() - Date.parse(iso);
    if (!(ms >= 0)) return "just now";
    var s = Math.round(ms / 1000);
    if (s < 5) return "just now";
    if (s < 60) return s + " s ago";
    var m = Math.round(s / 60);
    if (m < 60) return m + " min ago";
    var h = Math.round(m / 60);
    if (h < 48) return h + " h ago";
    return Math.round(h / 24) + " days ago";
  }

  function cell(row, label, parts, className) {
    var td = row.insertCell();
    td.dataset.label = label;
    if (className) td.className = className;
    var box = document.createElement("div");
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (part === null || part === undefined) continue;
      box.appendChild(typeof part === "string" ? document.createTextNode(part) : part);
    }
    td.appendChild(box);
    return td;
  }

  function replaceRows(table, rows) {
    var body = table.tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    for (var i = 0; i < rows.length; i++) body.appendChild(rows[i]);
  }

  function renderStatus(status, previous) {
    $("version").textContent = String(status.version);
    $("agent-count").textContent = String(status.agents);
    $("config-path").textContent = status.configPath;
    var last = status.lastReload;
    var lastNode = $("last-reload");
    lastNode.textContent = "";
    var box = $("reload-error");
    var warnings = $("reload-warnings");
    if (!last) {
      lastNode.appendChild(el("span", "none yet", "pending"));
      box.hidden = true;
      warnings.hidden = true;
    } else {
      lastNode.appendChild(el("span", last.ok ? "ok" : "rejected", last.ok ? "ok" : "bad"));
      lastNode.appendChild(document.createTextNode(" at "));
      lastNode.appendChild(time(last.at));
      box.hidden = last.ok;
      if (!last.ok) {
        $("reload-error-text").textContent = last.error || "unknown error";
        $("reload-error-note").textContent = status.lastSuccess
          ? "The daemon keeps serving the config loaded at " + clock(status.lastSuccess.at) +
            " (snapshot " + status.lastSuccess.version + "). Fix the file and save it again."
          : "No config has been loaded yet. Fix the file and save it again.";
      }
      var list = $("reload-warnings-list");
      list.textContent = "";
      var items = (last.ok && last.warnings) || [];
      for (var i = 0; i < items.length; i++) list.appendChild(el("li", items[i]));
      warnings.hidden = items.length === 0;
    }

    var history = status.recentReloads || [];
    var seen = {};
    var before = (previous && previous.recentReloads) || [];
    for (var j = 0; j < before.length; j++) seen[before[j].at] = true;
    var rows = [];
    for (var k = 0; k < history.length; k++) {
      var r = history[k];
      var row = document.createElement("tr");
      if (!r.ok) row.className = "failed";
      if (previous && !seen[r.at]) row.className += " fresh";
      cell(row, "When", [time(r.at)], "nowrap");
      cell(row, "Cause", [r.cause]);
      cell(row, "Result", [el("span", r.ok ? "ok" : "rejected", r.ok ? "ok" : "bad")]);
      cell(row, "Duration", [formatMs(r.durationMs)], "nowrap");
      cell(row, "Changes", [r.ok ? "+" + r.added + " \\u2212" + r.removed + " ~" + r.changed : "\\u2013"], "nowrap");
      cell(row, "Detail", r.ok ? ["snapshot " + r.version] : failureDetail(r), "detail");
      rows.push(row);
    }
    replaceRows($("history"), rows);
    $("no-history").hidden = rows.length > 0;
  }

  // The first problem of a rejected file, and how many more; the alert above shows them all.
  function failureDetail(r) {
    var lines = String(r.error || "unknown error").split("\\n");
    var more = lines.length > 1 ? " (+" + (lines.length - 1) + " more)" : "";
    return [r.code ? el("span", r.code, "sub") : null, lines[0] + more];
  }

  function formatMs(ms) {
    if (typeof ms !== "number") return "\\u2013";
    return (ms < 10 ? ms.toFixed(1) : String(Math.round(ms))) + " ms";
  }

  function probeCell(row, agent) {
    if (agent.infoError !== undefined) {
      cell(row, "Probe", [
        el("span", "failing" + (agent.infoErrorCode ? " \\u00b7 " + agent.infoErrorCode : ""), "bad"),
        el("span", agent.infoError, "sub"),
      ]);
    } else if (agent.infoAt !== undefined) {
      cell(row, "Probe", [el("span", "answering", "ok")]);
    } else {
      cell(row, "Probe", [el("span", "probing\\u2026", "pending")]);
    }
    var since = agent.infoSince || agent.infoAt;
    if (since) {
      var when = el("span", ago(since));
      when.title = since;
      cell(row, "Since", [when], "nowrap");
    } else {
      cell(row, "Since", ["\\u2013"]);
    }
  }

  function renderAgents(agents) {
    var rows = [];
    for (var i = 0; i < agents.length; i++) {
      var a = agents[i];
      var row = document.createElement("tr");
      row.dataset.addr = a.addr;
      cell(row, "Name", [el("strong", a.name)]);
      var fp = a.tls && a.tls.certSha256 ? el("span", "cert " + a.tls.certSha256.slice(0, 23) + "\\u2026", "sub fp") : null;
      if (fp) fp.title = "client certificate SHA-256 " + a.tls.certSha256;
      cell(row, "Address", [el("span", a.addr, "addr"), fp]);
      cell(row, "Version", [a.version || "\\u2013"], "nowrap");
      cell(row, "Runtime", [a.runtime || "\\u2013"], "nowrap");
      probeCell(row, a);
      rows.push(row);
    }
    replaceRows($("agents"), rows);
    $("no-agents").hidden = rows.length > 0;
  }

  function getJson(path) {
    return fetch(path, { cache: "no-store", headers: { accept: "application/json" } }).then(function (res) {
      if (!res.ok) throw new Error(path + ": HTTP " + res.status);
      return res.json();
    });
  }

  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    Promise.all([getJson("/status"), getJson("/agents")]).then(function (both) {
      var previous = state.status;
      state.status = both[0];
      state.agents = both[1];
      renderStatus(state.status, previous);
      renderAgents(state.agents);
      document.body.dataset.version = String(state.status.version);
    }, function () {
      if (!source || source.readyState !== 1) setLive("offline", "daemon unreachable; retrying\\u2026");
    }).then(function () {
      refreshing = false;
      if (again) { again = false; refresh(); }
    });
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 30);
  }

  function connect() {
    clearTimeout(reopenTimer);
    if (source) source.close();
    source = new EventSource("/events");
    source.onopen = function () {
      setLive("live", "live");
      scheduleRefresh();
    };
    ["snapshot", "reload", "reload-error", "agent-info"].forEach(function (type) {
      source.addEventListener(type, scheduleRefresh);
    });
    source.onerror = function () {
      setLive("offline", "disconnected; reconnecting\\u2026");
      // The browser retries by itself unless it gave up (CLOSED): then open a new stream.
      if (source.readyState === 2) reopenTimer = setTimeout(connect, 3000);
    };
  }

  // Relative times ("3 min ago") move on without new data.
  setInterval(function () { if (state.agents) renderAgents(state.agents); }, 15000);
  refresh();
  connect();
})();
`;
