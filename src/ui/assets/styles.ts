// The dashboard's stylesheet, served as /ui/app.css (CSP allows only same-origin styles, no inline ones).
// System fonts only: the dashboard must work offline and load nothing from third parties. Every colour is
// a custom property, so dark mode is one block of overrides (DARK), applied when the system prefers dark
// unless the header's theme toggle chose light, or when it chose dark (kept in localStorage); the charts
// read the same properties. Below 700 px tables turn into one card per row, each cell labelled with its column
// (the script copies the header into data-label), so nothing scrolls sideways on a 390 px phone.
/** The dark palette: applied by the system's preference unless the user chose light, or by the toggle. */
const DARK = String.raw`--bg: #11151c; --panel: #1a202a; --ink: #e6e9ef; --muted: #9aa4b5; --line: #2c3441; --input-line: #3a4453;
    --thead: #1f2631; --code-bg: #141920; --hover: #252d39;
    --accent: #7fa2ff; --ok: #5cc98b; --warn: #e5b45a; --bad: #ff7b6b; --info: #a99cff;
    --accent-bg: #1d2b4d; --ok-bg: #16352a; --warn-bg: #3a2e16; --info-bg: #272247; --bad-bg: #432020; --neutral-bg: #262d38;
    --why-bg: #2a2416; --why-ok-bg: #14291f; --confirm-line: #6b5423;
    --c-claimable: #7fa2ff; --c-inflight: #5cc98b; --c-rate: #ff7b6b; --c-p95: #e5b45a;`;

export const APP_CSS = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #fff; --ink: #1d2330; --muted: #667085; --line: #e3e6eb; --input-line: #c9ced8;
  --thead: #fafbfc; --code-bg: #f3f4f7; --hover: #f0f2f6;
  --accent: #2f5bd3; --ok: #1f8a4c; --warn: #b7791f; --bad: #c0392b; --info: #5a4fcf;
  --accent-bg: #e6efff; --ok-bg: #e3f5ea; --warn-bg: #fff4e0; --info-bg: #efedff; --bad-bg: #fde8e6; --neutral-bg: #eef0f4;
  --why-bg: #fffaf0; --why-ok-bg: #f1faf4; --confirm-line: #f0d49b;
  --c-claimable: #2f5bd3; --c-inflight: #1f8a4c; --c-rate: #c0392b; --c-p95: #b7791f;
  --btn-primary: #2f5bd3; --btn-danger: #c0392b;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 14px; color: var(--ink); background: var(--bg);
}
@media (prefers-color-scheme: dark) {
  :root:not([data-theme="light"]) {
  ${DARK}
  }
}
:root[data-theme="dark"] {
  color-scheme: dark;
  ${DARK}
}
:root[data-theme="light"] { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top {
  display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; padding: 10px 20px;
  background: #1d2330; color: #fff;
}
header.top .brand { font-weight: 700; font-size: 16px; letter-spacing: .3px; }
header.top nav { display: flex; flex-wrap: wrap; gap: 4px; }
header.top nav a { color: #cfd6e4; padding: 5px 10px; border-radius: 6px; }
header.top nav a.active, header.top nav a:hover { background: #343c50; color: #fff; text-decoration: none; }
header.top .spacer { flex: 1; }
header.top label, header.top #refreshed { color: #cfd6e4; font-size: 13px; }
header.top #refreshed.bad { color: #ffb4a8; }
header.top button.theme { background: transparent; color: #cfd6e4; border-color: #4a5468; padding: 3px 10px; font-size: 13px; }
header.top button.theme:hover { background: #343c50; }
main { padding: 16px 20px 40px; max-width: 1400px; margin: 0 auto; }
h1 { font-size: 20px; margin: 4px 0 12px; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 20px 0 8px; overflow-wrap: anywhere; }
.why, .panel, .confirm, .error-box { overflow-wrap: anywhere; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin-bottom: 14px; }
.table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .4px; color: var(--muted); background: var(--thead); white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom: none; }
.muted { color: var(--muted); }
.mono, pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--code-bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 4px 0;
  white-space: pre-wrap; word-break: break-word; max-height: 360px; overflow: auto; }
td.payload { max-width: 380px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.error { max-width: 420px; color: var(--bad); word-break: break-word; }
td.actions-cell { white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  background: var(--neutral-bg); color: var(--muted); white-space: nowrap; }
.badge.ready { background: var(--accent-bg); color: var(--accent); }
.badge.in-flight, .badge.alive { background: var(--ok-bg); color: var(--ok); }
.badge.scheduled, .badge.retrying { background: var(--warn-bg); color: var(--warn); }
.badge.suspended, .badge.waiting { background: var(--info-bg); color: var(--info); }
.badge.exhausted, .badge.dead, .badge.paused { background: var(--bad-bg); color: var(--bad); }
.badge.succeeded, .badge.flow-succeeded { background: var(--ok-bg); color: var(--ok); }
.badge.failed, .badge.cancelled, .badge.flow-failed, .badge.flow-cancelled { background: var(--bad-bg); color: var(--bad); }
.badge.flow-active { background: var(--accent-bg); color: var(--accent); }
.graph-wrap { overflow-x: auto; }
.flow-graph rect { fill: var(--panel); stroke: var(--input-line); stroke-width: 1.5; }
.flow-graph text { fill: var(--ink); font-size: 13px; }
.flow-graph text.state { fill: var(--muted); font-size: 11px; }
.flow-graph path.edge { fill: none; stroke: var(--muted); stroke-width: 1.4; }
.flow-graph path.arrow { fill: var(--muted); }
.flow-graph g.st-succeeded rect { fill: var(--ok-bg); stroke: var(--ok); }
.flow-graph g.st-failed rect, .flow-graph g.st-cancelled rect { fill: var(--bad-bg); stroke: var(--bad); }
.flow-graph g.st-waiting rect { fill: var(--info-bg); stroke: var(--info); }
.flow-graph g.st-in-flight rect { fill: var(--accent-bg); stroke: var(--accent); stroke-width: 2.5; }
.flow-graph g.st-retrying rect, .flow-graph g.st-scheduled rect { fill: var(--warn-bg); stroke: var(--warn); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin-bottom: 14px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .v { font-size: 22px; font-weight: 700; font-variant-numeric: tabular-nums; }
.card .k { color: var(--muted); font-size: 12px; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-end; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 3px; }
input, select, button { font: inherit; color: var(--ink); }
input[type=text], input[type=datetime-local], input[type=password], select {
  padding: 5px 8px; border: 1px solid var(--input-line); border-radius: 6px; background: var(--panel); min-width: 120px; max-width: 100%; }
button { padding: 5px 12px; border-radius: 6px; border: 1px solid var(--input-line); background: var(--panel); cursor: pointer; }
button:hover { background: var(--hover); }
button.primary { background: var(--btn-primary); border-color: var(--btn-primary); color: #fff; }
button.danger { background: var(--btn-danger); border-color: var(--btn-danger); color: #fff; }
button:disabled { opacity: .5; cursor: default; }
.actions { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; margin: 8px 0; }
.panel h2 { margin-top: 0; }
.pager { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 10px 0; }
.why { border-left: 4px solid var(--warn); background: var(--why-bg); padding: 10px 14px; border-radius: 6px; margin-bottom: 14px; }
.why.ok { border-color: var(--ok); background: var(--why-ok-bg); }
.why ul { margin: 4px 0 0; padding-left: 18px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(320px, 100%), 1fr)); gap: 14px; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; word-break: break-word; min-width: 0; }
.toast { position: fixed; right: 16px; bottom: 16px; max-width: min(420px, calc(100vw - 32px)); padding: 10px 14px; border-radius: 8px;
  background: #1d2330; color: #fff; box-shadow: 0 4px 16px rgba(0,0,0,.2); z-index: 10; }
.toast.error { background: var(--bad); }
.confirm { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; padding: 8px 12px; margin: 8px 0;
  background: var(--warn-bg); border: 1px solid var(--confirm-line); border-radius: 6px; }
.chart-wrap { position: relative; }
canvas.chart { width: 100%; height: 220px; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; font-size: 12px; color: var(--muted); margin-top: 6px; }
.legend span.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.error-box { color: var(--bad); background: var(--bad-bg); border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
tr.head-row td { background: var(--why-ok-bg); }
.progress { display: flex; align-items: center; gap: 8px; }
.progress progress { flex: 1; max-width: 420px; height: 14px; }
ol.logs { list-style: none; margin: 0; padding: 6px 8px; max-height: 320px; overflow: auto; font-size: 12px;
  background: var(--bg, transparent); border: 1px solid var(--line); border-radius: 6px; overflow-wrap: anywhere; }
ol.logs li { white-space: pre-wrap; }
tr.blocked-row td, tr.alert-row td { background: var(--why-bg); }
@media (max-width: 700px) {
  header.top { padding: 8px 10px; }
  main { padding: 10px; }
  .hide-sm { display: none; }
  /* One card per row: the header row hides, every cell shows its column's name first. */
  .table-wrap { overflow-x: visible; }
  .table-wrap table, .table-wrap tbody, .table-wrap tr, .table-wrap td { display: block; width: 100%; }
  .table-wrap thead { display: none; }
  .table-wrap tr { border-bottom: 1px solid var(--line); padding: 6px 0; }
  .table-wrap tr:last-child { border-bottom: none; }
  .table-wrap td { border: none; padding: 3px 10px; display: flex; gap: 10px; text-align: left; max-width: none;
    overflow-wrap: anywhere; word-break: break-word; white-space: normal; }
  .table-wrap td[data-label]::before { content: attr(data-label); flex: 0 0 8.5em; color: var(--muted); font-size: 12px; }
  .table-wrap td.num { text-align: left; }
  .table-wrap td.payload { overflow: visible; text-overflow: clip; }
  .table-wrap td.hide-sm { display: none; }
}
`;
