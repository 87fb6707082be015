// Serves the built UI with `vite preview`, drives it in Debian's Chromium
// through playwright-core, and fakes the Tauri shell in the page with
// @tauri-apps/api/mocks (mockIPC) and mock-backend.js.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const ui = path.resolve(here, '..');
const require = (p) => path.join(ui, 'node_modules', p);

// The mocks module is self-contained ES code; exposed as a global for the
// init script that follows it.
const mocksSource = readFileSync(require('@tauri-apps/api/mocks.js'), 'utf8').replace(
  /export\s*\{([^}]*)\};?\s*$/,
  (_, names) => `window.__keepsakeMocks = {${names}};`,
);
const backend = path.join(here, 'mock-backend.js');
const axeSource = require('axe-core/axe.min.js');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** `vite preview` of ui/dist on a free loopback port. */
export async function startPreview() {
  const port = await freePort();
  // Started directly, not through npx, so that killing it stops vite.
  const proc = spawn(require('.bin/vite'), ['preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: ui,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(url);
      if (r.ok) return { url, stop: () => proc.kill('SIGTERM') };
    } catch {
      // not up yet
    }
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGTERM');
  throw new Error(`vite preview did not start:\n${log}`);
}

/** Headless Chromium (Debian's, not a downloaded one). */
export async function launch() {
  const dir = mkdtempSync(path.join(tmpdir(), 'keepsake-ui-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.KEEPSAKE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1100, height: 800 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A page with the app and the faked shell behaving as `scenario` says. */
export async function openApp(context, url, scenario = {}, { colorScheme = 'light' } = {}) {
  const page = await context.newPage();
  await page.emulateMedia({ colorScheme });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.errors = errors;
  await page.addInitScript({ content: mocksSource });
  await page.addInitScript({ content: `window.__KEEPSAKE_SCENARIO__ = ${JSON.stringify(scenario)};` });
  await page.addInitScript({ path: backend });
  await page.goto(url);
  return page;
}

/** The commands the app invoked, in order. */
export function calls(page) {
  return page.evaluate(() => window.__KEEPSAKE_CALLS__);
}

/** axe-core's violations on the page as it is now. */
export async function axe(page) {
  await page.addScriptTag({ path: axeSource });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
}
