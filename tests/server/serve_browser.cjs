// Drives the dashboard in headless Chromium (Debian's `chromium`) with playwright-core, for
// tests/server/serve_browser_test.cpp. Usage:
//   PLAYWRIGHT_CORE=DIR node serve_browser.cjs URL TOKEN SUSPECT SCREENSHOT
// Signs in with the token, records that SUSPECT lives with children, waits for the suspect's
// devices to reach the top of the queue and for the alert, opens the device's detail, acknowledges
// the alert, reads the devices (filtered by state), links, charts and forecast, saves a
// screenshot, and prints one JSON line of what it saw.
'use strict';
const { runPage, main } = require('../common/browser.cjs');

main(async () => {
  const [url, token, suspect, shot] = process.argv.slice(2);
  // Only the server itself may be contacted: anything else (CDN, fonts) fails the test.
  const origin = new URL(url).origin;
  await runPage({ viewport: { width: 1400, height: 1000 },
                  allowed: (u) => u.startsWith(origin) }, async (page, seen) => {
    await page.goto(url);
    await page.fill('#token', token);
    await page.click('#signin');
    await page.waitForSelector('#app:not([hidden])');
    await page.waitForSelector('#queue tbody tr');
    seen.who = await page.textContent('#who-name');
    seen.before = await page.$$eval('#queue tbody tr', (rows) => rows.map((r) => r.dataset.exhibit));
    seen.overdue_before = await page.$$eval('#alerts .alert.overdue', (a) => a.length);
    seen.overdue_colour = await page.$eval('#alerts .alert.overdue',
                                           (a) => getComputedStyle(a).backgroundColor).catch(() => null);

    // Household facts: the suspect lives with children, with a reason.
    await page.selectOption('#suspect-form select[name=suspect]', suspect);
    await page.selectOption('#suspect-form select[name=lives_with_children]', 'yes');
    await page.fill('#suspect-form input[name=children_count]', '2');
    await page.fill('#suspect-form textarea[name=reason]', 'Home visit: two children live at the address');
    await page.click('#suspect-form button[type=submit]');
    await page.waitForFunction((s) => {
      const first = document.querySelector('#queue tbody tr');
      return first && first.children[6].textContent === s;
    }, suspect);
    seen.after = await page.$$eval('#queue tbody tr', (rows) => rows.map((r) => r.dataset.exhibit));
    seen.status = await page.textContent('#status');

    // The alert appears; the device detail shows why and the audit trail.
    const alertSel = `#alerts .alert:has-text("suspect ${suspect} ")`;
    await page.waitForSelector(alertSel);
    seen.alert_text = await page.textContent(alertSel + ' .title');
    const alertId = await page.getAttribute(alertSel, 'data-id');
    await page.click(`#queue tbody tr[data-exhibit="${seen.after[0]}"] button`);
    await page.waitForSelector('#device-panel:not([hidden]) #device-audit tbody tr');
    seen.reasons = await page.$$eval('#device-reasons li', (li) => li.map((x) => x.textContent));
    seen.audit = await page.$$eval('#device-audit tbody tr',
                                   (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));

    // Acknowledge with the social-care reference.
    await page.fill(`#alerts .alert[data-id="${alertId}"] input[name=reference]`, 'MASH-2026-0107');
    await page.click(`#alerts .alert[data-id="${alertId}"] button`);
    await page.waitForSelector(`#alerts .alert[data-id="${alertId}"]`, { state: 'detached' });
    seen.acknowledged = alertId;
    seen.alerts_left = await page.$$eval('#alerts .alert', (a) => a.map((x) => x.dataset.id));
    seen.images = await page.$$eval('img, video, picture, canvas', (a) => a.length);

    // The backlog: every device with its state and findings, links, charts and the forecast.
    await page.waitForSelector('#chart-breaches svg rect.bar', { state: 'attached' });
    // Drawn again since the household change: S2's devices are tier 0 today.
    await page.waitForFunction(() => document.querySelector('#chart-waiting ul.legend').textContent
      .includes('tier 0 \u00b7 low'));
    seen.devices = await page.$$eval('#devices tbody tr', (rows) => rows.map((r) => r.dataset.exhibit));
    for (const [name, value] of [['failed', 'failed'], ['progress', 'acquiring,acquired,carving'],
                                 ['done', 'review,done']]) {
      await page.selectOption('#devices-filter', value);
      await page.waitForFunction((v) => [...document.querySelectorAll('#devices tbody tr')]
        .every((r) => v.split(',').includes(r.dataset.state)), value);
      seen['devices_' + name] = await page.$$eval('#devices tbody tr',
        (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
    }
    seen.links = await page.$$eval('#links tbody tr',
                                   (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
    seen.waiting_areas = await page.$$eval('#chart-waiting polygon.area', (a) => a.length);
    seen.waiting_legend = await page.$$eval('#chart-waiting ul.legend li', (a) => a.map((x) => x.textContent));
    const values = (sel) => page.$$eval(sel, (a) => a.map((x) => Number(x.getAttribute('data-value'))));
    seen.weekly_intake = await values('#chart-weekly rect.bar.intake');
    seen.weekly_examined = await values('#chart-weekly rect.bar.examined');
    seen.waits = await page.$$eval('#chart-waits text.count', (a) => a.map((x) => x.textContent));
    seen.breach_titles = await page.$$eval('#chart-breaches rect.bar title', (a) => a.map((x) => x.textContent));
    seen.forecast_rate = await page.textContent('#forecast-rate');
    seen.forecast = await page.$$eval('#forecast tbody tr',
                                      (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
    // No file name, path or image reaches the page.
    seen.page_html = await page.evaluate(() => document.documentElement.outerHTML);
    await page.screenshot({ path: shot, fullPage: true });

    // A phone's screen (390 px wide): the page itself never scrolls sideways; a wide table
    // scrolls inside its panel.
    await page.setViewportSize({ width: 390, height: 844 });
    seen.narrow_overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    await page.screenshot({ path: shot.replace(/\.png$/, '-390.png'), fullPage: true });
  });
});
