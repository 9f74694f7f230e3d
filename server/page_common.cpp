// What the dashboard and the grading page share, served as /common.js before each page's own
// script: the element builder, the API call with the bearer token, and the sign-in panel (the
// token kept in sessionStorage, checked against /api/me, the panel and the app shown in turn).
// Every value goes in with textContent, never as HTML.
#include "server/api.hpp"

namespace safehold::server {
namespace {

const char* kCommonJs = R"JS(
'use strict';
window.Safehold = (function () {
  const $ = (s, root) => (root || document).querySelector(s);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
    return e;
  }

  // A signed-in session of one page: its token in sessionStorage under `key`. hooks.allow(me) may
  // throw to refuse a user (its message is shown); hooks.onSignIn(me) runs once the app is shown;
  // hooks.onSignOut() before the panel comes back.
  function session(key, hooks) {
    const s = { token: sessionStorage.getItem(key) || '', me: null };
    s.api = async function (method, path, body) {
      const opts = { method, headers: { 'Authorization': 'Bearer ' + s.token } };
      if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
      const r = await fetch(path, opts);
      let data = null;
      try { data = await r.json(); } catch (e) { data = null; }
      if (!r.ok) {
        const err = new Error((data && data.error) || ('HTTP ' + r.status));
        err.status = r.status;
        throw err;
      }
      return data;
    };
    s.signIn = async function (t) {
      s.token = t;
      try {
        s.me = await s.api('GET', '/api/me');
        if (hooks.allow) hooks.allow(s.me);
      } catch (err) {
        s.token = ''; s.me = null;
        $('#signin-error').textContent = err.status === 401 ? 'That token is not valid.' : err.message;
        return;
      }
      sessionStorage.setItem(key, s.token);
      $('#signin-error').textContent = '';
      $('#signin-panel').hidden = true; $('#app').hidden = false; $('#who').hidden = false;
      $('#who-name').textContent = s.me.name + ' (' + s.me.role + ')';
      await hooks.onSignIn(s.me);
    };
    s.signOut = function (msg) {
      sessionStorage.removeItem(key);
      s.token = ''; s.me = null;
      if (hooks.onSignOut) hooks.onSignOut();
      $('#app').hidden = true; $('#who').hidden = true; $('#signin-panel').hidden = false;
      $('#signin-error').textContent = msg || '';
    };
    $('#signin-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('#token').value.trim();
      $('#token').value = '';
      s.signIn(t);
    });
    $('#signout').addEventListener('click', () => s.signOut(''));
    return s;
  }

  return { $, el, session };
})();
)JS";

}  // namespace

const std::map<std::string, std::pair<std::string, std::string>>& common_page_assets() {
  static const std::map<std::string, std::pair<std::string, std::string>> assets = {
      {"/common.js", {"text/javascript; charset=utf-8", kCommonJs}},
  };
  return assets;
}

}  // namespace safehold::server
