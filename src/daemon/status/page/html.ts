/**
 * The status page's markup. Static: it holds no data, so nothing from the
 * config or an agent is ever written into HTML; `page.js` fills it in with
 * `textContent` from `/status` and `/agents`.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>agentpool status</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/page.css">
<script src="/page.js" defer></script>
</head>
<body>
<header class="bar">
  <h1>agentpool</h1>
  <p id="live" class="live" data-state="connecting" role="status" aria-live="polite">
    <span class="dot" aria-hidden="true"></span><span id="live-text">connecting…</span>
  </p>
</header>
<main>
  <section aria-label="Overview">
    <dl class="summary">
      <div><dt>Snapshot</dt><dd id="version">–</dd></div>
      <div><dt>Agents</dt><dd id="agent-count">–</dd></div>
      <div><dt>Last reload</dt><dd id="last-reload">–</dd></div>
      <div class="wide"><dt>Config</dt><dd id="config-path" class="mono">–</dd></div>
    </dl>
    <div id="reload-error" class="alert" role="alert" hidden>
      <h2>The last edit was rejected</h2>
      <p id="reload-error-note"></p>
      <pre id="reload-error-text"></pre>
    </div>
    <div id="reload-warnings" class="notice" hidden>
      <h2>Warnings</h2>
      <ul id="reload-warnings-list"></ul>
    </div>
  </section>
  <section aria-labelledby="agents-title">
    <h2 id="agents-title">Agents</h2>
    <table id="agents" class="rows">
      <thead><tr>
        <th scope="col">Name</th><th scope="col">Address</th><th scope="col">Version</th>
        <th scope="col">Runtime</th><th scope="col">Probe</th><th scope="col">Since</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-agents" class="empty" hidden>No agents in the pool.</p>
  </section>
  <section aria-labelledby="history-title">
    <h2 id="history-title">Recent reloads</h2>
    <table id="history" class="rows">
      <thead><tr>
        <th scope="col">When</th><th scope="col">Cause</th><th scope="col">Result</th>
        <th scope="col">Duration</th><th scope="col">Changes</th><th scope="col">Detail</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-history" class="empty" hidden>No reload attempts yet.</p>
  </section>
</main>
<footer>
  <noscript><p>This page needs JavaScript. The same state is at /status and /agents.</p></noscript>
  <p>JSON: <a href="/status">/status</a> · <a href="/agents">/agents</a> · <a href="/metrics">/metrics</a> · <a href="/events">/events</a></p>
</footer>
</body>
</html>
`;
