// Shared helpers for the viewer's browser tests: where the fixtures are,
// headless Debian Chromium, and probes that run inside the page.
//
// The fixtures are archives the export suite extracted; their index.html is
// replaced by the page of the viewer's current files before any test opens
// it (page.mjs says why and how), so these tests always test the viewer in
// this working tree.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { afterEach, beforeEach } from 'node:test';

import { chromium } from 'playwright-core';

import { refreshPage } from './page.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The folder the export suite extracts archives into. */
export const FIXTURES = path.resolve(
  process.env.KEEPSAKE_VIEWER_FIXTURES || path.join(REPO, 'target/viewer-fixtures'),
);

/** Under `cargo xtask test` missing fixtures are a failure, not a skip. */
export const REQUIRED = !!process.env.KEEPSAKE_REQUIRE_TOOLS;

/**
 * The fixtures the export suite wrote, by name, each with the page of the
 * current viewer files; empty when there are none.
 */
export function loadFixtures() {
  const index = path.join(FIXTURES, 'fixtures.json');
  if (!fs.existsSync(index)) return new Map();
  const { fixtures } = JSON.parse(fs.readFileSync(index, 'utf8'));
  for (const f of fixtures) refreshPage(f, REQUIRED);
  return new Map(fixtures.map((f) => [f.name, f]));
}

/** The categories of a fixture's manifest, and the data files beside them. */
export function dataFiles(fixture) {
  const m = JSON.parse(fs.readFileSync(path.join(fixture.dir, 'data', 'manifest.json'), 'utf8'));
  return ['manifest', 'files', ...(m.categories || [])];
}

export const NO_FIXTURES =
  `no viewer fixtures in ${FIXTURES}: run \`cargo test -p keepsake-tests --test export viewer\` first ` +
  '(cargo xtask test does)';

/** Records of one category of an extracted archive. */
export function records(fixture, category) {
  return JSON.parse(fs.readFileSync(path.join(fixture.dir, 'data', `${category}.json`), 'utf8'));
}

export function pageUrl(fixture, hash = '') {
  return pathToFileURL(fixture.index).href + hash;
}

/** Debian's Chromium; Playwright cannot download a browser here. */
export const CHROMIUM = process.env.KEEPSAKE_CHROMIUM || '/usr/bin/chromium';

export async function launch(options = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'keepsake-viewer-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    ...options,
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A browser of its own for every test of the file that calls this (a crash
 * stays in the test it hit), when there are fixtures to open: the returned
 * `.context` is the current test's.
 */
export function browserPerTest(fixtures) {
  let browser = null;
  beforeEach(async () => {
    if (fixtures.size) browser = await launch();
  });
  afterEach(async () => {
    if (browser) await browser.close();
    browser = null;
  });
  return {
    get context() {
      return browser.context;
    },
  };
}

// Runs in every page before its own scripts: records CSP violations and
// trips a canary if anything calls the dialog functions the hostile corpus
// uses.
const PROBES = `
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__violations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample });
  });
  window.__pwned = false;
  for (const name of ['alert', 'confirm', 'prompt', 'print']) {
    const original = window[name];
    window[name] = function () { window.__pwned = true; return original.apply(this, arguments); };
  }
`;

/**
 * Opens a fixture's viewer and waits until every data file is in. Collects
 * page errors, dialogs, console errors and requests that are not file:.
 */
export async function open(context, fixture, hash = '') {
  const page = await context.newPage();
  const seen = { errors: [], dialogs: [], console: [], network: [] };
  page.on('pageerror', (e) => seen.errors.push(String(e && e.message)));
  page.on('dialog', (d) => {
    seen.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    if (m.type() === 'error') seen.console.push(m.text());
  });
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) seen.network.push(r.url());
  });
  await page.addInitScript(PROBES);
  await page.goto(pageUrl(fixture, hash));
  await page.waitForSelector('html[data-keepsake="ready"]', { timeout: 60_000 });
  return { page, seen };
}

/** Types `text` into the search box and waits for the post `id` to show. */
export async function searchFor(page, text, id) {
  await page.fill('#q', text);
  await page.waitForSelector(`#list article[data-id="${id}"]`, { timeout: 10_000 });
}

/** The normalised text a person would type for a post body. */
export function query(body) {
  return body.replace(/[\r\n]+/g, ' ');
}

/**
 * Checks the live DOM for anything the data could have smuggled in; returns
 * a list of problems (empty when clean). `mediaDir` is the file: URL of the
 * archive's data/media/ folder.
 */
export async function domProblems(page, mediaDir, categories = ['manifest', 'profile', 'media', 'posts', 'comments', 'likes', 'connections']) {
  return page.evaluate(([mediaDir, categories]) => {
    const problems = [];
    for (const el of document.querySelectorAll('*')) {
      for (const attr of el.attributes) {
        if (/^on/i.test(attr.name)) problems.push(`${el.tagName} has ${attr.name}`);
        // The viewer positions rows through the CSSOM; nothing else has a style.
        if (attr.name === 'style' && !/^((transform: translateY\(-?[\d.e+-]+px\)|height: [\d.e+-]+px);\s*)+$/.test(attr.value))
          problems.push(`${el.tagName} style="${attr.value}"`);
        if (/^\s*(javascript|data|vbscript):/i.test(attr.value) && ['href', 'src', 'action', 'formaction', 'xlink:href'].includes(attr.name))
          problems.push(`${el.tagName} ${attr.name}=${attr.value}`);
      }
    }
    const scripts = [...document.scripts];
    const inline = scripts.filter((s) => !s.src);
    if (inline.length !== 1) problems.push(`${inline.length} inline scripts`);
    for (const s of scripts.filter((s) => s.src)) {
      const m = /\/data\/js\/([a-z0-9_]+)\.js$/.exec(s.src);
      if (!m || !categories.includes(m[1])) problems.push(`unexpected script ${s.src}`);
    }
    for (const img of document.images) {
      if (!img.src.startsWith(mediaDir) || img.src.slice(mediaDir.length).includes('/'))
        problems.push(`image outside data/media: ${img.src}`);
    }
    for (const a of document.querySelectorAll('a[href]')) {
      const url = new URL(a.href);
      if (url.protocol === 'http:' || url.protocol === 'https:') {
        if (!/\bnoopener\b/.test(a.rel) || !/\bnoreferrer\b/.test(a.rel)) problems.push(`link without rel: ${a.href}`);
      } else if (url.protocol === 'file:') {
        const own = a.href.startsWith(mediaDir) || a.getAttribute('href').startsWith('#');
        if (!own) problems.push(`file link outside data/media: ${a.href}`);
      } else {
        problems.push(`link with protocol ${url.protocol}: ${a.href}`);
      }
    }
    const forbidden = 'svg, iframe, object, embed, frame, frameset, base, form, link, meta[http-equiv="refresh"], template, math, video, audio, portal';
    for (const el of document.querySelectorAll(forbidden)) problems.push(`<${el.tagName.toLowerCase()}> in the page`);
    if (window.__pwned) problems.push('a dialog function was called');
    return problems;
  }, [mediaDir, categories]);
}

/** Scrolls through the whole page in viewport steps, calling `check` at each. */
export async function scrollThrough(page, check, maxSteps = 400) {
  await page.evaluate(() => window.scrollTo(0, 0));
  for (let i = 0; i < maxSteps; i++) {
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await check();
    const done = await page.evaluate(() => {
      const before = window.scrollY;
      window.scrollBy(0, window.innerHeight * 0.8);
      return window.scrollY === before;
    });
    if (done) break;
  }
}

// ------------------------------------------------------------------ shared by the test files

/** The file: URL of a fixture's data/media/ folder, with a trailing slash. */
export function mediaDir(fixture) {
  return pathToFileURL(path.join(fixture.dir, 'data', 'media')).href + '/';
}

/** A fixture's data/NAME.json. */
export function dataJson(fixture, name) {
  return JSON.parse(fs.readFileSync(path.join(fixture.dir, 'data', `${name}.json`), 'utf8'));
}

/** No page error, dialog, request off file:, console error or CSP violation. */
export async function assertQuiet(assert, seen, page, what) {
  assert.deepEqual(seen.errors, [], `${what}: page errors`);
  assert.deepEqual(seen.dialogs, [], `${what}: dialogs opened`);
  assert.deepEqual(seen.network, [], `${what}: requests that are not file:`);
  assert.deepEqual(seen.console, [], `${what}: console errors`);
  assert.deepEqual(await page.evaluate(() => window.__violations), [], `${what}: CSP violations`);
  assert.equal(await page.evaluate(() => window.__pwned), false, `${what}: a dialog function was called`);
}

/**
 * Registers node:test tests that need fixture `name`: skipped with the
 * reason when it is missing, or failed when the fixtures are required.
 */
export function fixtureTests(test, assert, fixtures) {
  return function withFixture(name, title, fn) {
    const missing = !fixtures.size ? NO_FIXTURES : !fixtures.has(name) ? `the ${name} fixture is missing in ${FIXTURES}` : false;
    if (missing && REQUIRED) {
      test(title, () => assert.fail(missing));
      return;
    }
    test(title, { skip: missing }, () => fn(fixtures.get(name)));
  };
}

/** Goes to `hash` and waits until the viewer shows `view` (its data-keepsake-view). */
export async function go(page, hash, view) {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  await page.waitForSelector(`html[data-keepsake-view="${view}"]`, { timeout: 30_000 });
}

/**
 * Scrolls through the list, calling `collect()` (in the page) at each step
 * and merging what it returns by `id`. Returns a Map.
 */
export async function collectRows(page, collect) {
  const found = new Map();
  await scrollThrough(page, async () => {
    for (const row of await page.evaluate(collect)) found.set(row.id, row);
  }, 2000);
  return found;
}

const AXE = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules/axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical findings on the page as it is, in both
 * colour schemes. (Evaluated through the DevTools protocol, so the page's
 * CSP, which would rightly refuse an injected script, does not apply.)
 */
export async function axeProblems(page, what) {
  const found = [];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(AXE);
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    for (const v of result.violations) {
      if (v.impact === 'serious' || v.impact === 'critical') {
        found.push(`${scheme} ${what}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
      }
    }
  }
  return found;
}
