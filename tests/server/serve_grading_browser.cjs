// Drives the grading page in headless Chromium, for tests/server/serve_grading_browser_test.cpp.
// Usage: PLAYWRIGHT_CORE=DIR node serve_grading_browser.cjs URL G1 G2 G3 SCREENSHOT
// Three graders in turn, keyboard only: G1 checks the blur default, reveals one picture, grades
// the camera-original cluster with one key, splits a member off the next cluster, grades the rest
// with one key and the split picture with another; G2 and G3 grade the same clusters, G3
// disagreeing on one. Prints one JSON line of what it saw.
'use strict';
const { runPage, main } = require('../common/browser.cjs');

main(async () => {
  const [url, g1, g2, g3, shot] = process.argv.slice(2);
  const origin = new URL(url).origin;
  await runPage({ viewport: { width: 1300, height: 900 },
                  allowed: (u) => u.startsWith(origin) || u.startsWith('blob:') }, async (page, seen) => {
    await page.goto(url + '/grade');
    const seq = () => page.$eval('#cluster', (c) => Number(c.dataset.seq));
    const cluster = () => page.$eval('#cluster', (c) => c.dataset.cluster);
    const tiles = () => page.$$eval('#cluster .tile', (t) => t.map((x) => Number(x.dataset.id)));
    // Presses a key and waits for the next cluster to be shown.
    async function press(key) {
      const before = await seq();
      await page.keyboard.press(key);
      await page.waitForFunction((b) => Number(document.querySelector('#cluster').dataset.seq) > b, before);
    }
    async function signIn(token) {
      await page.fill('#token', token);
      await page.click('#signin');
      await page.waitForSelector('#app:not([hidden])');
      await page.waitForFunction(() => document.querySelector('#cluster').dataset.cluster !== undefined);
    }
    async function signOut() {
      await page.click('#signout');
      await page.waitForSelector('#signin-panel:not([hidden])');
    }
    async function grade(keys) {
      const done = [];
      for (const k of keys) {
        done.push([await cluster(), await tiles()]);
        await press(k);
      }
      done.push([await cluster(), await tiles()]);
      return done;
    }

    // G1: blur and greyscale by default on every picture.
    await signIn(g1);
    await page.waitForSelector('#cluster .tile img');
    seen.who = await page.textContent('#who-name');
    seen.filter = await page.$eval('#cluster .tile img', (i) => getComputedStyle(i).filter);
    seen.blurred = await page.$$eval('#cluster .tile', (t) => t.map((x) => x.classList.contains('blurred')));
    await page.keyboard.press('r');
    await page.waitForSelector('#cluster .tile:not(.blurred)');
    seen.revealed_filter = await page.$eval('#cluster .tile img', (i) => getComputedStyle(i).filter);
    await page.screenshot({ path: shot, fullPage: true });
    seen.g1 = [];
    seen.g1.push([await cluster(), await tiles()]);
    await press('a');                      // the camera-original cluster, one key
    seen.g1.push([await cluster(), await tiles()]);
    await page.keyboard.press('ArrowRight');
    await press('s');                      // split the second picture off
    seen.g1.push([await cluster(), await tiles()]);
    await press('b');                      // the rest of the cluster, one key
    seen.g1.push([await cluster(), await tiles()]);
    await press('c');                      // the split picture
    seen.g1.push([await cluster(), await tiles()]);
    seen.g1_status = await page.textContent('#status');
    seen.g1_today = await page.textContent('#today');
    seen.g1_end = await page.textContent('#cluster');
    await signOut();

    await signIn(g2);
    seen.g2 = await grade(['a', 'b', 'c']);
    await signOut();
    await signIn(g3);
    seen.g3 = await grade(['a', 'c', 'c']);   // disagrees on the second cluster
    seen.g3_today = await page.textContent('#today');
    seen.g3_blur_setting = await page.isChecked('#blur');
    await signOut();
  });
});
