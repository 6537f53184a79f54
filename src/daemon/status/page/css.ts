/** The status page's style sheet: system fonts, light and dark, tables that become cards on a phone. */
export const PAGE_CSS = `:root {
  --bg: #f6f7f9; --fg: #1b1f24; --muted: #5b6470; --card: #fff; --line: #d9dde3;
  --ok: #1a7f37; --warn: #9a6700; --bad: #c62828; --bad-bg: #fdecea; --warn-bg: #fff8e1;
  --accent: #0b57d0;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --fg: #e6e8eb; --muted: #9aa3ad; --card: #1a1f25; --line: #2c333b;
    --ok: #4ac26b; --warn: #d4a72c; --bad: #ff6b6b; --bad-bg: #3a1d1d; --warn-bg: #3a3218;
    --accent: #8ab4f8;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
main, .bar, footer { max-width: 72rem; margin: 0 auto; padding: 0 1rem; }
.bar { display: flex; align-items: center; justify-content: space-between; gap: 1rem; padding-top: 1rem; }
h1 { font-size: 1.4rem; margin: 0; letter-spacing: .01em; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
a { color: var(--accent); }
.mono, pre, .addr, .fp { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; }
.live { display: inline-flex; align-items: center; gap: .45rem; margin: 0; padding: .25rem .7rem;
  border: 1px solid var(--line); border-radius: 999px; background: var(--card); font-weight: 600; }
.dot { width: .65rem; height: .65rem; border-radius: 50%; background: var(--warn); }
.live[data-state="live"] .dot { background: var(--ok); box-shadow: 0 0 0 3px color-mix(in srgb, var(--ok) 25%, transparent); }
.live[data-state="offline"] .dot { background: var(--bad); }
.live[data-state="live"] { color: var(--ok); }
.live[data-state="offline"] { color: var(--bad); }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: .75rem; margin: 1rem 0 0; }
.summary div { background: var(--card); border: 1px solid var(--line); border-radius: .6rem; padding: .6rem .8rem; min-width: 0; }
.summary .wide { grid-column: 1 / -1; }
dt { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; }
dd { margin: .15rem 0 0; font-size: 1.1rem; font-weight: 600; overflow-wrap: anywhere; }
dd.mono { font-size: .95rem; font-weight: 500; }
.alert, .notice { border-radius: .6rem; padding: .4rem 1rem .8rem; margin-top: 1rem; }
.alert { background: var(--bad-bg); border: 1px solid var(--bad); }
.alert h2 { color: var(--bad); margin-top: .5rem; }
.notice { background: var(--warn-bg); border: 1px solid var(--warn); }
.notice h2 { color: var(--warn); margin-top: .5rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: .4rem 0 0; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: .6rem; overflow: hidden; }
th, td { text-align: left; padding: .5rem .7rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; font-weight: 600; }
tbody tr:last-child td { border-bottom: 0; }
td .sub { display: block; color: var(--muted); font-size: .82rem; font-weight: 400; overflow-wrap: anywhere; }
.ok { color: var(--ok); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
.pending { color: var(--warn); font-weight: 600; }
tr.failed td { background: color-mix(in srgb, var(--bad-bg) 60%, transparent); }
td.detail { overflow-wrap: anywhere; }
td.nowrap, td .fp { white-space: nowrap; }
.empty { color: var(--muted); }
footer { color: var(--muted); font-size: .85rem; padding-bottom: 2rem; }
tr.fresh td { animation: fresh 1.5s ease-out; }
@keyframes fresh { from { background: color-mix(in srgb, var(--accent) 18%, transparent); } }
@media (prefers-reduced-motion: reduce) { tr.fresh td { animation: none; } }
@media (max-width: 640px) {
  table.rows, .rows tbody, .rows tr, .rows td { display: block; width: 100%; }
  .rows thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  .rows { border: 0; background: none; }
  .rows tr { background: var(--card); border: 1px solid var(--line); border-radius: .6rem; margin-bottom: .6rem; padding: .3rem 0; }
  .rows td { border: 0; padding: .2rem .8rem; display: grid; grid-template-columns: 6.5rem 1fr; gap: .5rem; }
  .rows td::before { content: attr(data-label); color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; }
}
`;
