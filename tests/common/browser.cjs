// Shared by the browser tests' scripts (tests/common/browser.hpp runs them): launches Debian's
// headless `chromium` through playwright-core (PLAYWRIGHT_CORE, CHROMIUM), opens one page that
// records every request `allowed` refuses and every console error into `seen`, runs `body`, and
// prints `seen` as one JSON line. Any exception fails the script with exit code 1.
'use strict';
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

async function runPage({ viewport, allowed }, body) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const seen = { requests: [], console: [] };
  try {
    const page = await browser.newPage({ viewport });
    page.setDefaultTimeout(30000);
    page.on('request', (r) => { if (!allowed(r.url())) seen.requests.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') seen.console.push(m.text()); });
    await body(page, seen);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
}

function main(fn) {
  fn().catch((e) => {
    console.error('browser test failed: ' + (e && e.stack ? e.stack : e));
    process.exit(1);
  });
}

module.exports = { runPage, main };
