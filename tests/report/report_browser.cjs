// Opens a Safehold HTML report from disk in headless Chromium (Debian's `chromium`) with
// playwright-core, for tests/report/report_browser_test.cpp. Usage:
//   PLAYWRIGHT_CORE=DIR node report_browser.cjs REPORT.html SCREENSHOT.png OUT.pdf TABLE QUERY
// Records every request that is not the file itself or a data: URL, console errors and whether
// any evidence string ran as script; reads the headings; checks that pictures are blurred until
// clicked; types QUERY into TABLE's search box; emulates print; saves a PDF and a screenshot; and
// prints one JSON line of what it saw.
'use strict';
const { runPage, main } = require('../common/browser.cjs');
const { pathToFileURL } = require('url');

main(async () => {
  const [file, shot, pdf, table, query] = process.argv.slice(2);
  const url = pathToFileURL(file).href;
  await runPage({ viewport: { width: 1280, height: 900 },
                  allowed: (u) => u === url || u.startsWith('data:') }, async (page, seen) => {
    seen.dialogs = 0;
    page.on('dialog', async (d) => { seen.dialogs++; await d.dismiss(); });
    await page.goto(url);
    await page.waitForLoadState('load');
    seen.pwned = await page.evaluate(() => typeof window.pwned === 'undefined' ? null : window.pwned);
    seen.h2 = await page.$$eval('h2', (h) => h.map((x) => x.textContent));
    seen.h1 = await page.textContent('h1');
    seen.images = await page.$$eval('img', (a) => a.length);
    seen.blurred = await page.$$eval('img.thumb', (a) => a.filter((i) => getComputedStyle(i).filter.includes('blur')).length);
    if (seen.images > 0) {
      const first = page.locator('img.thumb').first();
      await first.scrollIntoViewIfNeeded();
      await first.click();
      seen.clicked_filter = await first.evaluate((i) => getComputedStyle(i).filter);
      seen.image_loaded = await first.evaluate((i) => i.complete && i.naturalWidth > 0);
      await first.click();
      seen.reclicked_filter = await first.evaluate((i) => getComputedStyle(i).filter);
    }
    const rows = `#${table} tbody tr`;
    seen.rows_total = await page.$$eval(rows, (r) => r.length);
    await page.fill(`input.filter[data-table="${table}"]`, query);
    seen.rows_shown = await page.$$eval(rows, (r) => r.filter((x) => !x.hidden && x.offsetParent !== null).length);
    seen.count_text = await page.textContent(`#${table}-count`);
    seen.shown_text = await page.$$eval(rows, (r) => r.filter((x) => !x.hidden).map((x) => x.textContent));

    await page.emulateMedia({ media: 'print' });
    seen.print_filter_display = await page.$eval('input.filter', (i) => getComputedStyle(i).display);
    seen.print_rows_shown = await page.$$eval(rows, (r) => r.filter((x) => getComputedStyle(x).display !== 'none').length);
    seen.print_nav_display = await page.$eval('nav', (n) => getComputedStyle(n).display);
    await page.pdf({ path: pdf, format: 'A4', printBackground: true });
    await page.emulateMedia({ media: 'screen' });
    await page.fill(`input.filter[data-table="${table}"]`, '');
    await page.screenshot({ path: shot, fullPage: true });
  });
});
