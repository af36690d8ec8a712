// Browser code: flows. The list (GET /flows) and one flow (GET /flows/{id}) drawn as a graph: one box per
// node in columns by depth, an arrow from each dependency, each box colored by the node's state and
// linking to its job; under it a table with what each node waits for, its result or its error. Live, with
// Cancel flow. SVG is built with createElementNS and presentation attributes only (the CSP allows no
// inline style).
export const CLIENT_FLOWS = String.raw`
var SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  var node = document.createElementNS(SVG_NS, tag);
  Object.keys(attrs || {}).forEach(function (k) {
    if (k === 'text') node.textContent = String(attrs[k]);
    else if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, String(attrs[k]));
  });
  for (var i = 2; i < arguments.length; i++) if (arguments[i]) node.appendChild(arguments[i]);
  return node;
}

/** The state class of a node: finished states as they are, a waiting node 'waiting', a live job's status. */
function flowNodeClass(state) { return 'st-' + String(state).replace(/[^a-z-]/g, ''); }

/** Columns by depth (a node sits one column right of its deepest dependency); rows in definition order. */
function flowLayout(nodes) {
  var byName = {}, depth = {};
  nodes.forEach(function (n) { byName[n.name] = n; });
  function d(name, seen) {
    if (depth[name] !== undefined) return depth[name];
    if (seen[name]) return 0;
    seen[name] = true;
    var n = byName[name], m = 0;
    (n ? n.dependsOn : []).forEach(function (p) { m = Math.max(m, d(p, seen) + 1); });
    depth[name] = m;
    return m;
  }
  nodes.forEach(function (n) { d(n.name, {}); });
  var rows = {}, pos = {}, maxRow = 0, maxCol = 0;
  nodes.forEach(function (n) {
    var c = depth[n.name], r = rows[c] || 0;
    rows[c] = r + 1;
    pos[n.name] = { col: c, row: r };
    maxRow = Math.max(maxRow, r); maxCol = Math.max(maxCol, c);
  });
  // Each column centred on the tallest one.
  Object.keys(pos).forEach(function (name) { pos[name].row += (maxRow + 1 - rows[pos[name].col]) / 2; });
  return { pos: pos, cols: maxCol + 1, rows: maxRow + 1 };
}

var NODE_W = 168, NODE_H = 46, GAP_X = 64, GAP_Y = 22, PAD = 12;

function flowGraph(flow) {
  var lay = flowLayout(flow.nodes);
  var width = PAD * 2 + lay.cols * NODE_W + (lay.cols - 1) * GAP_X;
  var height = PAD * 2 + lay.rows * NODE_H + (lay.rows - 1) * GAP_Y;
  var at = function (name) {
    var p = lay.pos[name];
    return { x: PAD + p.col * (NODE_W + GAP_X), y: PAD + p.row * (NODE_H + GAP_Y) };
  };
  var root = svg('svg', { class: 'flow-graph', 'data-testid': 'flow-graph', width: width, height: height,
    viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'flow graph' });
  root.appendChild(svg('defs', null, svg('marker', { id: 'flow-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }))));
  flow.nodes.forEach(function (n) {
    n.dependsOn.forEach(function (dep) {
      if (!lay.pos[dep]) return;
      var a = at(dep), b = at(n.name);
      var x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2, mx = (x1 + x2) / 2;
      root.appendChild(svg('path', { class: 'edge', 'data-edge': dep + '->' + n.name, 'marker-end': 'url(#flow-arrow)',
        d: 'M ' + x1 + ' ' + y1 + ' C ' + mx + ' ' + y1 + ', ' + mx + ' ' + y2 + ', ' + x2 + ' ' + y2 }));
    });
  });
  flow.nodes.forEach(function (n) {
    var p = at(n.name);
    var g = svg('g', { class: 'node ' + flowNodeClass(n.state), 'data-node': n.name, 'data-state': n.state },
      svg('rect', { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 7 }),
      svg('text', { x: p.x + 10, y: p.y + 19, class: 'name', text: n.name.length > 20 ? n.name.slice(0, 19) + '…' : n.name }),
      svg('text', { x: p.x + 10, y: p.y + 36, class: 'state', text: n.state + ' \u00b7 ' + n.queue }));
    g.appendChild(svg('title', { text: n.name + ': ' + n.state + (n.waitingFor.length ? ' (waiting for ' + n.waitingFor.join(', ') + ')' : '') }));
    root.appendChild(n.jobId ? svg('a', { href: hashFor('job', [n.queue, n.jobId]), 'data-job-link': n.name }, g) : g);
  });
  return root;
}

function flowBadge(state) { return h('span', { class: 'badge flow-' + state, 'data-flow-state': state }, state); }

VIEWS.flows = async function (root) {
  var tbody = h('tbody');
  append(root, h('h1', null, 'Flows'),
    h('p', { class: 'muted' }, 'Jobs on any queues with dependencies between them, newest first (docs/workflows.md).'),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'flows-table' },
      h('thead', null, h('tr', null, ['id', 'name', 'state', 'nodes', 'created', 'finished'].map(function (c) { return h('th', null, c); }))),
      tbody)));
  await live(function () { return api('/flows?limit=100'); }, function (list) {
    fill(tbody, list.length ? list.map(function (f) {
      var counts = Object.keys(f.counts).filter(function (k) { return f.counts[k] > 0; })
        .map(function (k) { return f.counts[k] + ' ' + k; }).join(', ');
      return h('tr', { 'data-flow': f.id },
        h('td', { class: 'mono' }, h('a', { href: hashFor('flow', [f.id]) }, f.id)),
        h('td', null, f.name || '\u2014'), h('td', null, flowBadge(f.state)),
        h('td', null, f.nodeCount + (counts ? ' (' + counts + ')' : '')),
        h('td', null, timeCell(f.createdAt)), h('td', null, timeCell(f.finishedAt)));
    }) : h('tr', null, h('td', { colspan: '6', class: 'muted' }, 'No flows.')));
  });
};

VIEWS.flow = async function (root, args) {
  var id = args[0];
  var confirmArea = h('div', null);
  var box = h('div', null);
  append(root, confirmArea, box);
  await live(function () { return api('/flows/' + encodeURIComponent(id)); }, function (flow) {
    var cancel = !CFG.readOnly && flow.state === 'active' ? h('button', { class: 'danger', 'data-testid': 'cancel-flow', onclick: function () {
      confirmBar(confirmArea, 'Cancel every node of flow ' + flow.id + ' that has not finished?', 'Cancel flow', function () {
        act('Cancelled flow ' + flow.id, function () { return api('/flows/' + encodeURIComponent(flow.id) + '/cancel', { method: 'POST' }); });
      });
    } }, 'Cancel flow') : null;
    var rows = flow.nodes.map(function (n) {
      var outcome = n.waitingFor.length ? h('span', { class: 'muted' }, 'waiting for ' + n.waitingFor.join(', '))
        : n.state === 'succeeded' ? h('span', { class: 'mono' }, oneLine(n.result, 160))
        : n.error ? h('span', { class: 'error' }, n.error) : '';
      return h('tr', { 'data-node': n.name },
        h('td', null, n.name), h('td', null, badge(n.state)),
        h('td', null, h('a', { href: hashFor('jobs', [n.queue]) }, n.queue)),
        h('td', { class: 'mono' }, n.jobId ? h('a', { href: hashFor('job', [n.queue, n.jobId]) }, n.jobId) : '\u2014'),
        h('td', null, n.dependsOn.join(', ') || '\u2014'), h('td', null, outcome));
    });
    fill(box,
      h('h1', null, 'Flow ' + flow.id + ' ', flowBadge(flow.state), flow.name ? h('span', { class: 'muted' }, ' \u00b7 ' + flow.name) : null),
      h('p', { class: 'muted' }, 'Created ', timeCell(flow.createdAt), flow.finishedAt ? [', finished ', timeCell(flow.finishedAt)] : null), cancel,
      h('div', { class: 'panel graph-wrap' }, flowGraph(flow)),
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'flow-nodes' },
        h('thead', null, h('tr', null, ['node', 'state', 'queue', 'job', 'after', 'result / error / waiting for'].map(function (c) { return h('th', null, c); }))),
        h('tbody', null, rows))));
  });
};
`;
