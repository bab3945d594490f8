// Opens a report page in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; no browser of its own) and prints as JSON what
// a reader would meet: console errors, pictures that did not load, whether
// each volume canvas draws and changes when a slice slider moves, whether
// each player advances.
//
//   node spec/browser/check.js out/report/index.html [--shots DIR]
//
// --shots DIR also writes page.png (the top of the page) and volume.png
// (the first volume viewer) into DIR.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CNNVIS_CHROMIUM || '/usr/bin/chromium';
// Software WebGL (SwiftShader): headless with --disable-gpu has no GPU.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

async function canvasPixels(page, handle) {
  // The canvas's pixels read back in the page (preserveDrawingBuffer is on):
  // how many are not the background, and all of them to compare.
  return page.evaluate((c) => {
    const w = c.width, h = c.height;
    const copy = document.createElement('canvas');
    copy.width = w;
    copy.height = h;
    const ctx = copy.getContext('2d');
    ctx.drawImage(c, 0, 0);
    const d = ctx.getImageData(0, 0, w, h).data;
    // the background is the colour of the top left corner
    let nonwhite = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) nonwhite++;
    }
    return { w, h, nonwhite, pixels: Array.from(d) };
  }, handle);
}

function difference(a, b) {
  if (a.length !== b.length) return Infinity;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) n++;
  }
  return n;
}

async function main() {
  const argv = process.argv.slice(2);
  const file = path.resolve(argv[0]);
  const shots = argv[1] === '--shots' ? path.resolve(argv[2]) : null;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cnnvis-chromium-'));
  const result = { console_errors: [], page_errors: [], failed_requests: [], dialogs: [], images: [],
                   volumes: [], players: [], webgl2: false };
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1200, height: 900 },
      deviceScaleFactor: 1,
    });
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') result.console_errors.push(m.text()); });
    page.on('pageerror', (e) => result.page_errors.push(String(e)));
    page.on('requestfailed', (r) => result.failed_requests.push(r.url()));
    page.on('dialog', (d) => { result.dialogs.push(d.message()); d.dismiss(); });
    await page.goto('file://' + file, { waitUntil: 'load' });
    result.webgl2 = await page.evaluate(() => !!document.createElement('canvas').getContext('webgl2'));
    result.ids = await page.evaluate(() => Array.from(document.querySelectorAll('h2[id]')).map((h) => h.id));
    result.toc = await page.evaluate(() => Array.from(document.querySelectorAll('nav a')).map((a) => a.getAttribute('href')));
    result.images = await page.evaluate(() => Array.from(document.images).map((i) => ({
      src: i.getAttribute('src'), complete: i.complete, naturalWidth: i.naturalWidth })));
    // markup that a name from the model or a label file would have injected
    result.injected = await page.evaluate(() => document.querySelectorAll('img[src="x"], b').length);

    for (const vol of await page.$$('.cv-volume')) {
      const info = { name: await vol.getAttribute('data-volume') };
      info.nogl = await vol.evaluate((e) => e.classList.contains('cv-nogl'));
      const canvas = await vol.$('canvas.cv-gl');
      await page.waitForTimeout(100);
      const before = await canvasPixels(page, canvas);
      info.size = [before.w, before.h];
      info.nonwhite = before.nonwhite;
      const shotBefore = await canvas.screenshot();
      // the slider along z (the maps) to its middle
      const slider = await vol.$('.cv-axis[data-axis="2"] input');
      await slider.evaluate((s) => {
        s.value = String(Math.floor(Number(s.max) / 2));
        s.dispatchEvent(new Event('input', { bubbles: true }));
      });
      await page.waitForTimeout(200);
      const after = await canvasPixels(page, canvas);
      const shotAfter = await canvas.screenshot();
      info.changed_pixels = difference(before.pixels, after.pixels);
      info.screenshots_differ = !shotBefore.equals(shotAfter);
      // turning it with the mouse
      const box = await canvas.boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 20, { steps: 4 });
      await page.mouse.up();
      await page.waitForTimeout(200);
      const turned = await canvasPixels(page, canvas);
      info.turned_pixels = difference(after.pixels, turned.pixels);
      if (shots && result.volumes.length === 0) {
        fs.mkdirSync(shots, { recursive: true });
        await vol.screenshot({ path: path.join(shots, 'volume.png') });
      }
      result.volumes.push(info);
    }

    for (const pl of await page.$$('.cv-player')) {
      const visible = await pl.evaluate((e) => e.offsetParent !== null);
      if (!visible) continue; // a fallback turntable, shown only without WebGL2
      const info = { frames: await pl.$$eval('.cv-frame', (f) => f.length) };
      info.first = await pl.getAttribute('data-frame');
      await (await pl.$('.cv-next')).click();
      info.after_step = await pl.getAttribute('data-frame');
      await (await pl.$('.cv-play')).click();
      const interval = Number(await pl.getAttribute('data-interval')) || 700;
      await page.waitForTimeout(interval * 1.5);
      info.after_play = await pl.getAttribute('data-frame');
      await (await pl.$('.cv-play')).click();
      info.shown = await pl.$$eval('.cv-frame', (f) => f.filter((x) => !x.hidden).length);
      result.players.push(info);
    }
    if (shots) {
      fs.mkdirSync(shots, { recursive: true });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: path.join(shots, 'page.png') });
    }
  } finally {
    if (context) await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stderr.write('check.js: ' + (e && e.stack || e) + '\n');
  process.exit(1);
});
