// The dashboard's stylesheet, served as /ui/app.css (CSP allows only same-origin styles, no inline ones).
// System fonts only: the dashboard must work offline and load nothing from third parties.
export const APP_CSS = String.raw`
:root {
  --bg: #f6f7f9; --panel: #fff; --ink: #1d2330; --muted: #667085; --line: #e3e6eb;
  --accent: #2f5bd3; --ok: #1f8a4c; --warn: #b7791f; --bad: #c0392b; --info: #5a4fcf;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 14px; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
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
header.top label { color: #cfd6e4; font-size: 13px; }
main { padding: 16px 20px 40px; max-width: 1400px; margin: 0 auto; }
h1 { font-size: 20px; margin: 4px 0 12px; }
h2 { font-size: 16px; margin: 20px 0 8px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin-bottom: 14px; }
.table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .4px; color: var(--muted); background: #fafbfc; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom: none; }
.muted { color: var(--muted); }
.mono, pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f3f4f7; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 4px 0;
  white-space: pre-wrap; word-break: break-word; max-height: 360px; overflow: auto; }
td.payload { max-width: 380px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.error { max-width: 420px; color: var(--bad); word-break: break-word; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  background: #eef0f4; color: var(--muted); white-space: nowrap; }
.badge.ready { background: #e6efff; color: var(--accent); }
.badge.in-flight, .badge.alive { background: #e3f5ea; color: var(--ok); }
.badge.scheduled, .badge.retrying { background: #fff4e0; color: var(--warn); }
.badge.suspended, .badge.waiting { background: #efedff; color: var(--info); }
.badge.exhausted, .badge.dead, .badge.paused { background: #fde8e6; color: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin-bottom: 14px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .v { font-size: 22px; font-weight: 700; font-variant-numeric: tabular-nums; }
.card .k { color: var(--muted); font-size: 12px; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-end; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 3px; }
input, select, button { font: inherit; }
input[type=text], input[type=datetime-local], input[type=password], select {
  padding: 5px 8px; border: 1px solid #c9ced8; border-radius: 6px; background: #fff; min-width: 120px; }
button { padding: 5px 12px; border-radius: 6px; border: 1px solid #c9ced8; background: #fff; cursor: pointer; }
button:hover { background: #f0f2f6; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
button:disabled { opacity: .5; cursor: default; }
.actions { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; margin: 8px 0; }
.panel h2 { margin-top: 0; }
.pager { display: flex; gap: 8px; align-items: center; margin: 10px 0; }
.why { border-left: 4px solid var(--warn); background: #fffaf0; padding: 10px 14px; border-radius: 6px; margin-bottom: 14px; }
.why.ok { border-color: var(--ok); background: #f1faf4; }
.why ul { margin: 4px 0 0; padding-left: 18px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 14px; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; word-break: break-word; }
.toast { position: fixed; right: 16px; bottom: 16px; max-width: 420px; padding: 10px 14px; border-radius: 8px;
  background: #1d2330; color: #fff; box-shadow: 0 4px 16px rgba(0,0,0,.2); z-index: 10; }
.toast.error { background: var(--bad); }
.confirm { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; padding: 8px 12px; margin: 8px 0;
  background: #fff4e0; border: 1px solid #f0d49b; border-radius: 6px; }
.chart-wrap { position: relative; }
canvas.chart { width: 100%; height: 220px; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; font-size: 12px; color: var(--muted); margin-top: 6px; }
.legend span.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.error-box { color: var(--bad); background: #fde8e6; border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
tr.head-row td { background: #f1faf4; }
tr.blocked-row td { background: #fffaf0; }
@media (max-width: 700px) {
  main { padding: 10px; }
  th, td { padding: 6px; }
  td.payload { max-width: 160px; }
  .hide-sm { display: none; }
}
`;
