// The backlog managers' dashboard: one page, its stylesheet and script, embedded in the binary.
// No CDN, no web font, no image: it works offline, and no media from evidence is ever shown.
// Every value from the server is put into the page with textContent, never as HTML.
#include "server/api.hpp"

namespace safehold::server {
namespace {

const char* kIndex = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Safehold examination queue</title>
<link rel="stylesheet" href="/app.css">
<link rel="stylesheet" href="/backlog.css">
<script src="/common.js" defer></script>
<script src="/backlog.js" defer></script>
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>Safehold examination queue</h1>
  <div id="who" hidden><span id="who-name"></span> <button id="signout" type="button">Sign out</button></div>
</header>

<section id="signin-panel" class="panel">
  <h2>Sign in</h2>
  <form id="signin-form">
    <label for="token">API token (from <code>safehold queue token create</code>)</label>
    <input id="token" name="token" type="password" autocomplete="off" required>
    <button id="signin" type="submit">Sign in</button>
  </form>
  <p id="signin-error" class="error" role="alert"></p>
</section>

<main id="app" hidden>
  <section id="alerts" aria-live="assertive"></section>
  <p id="status" role="status"></p>

  <div class="columns">
    <div class="wide">
    <section class="panel">
      <h2>Queue <small id="queue-count"></small></h2>
      <table id="queue">
        <thead><tr><th>#</th><th>Exhibit</th><th>Why this position</th><th>Deadline (UTC)</th>
          <th>State</th><th>Case</th><th>Suspect</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section class="panel" id="devices-panel">
      <h2>Devices: state and findings <small id="devices-count"></small></h2>
      <label class="inline">Show <select id="devices-filter">
        <option value="all">every device</option>
        <option value="intake,queued,needs-source">waiting</option>
        <option value="acquiring,acquired,carving">in progress</option>
        <option value="failed">failed</option>
        <option value="review,done">done</option>
        <option value="withdrawn">withdrawn</option>
      </select></label>
      <table id="devices">
        <thead><tr><th>Exhibit</th><th>Case</th><th>State</th><th>Findings (counts only)</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section class="panel" id="links-panel">
      <h2>Links between cases</h2>
      <table id="links">
        <thead><tr><th>Case</th><th>Exhibit</th><th>Other case</th><th>Other exhibit</th><th>Same material</th>
          <th>Found (UTC)</th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="links-none">No links between cases.</p>
    </section>
    <section class="panel" id="backlog-panel">
      <h2>Backlog history</h2>
      <div class="charts">
        <figure id="chart-waiting"><figcaption>Devices waiting by tier and band, last 90 days</figcaption></figure>
        <figure id="chart-weekly"><figcaption>Weekly intake against devices examined</figcaption></figure>
        <figure id="chart-waits"><figcaption>How long the waiting devices have waited</figcaption></figure>
        <figure id="chart-breaches"><figcaption>Deadlines of the last 90 days by band: met and breached</figcaption></figure>
      </div>
      <h3>Forecast: when the backlog clears</h3>
      <p id="forecast-rate"></p>
      <table id="forecast">
        <thead><tr><th>Backlog</th><th>Devices</th><th>Clears (UTC)</th><th>In</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section class="panel" id="grading-panel">
      <h2>Grading and submission <small><a href="/grade">grading page</a></small></h2>
      <table id="grading">
        <thead><tr><th>Case</th><th>Decided</th><th>In review</th><th>Carve done (UTC)</th>
          <th>Grading took</th><th>Exported (UTC)</th><th>Carve to export</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section class="panel" id="device-panel" hidden>
        <h2>Device <span id="device-title"></span> <button id="device-close" type="button">Close</button></h2>
        <dl id="device-facts"></dl>
        <h3>Why this position</h3>
        <ul id="device-reasons"></ul>
        <h3>Audit trail</h3>
        <table id="device-audit">
          <thead><tr><th>#</th><th>When (UTC)</th><th>Who</th><th>What</th><th>Reason</th></tr></thead>
          <tbody></tbody>
        </table>
      </section>
    </div>

    <aside>
      <section class="panel manager-only" id="suspect-panel">
        <h2>Suspect's household</h2>
        <form id="suspect-form">
          <label>Suspect <select name="suspect" required></select></label>
          <label>Lives with children
            <select name="lives_with_children"><option value="">(unchanged)</option>
              <option>yes</option><option>no</option><option>unknown</option></select></label>
          <label>Access to children (work, family, contact)
            <select name="access_to_children"><option value="">(unchanged)</option>
              <option>yes</option><option>no</option><option>unknown</option></select></label>
          <label>Number of children <input name="children_count" type="number" min="0" max="1000"></label>
          <label>Age bands <input name="age_bands" placeholder="0-4,5-11"></label>
          <label>Reason (recorded in the audit) <textarea name="reason" required></textarea></label>
          <button type="submit">Save household facts</button>
          <p class="error form-error" role="alert"></p>
        </form>
      </section>

      <section class="panel manager-only" id="case-panel">
        <h2>Case risk</h2>
        <form id="case-form">
          <label>Case <select name="case" required></select></label>
          <label>Risk band
            <select name="risk" required><option>very-high</option><option>high</option>
              <option>medium</option><option>low</option><option>none</option></select></label>
          <label>Reason (recorded in the audit) <textarea name="reason" required></textarea></label>
          <button type="submit">Change risk</button>
          <p class="error form-error" role="alert"></p>
        </form>
      </section>

    </aside>
  </div>
</main>
<footer>No media is shown here. Data refreshes every 30 seconds, the backlog's charts and forecast every 5 minutes.</footer>
</body>
</html>
)HTML";

const char* kCss = R"CSS(
:root { --fg: #1b1b1b; --bg: #f5f6f7; --panel: #ffffff; --line: #c9ced4; --accent: #0b4f8a;
        --overdue: #c00000; --open: #8a4b00; --open-bg: #fff1d6; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: var(--bg); }
header { display: flex; justify-content: space-between; align-items: center; padding: .6rem 1rem;
         background: #0d2235; color: #fff; }
header h1 { font-size: 1.2rem; margin: 0; }
footer { padding: .5rem 1rem; color: #555; font-size: .85rem; }
main { padding: .8rem 1rem; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .6rem .9rem;
         margin-bottom: 1rem; }
.panel h2 { font-size: 1.05rem; margin: .2rem 0 .6rem; }
#signin-panel { max-width: 28rem; margin: 2rem auto; }
.columns { display: flex; gap: 1rem; align-items: flex-start; }
.wide { flex: 1 1 auto; min-width: 0; overflow-x: auto; }
aside { flex: 0 0 24rem; }
label { display: block; margin: .35rem 0; font-weight: 600; font-size: .9rem; }
input, select, textarea { display: block; width: 100%; margin-top: .15rem; padding: .3rem; font: inherit;
                          border: 1px solid var(--line); border-radius: 4px; }
textarea { min-height: 3rem; }
button { font: inherit; padding: .3rem .8rem; border-radius: 4px; border: 1px solid var(--accent);
         background: var(--accent); color: #fff; cursor: pointer; margin-top: .3rem; }
button.link { background: none; border: none; color: var(--accent); padding: 0; text-decoration: underline;
              font-weight: 600; margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #e8ebee; font-size: .85rem; }
tr.tier0 td { background: #fde8e8; }
td.late { color: var(--overdue); font-weight: 700; }
.why { font-size: .85rem; color: #333; }
.badge { display: inline-block; padding: 0 .35rem; border-radius: 3px; font-size: .75rem; font-weight: 700;
         background: #6b0000; color: #fff; margin-right: .3rem; }
.error { color: var(--overdue); font-weight: 600; }
#status { min-height: 1.2rem; color: #225c22; font-weight: 600; }
#alerts .alert { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; padding: .7rem 1rem;
                 margin-bottom: .6rem; border-radius: 6px; border: 3px solid var(--open);
                 background: var(--open-bg); color: #3d2200; font-weight: 600; }
#alerts .alert.overdue { background: var(--overdue); border-color: #5c0000; color: #fff; font-size: 1.1rem;
                         box-shadow: 0 0 0 4px #ffd400; }
#alerts .alert .title { flex: 1 1 20rem; }
#alerts .alert input { width: 16rem; display: inline-block; margin: 0; }
#alerts .alert button { margin: 0; background: #fff; color: #5c0000; border-color: #5c0000; font-weight: 700; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: 0; }
dt { font-weight: 600; } dd { margin: 0; }
@media (max-width: 900px) { .columns { flex-direction: column; align-items: stretch; }
                            .wide { width: 100%; } aside { flex-basis: auto; width: 100%; } }
/* Phones: wide tables scroll inside their panel, never the page. */
@media (max-width: 600px) { main { padding: .5rem; } .panel { padding: .5rem; overflow-x: auto; }
                            th, td { padding: .25rem; font-size: .85rem; }
                            #alerts .alert input { width: 100%; } header { flex-wrap: wrap; } }
)CSS";

const char* kJs = R"JS(
'use strict';
(function () {
  const { $, el } = Safehold;
  let timer = null;
  const session = Safehold.session('safehold-token', {
    onSignIn: async (me) => {
      for (const p of document.querySelectorAll('.manager-only')) p.hidden = me.role !== 'manager';
      await refresh(true);
      timer = setInterval(refresh, 30000);
    },
    onSignOut: () => { if (timer) clearInterval(timer); },
  });
  const api = session.api;

  function when(iso) { return iso ? iso.replace('T', ' ').replace(/:\d\dZ$/, '') : '-'; }
  function status(msg) { $('#status').textContent = msg; }

  function explain(e) {
    const parts = [];
    if (e.tier === 0) parts.push('Safeguarding: suspect lives with or has access to children');
    parts.push('risk ' + e.risk);
    parts.push(e['class']);
    parts.push('waiting ' + e.waiting_days.toFixed(1) + ' days');
    return parts.join(' \u00b7 ');
  }

  async function loadQueue() {
    const rows = await api('GET', '/api/queue?limit=200');
    const tb = $('#queue tbody');
    tb.replaceChildren();
    for (const e of rows) {
      const ex = el('button', { class: 'link', type: 'button', title: 'Show device detail' }, e.exhibit);
      ex.addEventListener('click', () => showDevice(e.exhibit));
      const why = el('td', { class: 'why' });
      if (e.tier === 0) why.append(el('span', { class: 'badge' }, 'CHILDREN'));
      why.append(explain(e));
      const tr = el('tr', { class: e.tier === 0 ? 'tier0' : '', 'data-exhibit': e.exhibit },
        el('td', {}, e.rank), el('td', {}, ex), why,
        el('td', { class: e.overdue ? 'late' : '' }, when(e.deadline) + (e.overdue ? ' OVERDUE' : '')),
        el('td', {}, e.state), el('td', {}, e['case']), el('td', {}, e.suspect));
      tb.append(tr);
    }
    $('#queue-count').textContent = '(' + rows.length + ' shown, highest priority first)';
  }

  function span(sec) {
    if (sec === null || sec === undefined) return '-';
    const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60);
    return h + ' h ' + m + ' min';
  }
  async function loadGrading() {
    const list = await api('GET', '/api/grading');
    $('#grading tbody').replaceChildren(...list.map((g) => el('tr', { 'data-case': g['case'] },
      el('td', {}, g['case']), el('td', {}, g.decided + ' of ' + g.items), el('td', {}, g.review),
      el('td', {}, when(g.carve_done_at)), el('td', {}, span(g.grading_seconds)),
      el('td', {}, when(g.exported_at)), el('td', {}, span(g.submission_seconds)))));
  }

  async function loadAlerts() {
    const list = await api('GET', '/api/alerts?open=true');
    const box = $('#alerts');
    box.replaceChildren();
    for (const a of list) {
      const div = el('div', { class: 'alert' + (a.overdue ? ' overdue' : ''), 'data-id': a.id, role: 'alert' });
      div.append(el('span', { class: 'title' },
        (a.overdue ? 'OVERDUE SAFEGUARDING REFERRAL' : 'Safeguarding referral due') +
        ' \u2014 alert ' + a.id + ': suspect ' + a.suspect + ' (case ' + a['case'] + ') ' + a.reason +
        '. Refer to children\'s social care by ' + when(a.due_at) + ' UTC.'));
      if (session.me && session.me.role === 'manager') {
        const f = el('form', { class: 'ack' });
        const ref = el('input', { name: 'reference', required: true, placeholder: 'Social-care reference',
                                  'aria-label': 'Social-care reference for alert ' + a.id });
        f.append(ref, el('button', { type: 'submit' }, 'Acknowledge referral'));
        f.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          try {
            await api('POST', '/api/alerts/' + a.id + '/ack', { reference: ref.value });
            status('Alert ' + a.id + ' acknowledged.');
            await refresh(true);
          } catch (err) { status(''); alertError(div, err); }
        });
        div.append(f);
      }
      box.append(div);
    }
  }
  function alertError(div, err) {
    let p = $('.error', div);
    if (!p) { p = el('p', { class: 'error' }); div.append(p); }
    p.textContent = err.message;
  }

  async function loadChoices() {
    if (!session.me || session.me.role !== 'manager') return;
    const [cases, suspects] = await Promise.all([api('GET', '/api/cases'), api('GET', '/api/suspects')]);
    fill($('#case-form select[name=case]'), cases.map(c => [c.reference, c.reference + ' (risk ' + c.risk + ')']));
    fill($('#suspect-form select[name=suspect]'), suspects.map(s => [s.reference,
      s.reference + ' \u2014 case ' + s['case'] + (s.at_risk ? ' (children)' : '')]));
  }
  function fill(sel, items) {
    const keep = sel.value;
    sel.replaceChildren(...items.map(([v, t]) => el('option', { value: v }, t)));
    if (items.some(([v]) => v === keep)) sel.value = keep;
  }

  async function showDevice(exhibit) {
    const enc = encodeURIComponent(exhibit);
    const [x, audit] = await Promise.all([api('GET', '/api/devices/' + enc + '/explain'),
                                          api('GET', '/api/devices/' + enc + '/audit')]);
    $('#device-panel').hidden = false;
    $('#device-title').textContent = x.exhibit;
    const dl = $('#device-facts');
    dl.replaceChildren();
    const facts = [['Rank', x.rank ? x.rank + ' of ' + x.queued_total : 'not queued'], ['State', x.state],
      ['Case', x['case']], ['Suspect', x.suspect], ['Class', x['class']], ['Risk', x.risk],
      ['Lives with children', x.suspect_facts.lives_with_children],
      ['Access to children', x.suspect_facts.access_to_children],
      ['Intake (UTC)', when(x.intake_at)], ['Deadline (UTC)', when(x.deadline) + (x.overdue ? ' OVERDUE' : '')]];
    for (const [k, v] of facts) dl.append(el('dt', {}, k), el('dd', {}, v));
    $('#device-reasons').replaceChildren(...x.priority.reasons.map(r => el('li', {}, r)));
    $('#device-audit tbody').replaceChildren(...audit.map(r => el('tr', {},
      el('td', {}, r.seq), el('td', {}, when(r.at)), el('td', {}, r.user),
      el('td', {}, r.action + ' ' + r.entity + ' ' + r.entity_id), el('td', {}, r.reason))));
    $('#device-panel').scrollIntoView({ block: 'nearest' });
  }

  // force: after a change made here (the backlog's charts are drawn again at once).
  async function refresh(force) {
    try {
      await Promise.all([loadAlerts(), loadQueue(), loadChoices(), loadGrading(),
                         SafeholdBacklog.load(api, force === true)]);
    } catch (err) {
      if (err.status === 401) return session.signOut('Your token is no longer valid: sign in again.');
      status('Could not refresh: ' + err.message);
    }
  }

  function formError(form, msg) { $('.form-error', form).textContent = msg; }

  $('#suspect-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = { reason: f.reason.value };
    for (const k of ['lives_with_children', 'access_to_children', 'age_bands'])
      if (f[k].value) body[k] = f[k].value;
    if (f.children_count.value !== '') body.children_count = Number(f.children_count.value);
    try {
      const r = await api('PATCH', '/api/suspects/' + encodeURIComponent(f.suspect.value), body);
      formError(f, '');
      const keep = f.suspect.value;
      f.reset();
      f.suspect.value = keep;
      status('Suspect ' + r.suspect.reference + ' updated: ' + r.devices_reranked + ' device(s) re-ranked' +
             (r.alerts_raised.length ? ', ' + r.alerts_raised.length + ' safeguarding alert(s) raised.' : '.'));
      await refresh(true);
    } catch (err) { formError(f, err.message); }
  });

  $('#case-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    try {
      const r = await api('PATCH', '/api/cases/' + encodeURIComponent(f['case'].value),
                          { risk: f.risk.value, reason: f.reason.value });
      formError(f, '');
      f.reason.value = '';
      status('Case ' + r['case'].reference + ' is now risk ' + r['case'].risk + ': ' + r.devices_reranked +
             ' device(s) re-ranked.');
      await refresh(true);
    } catch (err) { formError(f, err.message); }
  });

  $('#devices-filter').addEventListener('change', () => SafeholdBacklog.loadDevices(api)
    .catch((err) => status('Could not list devices: ' + err.message)));

  $('#device-close').addEventListener('click', () => { $('#device-panel').hidden = true; });

  if (session.token) session.signIn(session.token);
})();
)JS";

}  // namespace

const std::map<std::string, std::pair<std::string, std::string>>& dashboard_assets() {
  static const std::map<std::string, std::pair<std::string, std::string>> assets = {
      {"/", {"text/html; charset=utf-8", kIndex}},
      {"/index.html", {"text/html; charset=utf-8", kIndex}},
      {"/app.css", {"text/css; charset=utf-8", kCss}},
      {"/app.js", {"text/javascript; charset=utf-8", kJs}},
  };
  static const auto merged = [] {
    auto all = assets;
    for (auto& [k, v] : grading_page_assets()) all.emplace(k, v);
    for (auto& [k, v] : common_page_assets()) all.emplace(k, v);
    for (auto& [k, v] : backlog_page_assets()) all.emplace(k, v);
    return all;
  }();
  return merged;
}

}  // namespace safehold::server
