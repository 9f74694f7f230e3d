// The grading page (docs/grading.md): one cluster at a time, keyboard only, pictures blurred and
// greyscale until revealed (per grader), a daily counter and a break reminder. Embedded like the
// dashboard: no CDN, no web font; pictures come only from /api/grading/items/ID/picture (what the
// carve stored) and are shown through blob URLs. Every value from the server goes in with
// textContent, never as HTML.
#include "server/api.hpp"

namespace safehold::server {
namespace {

const char* kHtml = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Safehold grading</title>
<link rel="stylesheet" href="/grade.css">
<script src="/common.js" defer></script>
<script src="/grade.js" defer></script>
</head>
<body>
<header>
  <h1>Safehold grading</h1>
  <div id="who" hidden><span id="who-name"></span> &middot; today <strong id="today">0</strong>
    <button id="signout" type="button">Sign out</button></div>
</header>
<section id="signin-panel" class="panel">
  <h2>Sign in</h2>
  <form id="signin-form">
    <label for="token">API token (role grader or manager)</label>
    <input id="token" name="token" type="password" autocomplete="off" required>
    <button id="signin" type="submit">Sign in</button>
  </form>
  <p id="signin-error" class="error" role="alert"></p>
</section>
<main id="app" hidden>
  <div class="bar">
    <label>Case <select id="case"></select></label>
    <label class="inline"><input id="blur" type="checkbox"> Blur and greyscale until revealed</label>
    <span id="progress"></span>
  </div>
  <p id="break" role="alert" hidden></p>
  <p id="status" role="status"></p>
  <section id="cluster" class="panel" data-seq="0"></section>
  <section class="panel keys">
    <h2>Keys</h2>
    <p id="keys-categories"></p>
    <p>Category key: the whole cluster &middot; Shift + category key: the selected picture only &middot;
      &larr; / &rarr;: previous / next picture &middot; S: split the selected picture off &middot;
      R: reveal the selected picture &middot; Z or Backspace: undo your last vote &middot; Esc: dismiss the reminder</p>
  </section>
</main>
</body>
</html>
)HTML";

const char* kCss = R"CSS(
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1b1b1b; background: #f5f6f7; }
header { display: flex; justify-content: space-between; align-items: center; padding: .6rem 1rem;
         background: #0d2235; color: #fff; }
header h1 { font-size: 1.2rem; margin: 0; }
main { padding: .8rem 1rem; }
.panel { background: #fff; border: 1px solid #c9ced4; border-radius: 6px; padding: .6rem .9rem; margin-bottom: 1rem; }
#signin-panel { max-width: 28rem; margin: 2rem auto; }
label { font-weight: 600; }
input[type=password], select { font: inherit; padding: .3rem; }
button { font: inherit; padding: .3rem .8rem; border-radius: 4px; border: 1px solid #0b4f8a; background: #0b4f8a;
         color: #fff; cursor: pointer; }
.bar { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; margin-bottom: .5rem; }
.error { color: #c00000; font-weight: 600; }
#status { min-height: 1.2rem; color: #225c22; font-weight: 600; }
#break { background: #fff1d6; border: 3px solid #8a4b00; padding: .6rem 1rem; border-radius: 6px; font-weight: 600; }
.tiles { display: flex; flex-wrap: wrap; gap: .8rem; }
.tile { width: 15rem; border: 3px solid #c9ced4; border-radius: 6px; padding: .4rem; background: #fafafa; }
.tile.selected { border-color: #0b4f8a; box-shadow: 0 0 0 3px #9cc3e6; }
.tile .pic { height: 10rem; display: flex; align-items: center; justify-content: center; overflow: hidden;
             background: #e8ebee; }
.tile .pic img { max-width: 100%; max-height: 100%; }
.tile.blurred .pic img { filter: blur(18px) grayscale(1); }
.tile .meta { font-size: .8rem; word-break: break-all; color: #333; }
.tile .none { font-size: .8rem; color: #555; padding: .3rem; }
)CSS";

const char* kJs = R"JS(
'use strict';
(function () {
  const { $, el } = Safehold;
  const api = (method, path, body) => session.api(method, path, body);
  let current = null, focus = 0, settings = { blur: true, break_after: 100 };
  let revealed = new Set(), urls = [], busy = false, seq = 0, lastToday = 0;
  const UK = { a: 'A', b: 'B', c: 'C', n: 'not-indecent', u: 'unsure' };

  function status(msg) { $('#status').textContent = msg; }
  function keymap() {
    if (!current) return {};
    if (current.policy.profile === 'uk') return UK;
    const m = {};
    for (const c of current.policy.categories) m[c] = c;
    return m;
  }
  function caseRef() { return $('#case').value; }

  async function picture(item, box) {
    if (!['jpeg', 'png', 'gif', 'bmp', 'webp'].includes(item.type)) {
      box.append(el('div', { class: 'none' }, 'No picture stored for a ' + item.type + ' (hash and metadata only).'));
      return;
    }
    const r = await fetch('/api/grading/items/' + item.id + '/picture', { headers: { 'Authorization': 'Bearer ' + session.token } });
    if (!r.ok) { box.append(el('div', { class: 'none' }, 'No stored picture (hash and metadata only).')); return; }
    const url = URL.createObjectURL(await r.blob());
    urls.push(url);
    box.append(el('img', { src: url, alt: 'item ' + item.id }));
  }

  function render() {
    const box = $('#cluster');
    for (const u of urls) URL.revokeObjectURL(u);
    urls = [];
    box.replaceChildren();
    box.dataset.seq = String(++seq);
    if (!current || current.cluster === null) {
      box.dataset.cluster = '';
      box.append(el('p', {}, 'Nothing left for you to grade in this case.'));
      $('#progress').textContent = '';
      return;
    }
    box.dataset.cluster = String(current.cluster);
    $('#progress').textContent = current.remaining + ' cluster(s) left for you';
    box.append(el('h2', {}, 'Cluster ' + current.cluster + ' (' + current.items.length + ' picture(s))'));
    const tiles = el('div', { class: 'tiles' });
    current.items.forEach((it, i) => {
      const blurred = settings.blur && !revealed.has(it.id);
      const t = el('div', { class: 'tile' + (i === focus ? ' selected' : '') + (blurred ? ' blurred' : ''),
                            'data-id': String(it.id) });
      const pic = el('div', { class: 'pic' });
      t.append(pic, el('div', { class: 'meta' },
        it.type + ' \u00b7 ' + it.artefact + ' on ' + it.exhibits.join(', ') + ' \u00b7 ' + it.copies + ' cop' +
        (it.copies === 1 ? 'y' : 'ies') + (it.camera_original ? ' \u00b7 camera original?' : '') +
        ' \u00b7 MD5 ' + it.md5));
      tiles.append(t);
      picture(it, pic);
    });
    box.append(tiles);
  }

  function showToday(n) {
    $('#today').textContent = String(n);
    const every = settings.break_after;
    if (every > 0 && Math.floor(n / every) > Math.floor(lastToday / every)) {
      $('#break').hidden = false;
      $('#break').textContent = 'You have graded ' + n + ' pictures today. Take a break away from the screen (Esc to dismiss).';
    }
    lastToday = n;
  }

  async function load() {
    if (!caseRef()) { current = null; render(); return; }
    current = await api('GET', '/api/grading/' + encodeURIComponent(caseRef()) + '/next');
    settings = current.settings;
    $('#blur').checked = settings.blur;
    $('#keys-categories').textContent = 'Categories (' + current.policy.profile + ', ' +
      current.policy.votes_needed + ' votes a picture): ' +
      Object.entries(keymap()).map(([k, c]) => k.toUpperCase() + ' ' + c).join(' \u00b7 ');
    focus = 0;
    if (current.today !== undefined) showToday(current.today);
    render();
  }

  async function act(f) {
    if (busy) return;
    busy = true;
    try { await f(); } catch (err) {
      if (err.status === 401) session.signOut('Your token is no longer valid: sign in again.');
      else status(err.message);
    } finally { busy = false; }
  }

  async function vote(category, one) {
    const item = current.items[focus];
    const body = one ? { items: [item.id], category } : { cluster: current.cluster, category };
    const r = await api('POST', '/api/grading/' + encodeURIComponent(caseRef()) + '/vote', body);
    status('Voted ' + category + ' on ' + r.items.length + ' picture(s).');
    showToday(r.today);
    await load();
  }

  document.addEventListener('keydown', (ev) => {
    if (!session.me || !current || $('#app').hidden) return;
    if (ev.target && (ev.target.tagName === 'INPUT' || ev.target.tagName === 'SELECT')) return;
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    const map = keymap();
    if (key === 'Escape') { $('#break').hidden = true; return; }
    if (key === 'z' || key === 'Backspace') {
      ev.preventDefault();
      return act(async () => {
        const r = await api('POST', '/api/grading/' + encodeURIComponent(caseRef()) + '/undo');
        status('Undone: your vote on ' + r.items.length + ' picture(s).');
        await load();
      });
    }
    if (current.cluster === null) return;
    if (key === 'ArrowRight' || key === 'ArrowLeft') {
      ev.preventDefault();
      const n = current.items.length;
      focus = (focus + (key === 'ArrowRight' ? 1 : n - 1)) % n;
      for (const [i, t] of [...document.querySelectorAll('.tile')].entries()) t.classList.toggle('selected', i === focus);
      return;
    }
    if (key === 's') {
      return act(async () => {
        const it = current.items[focus];
        await api('POST', '/api/grading/items/' + it.id + '/split');
        status('Picture ' + it.id + ' split off into a cluster of its own.');
        await load();
      });
    }
    if (key === 'r') {
      return act(async () => {
        const it = current.items[focus];
        await api('POST', '/api/grading/items/' + it.id + '/reveal');
        revealed.add(it.id);
        const t = document.querySelector('.tile[data-id="' + it.id + '"]');
        if (t) t.classList.remove('blurred');
        status('Picture ' + it.id + ' revealed.');
      });
    }
    if (Object.prototype.hasOwnProperty.call(map, key)) {
      ev.preventDefault();
      return act(() => vote(map[key], ev.shiftKey));
    }
  });

  $('#blur').addEventListener('change', () => act(async () => {
    settings = await api('PUT', '/api/grading/settings', { blur: $('#blur').checked });
    render();
  }));
  $('#case').addEventListener('change', () => act(load));

  const session = Safehold.session('safehold-grade-token', {
    allow: (me) => {
      if (me.role !== 'grader' && me.role !== 'manager') throw new Error('The ' + me.role + ' role may not grade.');
    },
    onSignIn: async () => {
      revealed = new Set(); lastToday = 0; $('#break').hidden = true; status('');
      const cases = await api('GET', '/api/grading');
      const sel = $('#case');
      sel.replaceChildren(...cases.map((c) => el('option', { value: c['case'] },
        c['case'] + ' (' + c.decided + ' of ' + c.items + ' decided)')));
      const open = cases.find((c) => c.open > 0);
      if (open) sel.value = open['case'];
      document.activeElement && document.activeElement.blur && document.activeElement.blur();
      await act(load);
    },
    onSignOut: () => {
      current = null;
      $('#cluster').replaceChildren();
      delete $('#cluster').dataset.cluster;
    },
  });
  if (session.token) session.signIn(session.token);
})();
)JS";

}  // namespace

const std::map<std::string, std::pair<std::string, std::string>>& grading_page_assets() {
  static const std::map<std::string, std::pair<std::string, std::string>> assets = {
      {"/grade", {"text/html; charset=utf-8", kHtml}},
      {"/grade.html", {"text/html; charset=utf-8", kHtml}},
      {"/grade.css", {"text/css; charset=utf-8", kCss}},
      {"/grade.js", {"text/javascript; charset=utf-8", kJs}},
  };
  return assets;
}

}  // namespace safehold::server
