// The dashboard's backlog panels, served as /backlog.js before the dashboard's own script: every
// device with its state and findings counts (filtered by state), the links between cases, the
// charts of the queue's history drawn as plain SVG by this script (no library, nothing fetched
// but the API), and the forecast. Every value goes in with textContent or as an attribute, never
// as HTML; no file name or picture is ever asked for.
#include "server/api.hpp"

namespace safehold::server {
namespace {

const char* kBacklogJs = R"JS(
'use strict';
window.SafeholdBacklog = (function () {
  const { $, el } = Safehold;
  // The SVG namespace, made from the page's own (XHTML's) so that no URL appears in the script.
  const NS = document.documentElement.namespaceURI.replace('1999/xhtml', '2000/svg');
  const W = 560, H = 220, L = 40, R = 8, T = 12, B = 34;

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  function when(iso) { return iso ? iso.replace('T', ' ').replace(/:\d\dZ$/, '') : '-'; }
  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : (many || one + 's')); }

  // A frame: the y axis from 0 to max (whole numbers), x labels under the plot area.
  function frame(max, labels, every) {
    const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img' });
    const top = Math.max(1, max);
    s.append(svg('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }),
             svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }),
             svg('text', { x: L - 4, y: T + 4, class: 'ylabel' }, top),
             svg('text', { x: L - 4, y: H - B + 4, class: 'ylabel' }, 0));
    const step = (W - L - R) / labels.length;
    labels.forEach((t, i) => {
      if (i % every === 0)
        s.append(svg('text', { x: L + step * i + step / 2, y: H - B + 14, class: 'xlabel' }, t));
    });
    return { s, top, step, y: (v) => T + (H - T - B) * (1 - v / top), h: (v) => (H - T - B) * v / top };
  }
  function legend(box, items) {
    box.append(el('ul', { class: 'legend' }, ...items.map(([cls, text]) =>
      el('li', {}, el('span', { class: 'key ' + cls }), text))));
  }
  function place(id, chart) {
    const box = $(id);
    for (const old of box.querySelectorAll('svg, ul.legend, p.empty')) old.remove();
    box.append(chart);
    return box;
  }

  // Devices waiting at the end of each day, stacked by tier and band (tier 0 at the bottom).
  function drawWaiting(w) {
    const series = w.series.filter((x) => x.counts.some((n) => n > 0));
    const totals = w.days.map((_, i) => series.reduce((a, x) => a + x.counts[i], 0));
    const f = frame(Math.max(0, ...totals), w.days.map((d) => d.slice(5)), Math.ceil(w.days.length / 6));
    const base = w.days.map(() => 0);
    const x = (i) => L + f.step * i + f.step / 2;
    series.forEach((ser) => {
      const lower = base.slice();
      ser.counts.forEach((n, i) => { base[i] += n; });
      const pts = base.map((v, i) => x(i) + ',' + f.y(v))
        .concat(lower.map((v, i) => x(i) + ',' + f.y(v)).reverse());
      const name = 'tier ' + ser.tier + ' \u00b7 ' + ser.band;
      f.s.append(svg('polygon', { points: pts.join(' '), class: 'area t' + ser.tier + ' b-' + ser.band },
                     svg('title', {}, name + ': ' + ser.counts[ser.counts.length - 1] + ' waiting now')));
    });
    const box = place('#chart-waiting', f.s);
    if (!series.length) box.append(el('p', { class: 'empty' }, 'No device waited in this period.'));
    legend(box, series.map((ser) => ['t' + ser.tier + ' b-' + ser.band,
      'tier ' + ser.tier + ' \u00b7 ' + ser.band + ': ' + ser.counts[ser.counts.length - 1] + ' now']));
  }

  // Bars: groups side by side (or stacked) per label; title(i, g) is each bar's tooltip.
  function bars(id, labels, groups, stacked, title, every) {
    const sums = labels.map((_, i) => groups.reduce((a, g) => a + g.values[i], 0));
    const max = stacked ? Math.max(0, ...sums) : Math.max(0, ...groups.flatMap((g) => g.values));
    const f = frame(max, labels, every || 1);
    labels.forEach((_, i) => {
      let y0 = H - B;
      groups.forEach((g, k) => {
        const v = g.values[i], h = f.h(v);
        const bw = stacked ? f.step * 0.7 : f.step * 0.8 / groups.length;
        const x = L + f.step * i + f.step * (stacked ? 0.15 : 0.1) + (stacked ? 0 : k * bw);
        const y = stacked ? y0 - h : H - B - h;
        if (stacked) y0 -= h;
        f.s.append(svg('rect', { x, y, width: bw, height: h, class: 'bar ' + g.cls, 'data-value': v },
                       svg('title', {}, title(i, g))));
      });
      if (!stacked && groups.length === 1)
        f.s.append(svg('text', { x: L + f.step * i + f.step / 2, y: f.y(groups[0].values[i]) - 3,
                                 class: 'count' }, groups[0].values[i]));
    });
    const box = place(id, f.s);
    legend(box, groups.map((g) => [g.cls, g.name]));
  }

  function drawCharts(h) {
    drawWaiting(h.waiting);
    const wk = h.weekly;
    bars('#chart-weekly', wk.weeks.map((d) => d.slice(5)),
         [{ name: 'taken in', cls: 'intake', values: wk.intake },
          { name: 'examined', cls: 'examined', values: wk.examined }], false,
         (i, g) => 'week of ' + wk.weeks[i] + ': ' + g.values[i] + ' ' + g.name, 2);
    const wt = h.waiting_time;
    bars('#chart-waits', wt.buckets.map((b) => b.replace(' days', 'd').replace(' day', 'd')),
         [{ name: 'waiting now', cls: 'waiting', values: wt.waiting_now }], false,
         (i, g) => wt.buckets[i] + ': ' + plural(g.values[i], 'device') + ' waiting');
    const br = h.breaches.bands;
    bars('#chart-breaches', br.map((b) => b.band),
         [{ name: 'met', cls: 'met', values: br.map((b) => b.met) },
          { name: 'breached', cls: 'breached', values: br.map((b) => b.breached) }], true,
         (i, g) => br[i].band + ': ' + g.values[i] + ' ' + g.name + ' of ' + br[i].due + ' due (' +
                   br[i].still_waiting + ' still waiting)');
  }

  function drawForecast(f) {
    let text;
    if (f.status === 'ok')
      text = 'Measured rate: ' + f.rate_per_day + ' devices examined a day (' + f.examined_in_window +
        ' in the last ' + f.window_days + ' days, ' + plural(f.stations, 'station') + '); the ' +
        f.intake_in_window + ' intakes of that window are assumed to repeat.';
    else text = 'No forecast: ' + f.message + '.';
    if (f.blocked) text += ' ' + plural(f.blocked, 'device') + ' at intake, without a source or failed ' +
                           (f.blocked === 1 ? 'is' : 'are') + ' not forecast.';
    $('#forecast-rate').textContent = text;
    $('#forecast tbody').replaceChildren(...f.backlog.map((g) => el('tr', { 'data-backlog': g.backlog },
      el('td', {}, g.backlog === 'tier-0' ? 'tier 0 (children)' : 'band ' + g.backlog),
      el('td', {}, g.devices), el('td', {}, g.clears_at ? when(g.clears_at) : '-'),
      el('td', {}, g.days !== null ? g.days + ' days' : g.note))));
  }

  function stateText(d) {
    switch (d.state) {
      case 'acquiring': case 'carving': return 'in progress: ' + d.state + ' at ' + d.station;
      case 'acquired': return 'in progress: acquired, waiting to be carved';
      case 'failed': return 'failed: ' + (d.last_error || 'no error recorded');
      case 'review': return 'done: examined, in review';
      case 'done': return 'done';
      default: return d.state;
    }
  }
  function findingsText(f) {
    if (!f) return 'no findings yet';
    const parts = [plural(f.artefacts, 'artefact'),
      f.known + ' known (' + f.known_indecent + ' indecent)',
      f.pdq_near + ' PDQ near',
      f.unknown_media + ' unknown media (' + f.camera_original + ' camera-original)',
      plural(f.messages, 'message'), plural(f.links, 'link')];
    return parts.join(' \u00b7 ');
  }

  async function loadDevices(api) {
    const filter = $('#devices-filter').value;
    const list = await api('GET', '/api/devices?limit=1000&state=' + encodeURIComponent(filter));
    $('#devices tbody').replaceChildren(...list.map((d) => el('tr',
      { 'data-exhibit': d.exhibit, 'data-state': d.state, class: 'state-' + d.state },
      el('td', {}, d.exhibit), el('td', {}, d['case']), el('td', { class: 'state' }, stateText(d)),
      el('td', { class: 'findings' }, findingsText(d.findings)))));
    $('#devices-count').textContent = '(' + plural(list.length, 'device') + ')';
  }

  async function loadLinks(api) {
    const list = await api('GET', '/api/links');
    $('#links tbody').replaceChildren(...list.map((l) => el('tr', { 'data-link': l.id },
      el('td', {}, l['case']), el('td', {}, l.exhibit), el('td', {}, l.other_case),
      el('td', {}, l.other_exhibit),
      el('td', {}, [l.exact ? l.exact + ' exact' : '', l.near ? l.near + ' PDQ near (distance ' +
                    l.min_distance + ')' : ''].filter(Boolean).join(', ')),
      el('td', {}, when(l.at)))));
    $('#links-none').hidden = list.length > 0;
  }

  // The devices and links at every refresh; the charts and the forecast (computed from the whole
  // audit chain on the server) when forced (after a change made here) or every 5 minutes.
  let drawnAt = 0;
  async function load(api, force) {
    const charts = force || Date.now() - drawnAt > 300000;
    const [h, f] = await Promise.all([charts ? api('GET', '/api/history') : null,
                                      charts ? api('GET', '/api/forecast') : null,
                                      loadDevices(api), loadLinks(api)]);
    if (!charts) return;
    drawCharts(h);
    drawForecast(f);
    drawnAt = Date.now();
  }

  return { load, loadDevices };
})();
)JS";

const char* kBacklogCss = R"CSS(
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap: .8rem; }
figure { margin: 0; }
figcaption { font-weight: 600; font-size: .9rem; margin-bottom: .2rem; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart .axis { stroke: #555; stroke-width: 1; }
svg.chart text { font-size: 10px; fill: #333; }
svg.chart .ylabel { text-anchor: end; }
svg.chart .xlabel, svg.chart .count { text-anchor: middle; }
.bar.intake { fill: #7a8ea3; } .bar.examined { fill: #1f6f3f; } .bar.waiting { fill: #0b4f8a; }
.bar.met { fill: #1f6f3f; } .bar.breached { fill: #c00000; }
.area.t0.b-very-high { fill: #7f0000; } .key.t0.b-very-high { background: #7f0000; }
.area.t0.b-high { fill: #b3261e; } .key.t0.b-high { background: #b3261e; }
.area.t0.b-medium { fill: #e46a5e; } .key.t0.b-medium { background: #e46a5e; }
.area.t0.b-low { fill: #f08c80; } .key.t0.b-low { background: #f08c80; }
.area.t0.b-none { fill: #f4c0b8; } .key.t0.b-none { background: #f4c0b8; }
.area.t1.b-very-high { fill: #08306b; } .key.t1.b-very-high { background: #08306b; }
.area.t1.b-high { fill: #0b4f8a; } .key.t1.b-high { background: #0b4f8a; }
.area.t1.b-medium { fill: #3b78b0; } .key.t1.b-medium { background: #3b78b0; }
.area.t1.b-low { fill: #6d9cc8; } .key.t1.b-low { background: #6d9cc8; }
.area.t1.b-none { fill: #a9c8e4; } .key.t1.b-none { background: #a9c8e4; }
.area { stroke: #fff; stroke-width: .5; }
ul.legend { list-style: none; padding: 0; margin: .2rem 0 0; display: flex; flex-wrap: wrap; gap: .2rem .8rem;
            font-size: .8rem; }
ul.legend .key { display: inline-block; width: .8rem; height: .8rem; margin-right: .25rem; vertical-align: -1px; }
.key.intake { background: #7a8ea3; } .key.examined, .key.met { background: #1f6f3f; }
.key.waiting { background: #0b4f8a; } .key.breached { background: #c00000; }
label.inline { display: inline-block; font-weight: 600; }
label.inline select { display: inline-block; width: auto; }
tr.state-failed td.state { color: var(--overdue); font-weight: 600; }
td.findings { font-size: .85rem; }
)CSS";

}  // namespace

const std::map<std::string, std::pair<std::string, std::string>>& backlog_page_assets() {
  static const std::map<std::string, std::pair<std::string, std::string>> assets = {
      {"/backlog.js", {"text/javascript; charset=utf-8", kBacklogJs}},
      {"/backlog.css", {"text/css; charset=utf-8", kBacklogCss}},
  };
  return assets;
}

}  // namespace safehold::server
