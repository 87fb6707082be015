// Shared helpers for the browser sign-in tests: the real `keepsake` CLI,
// real servers started by the project's own harnesses (a fresh instance per
// test, stopped at its end), and headless Debian Chromium in the role of the
// person at the browser.

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Cargo's target directory, as cargo and xtask find it. */
export const TARGET = path.resolve(REPO, process.env.CARGO_TARGET_DIR || 'target');

/** The CLI the workspace tests built (`cargo xtask test` builds it first). */
export const KEEPSAKE = path.join(TARGET, 'debug', process.platform === 'win32' ? 'keepsake.exe' : 'keepsake');

/** Debian's Chromium; Playwright cannot download a browser here. */
export const CHROMIUM = process.env.KEEPSAKE_CHROMIUM || '/usr/bin/chromium';

/** Under `cargo xtask test` a missing tool fails its tests instead of skipping them. */
export const REQUIRED = !!process.env.KEEPSAKE_REQUIRE_TOOLS;

const WP_SH = path.join(REPO, 'tests/servers/wordpress/wp.sh');
const WP_SNAPSHOT = path.join(TARGET, 'servers/wordpress/seed');
const SYNAPSE_HARNESS = path.join(REPO, 'tests/servers/synapse/harness.py');
const SYNAPSE_VENV = process.env.KEEPSAKE_SYNAPSE_VENV || path.join(TARGET, 'servers/synapse/venv');
const SYNAPSE_PYTHON = path.join(SYNAPSE_VENV, 'bin', 'python');
const SYNAPSE_SNAPSHOT = path.join(TARGET, 'servers/synapse/seed-default');

/** How long a test may take: a server start, two or three CLI runs, a browser. */
export const TEST_TIMEOUT = 180_000;

/** What is missing for a suite, as one sentence; `null` when nothing is. */
export function missing(server) {
  const gone = [];
  if (!fs.existsSync(KEEPSAKE)) gone.push(`the CLI at ${KEEPSAKE} (cargo build -p keepsake-cli; cargo xtask test builds it)`);
  if (!fs.existsSync(CHROMIUM)) gone.push(`Chromium at ${CHROMIUM} (Debian's chromium; cargo xtask setup installs it)`);
  if (server === 'wordpress' && !fs.existsSync('/usr/share/wordpress/wp-settings.php'))
    gone.push("WordPress (Debian's wordpress, mariadb and php packages; cargo xtask setup installs them)");
  if (server === 'synapse' && !fs.existsSync(SYNAPSE_PYTHON))
    gone.push(`Synapse's venv at ${SYNAPSE_VENV} (cargo xtask setup makes it)`);
  return gone.length ? `missing here: ${gone.join('; ')}` : null;
}

/**
 * Options for `test()`: skipped with the reason when something is missing,
 * unless tools are required (then the test runs and fails on it at once).
 */
export function needs(server) {
  const why = missing(server);
  return { timeout: TEST_TIMEOUT, skip: why && !REQUIRED ? why : false };
}

/** Fails the test when something is missing (only reached when required). */
export function requireTools(server) {
  const why = missing(server);
  if (why) throw new Error(why);
}

/** Runs a command to its end; resolves with its exit code and output. */
export function run(file, args, options = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { maxBuffer: 64 << 20, ...options }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr), error });
    });
  });
}

/** A scratch directory, removed by `cleanup`. */
export function scratch(cleanup, prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `keepsake-signin-${prefix}-`));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Cleanup steps run in reverse order at the end of a test, whether it
 * passed or not; one step that throws does not keep the others from running.
 */
export function cleanups() {
  const steps = [];
  return {
    push: (step) => steps.push(step),
    async run() {
      const errors = [];
      while (steps.length) {
        try {
          await steps.pop()();
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length) throw errors[0];
    },
  };
}

/** A port nobody listens on right now (the server may still lose it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Builds the WordPress snapshot if it is missing or stale (cached). */
export async function seedWordPress() {
  const r = await run('bash', [WP_SH, 'seed', WP_SNAPSHOT]);
  if (r.code !== 0) throw new Error(`wp.sh seed failed (${r.code}):\n${r.stderr}`);
}

/**
 * A fresh WordPress from the seeded snapshot on a free port, stopped by
 * `cleanup` (and by wp.sh's watchdog if this process dies first).
 */
export async function startWordPress(cleanup) {
  const dir = scratch(cleanup, 'wp');
  cleanup.push(() => run('bash', [WP_SH, 'stop', dir]));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const r = await run('bash', [WP_SH, 'start', WP_SNAPSHOT, dir, String(port)], {
      env: { ...process.env, KEEPSAKE_WP_OWNER_PID: String(process.pid) },
    });
    if (r.code === 3) continue; // the port was taken meanwhile
    if (r.code !== 0) throw new Error(`wp.sh start failed (${r.code}):\n${r.stderr}`);
    const seed = JSON.parse(fs.readFileSync(path.join(dir, 'seed.json'), 'utf8'));
    return { url: r.stdout.trim(), seed, dir };
  }
  throw new Error('WordPress found no free port in five tries');
}

/** Builds the Synapse snapshot if it is missing or stale (cached). */
export async function seedSynapse() {
  const r = await run(SYNAPSE_PYTHON, [SYNAPSE_HARNESS, 'seed', SYNAPSE_SNAPSHOT, '--preset', 'default'], {
    env: { ...process.env, KEEPSAKE_SYNAPSE_VENV: SYNAPSE_VENV },
  });
  if (r.code !== 0) throw new Error(`harness.py seed failed (${r.code}):\n${r.stderr}`);
}

/**
 * A fresh Synapse with the fake CAS identity provider, stopped by `cleanup`
 * (and by the harness's watchdog if this process dies first).
 * `extraConfig`: YAML whose top-level keys replace the harness's.
 */
export async function startSynapse(cleanup, { extraConfig } = {}) {
  const dir = scratch(cleanup, 'synapse');
  const env = { ...process.env, KEEPSAKE_SYNAPSE_VENV: SYNAPSE_VENV };
  const args = [SYNAPSE_HARNESS, 'start', SYNAPSE_SNAPSHOT, dir, '0', '--cas-port', '0', '--watch-pid', String(process.pid)];
  if (extraConfig) {
    const file = path.join(scratch(cleanup, 'synapse-config'), 'extra.yaml');
    fs.writeFileSync(file, extraConfig);
    args.push('--extra-config', file);
  }
  cleanup.push(() => run(SYNAPSE_PYTHON, [SYNAPSE_HARNESS, 'stop', dir], { env }));
  const r = await run(SYNAPSE_PYTHON, args, { env });
  if (r.code !== 0) throw new Error(`harness.py start failed (${r.code}):\n${r.stderr}`);
  const info = JSON.parse(r.stdout);
  const seed = JSON.parse(fs.readFileSync(info.seed_json, 'utf8'));
  return { url: info.base_url, casUrl: info.cas_url, seed, dir };
}

/**
 * The CLI's world: a home of its own (no settings, keyring or audit log of
 * the person running the tests) and a plain token file in it.
 */
export function cliHome(cleanup) {
  const home = scratch(cleanup, 'home');
  const env = { ...process.env };
  // A developer's own settings must not steer the CLI (`--kind` in
  // particular: detection is under test).
  for (const name of Object.keys(env)) if (name.startsWith('KEEPSAKE_')) delete env[name];
  Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_STATE_HOME: path.join(home, '.local/state'),
    NO_COLOR: '1',
  });
  return { home, env, tokenFile: path.join(home, 'tokens.json') };
}

/**
 * Starts `keepsake --platform URL ARGS… --insecure-token-file FILE` and
 * records its output, its exit, and the argv it really ran with (read back
 * from /proc, where a token in argv would be visible to everyone).
 */
export function keepsake(world, platform, args, cleanup, { stdin = 'ignore' } = {}) {
  const argv = ['--platform', platform, ...args, '--insecure-token-file', world.tokenFile];
  const child = spawn(KEEPSAKE, argv, { env: world.env, stdio: [stdin, 'pipe', 'pipe'] });
  const cli = { child, argv, stdout: '', stderr: '', procArgv: null, code: undefined };
  child.stdout.setEncoding('utf8').on('data', (d) => (cli.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (cli.stderr += d));
  // libuv's spawn returns once the child has exec'd: this is the CLI's argv.
  cli.readProcArgv = () => {
    try {
      const argv = fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      if (argv[0] === KEEPSAKE) cli.procArgv = argv;
    } catch {
      // Not Linux, or it already ended: the argv we passed is what it got.
    }
  };
  cli.readProcArgv();
  cli.exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      cli.code = code ?? signal;
      resolve(cli.code);
    });
  });
  cleanup.push(() => {
    if (cli.code === undefined) child.kill('SIGKILL');
  });
  return cli;
}

/** Runs the CLI to its end (whoami, logout). */
export async function keepsakeDone(world, platform, args, cleanup) {
  const cli = keepsake(world, platform, args, cleanup);
  await cli.exit;
  return cli;
}

/**
 * The sign-in address `keepsake login --no-browser` prints on stderr, once
 * it has; fails when the CLI ends first or prints none within `ms`.
 */
export async function signInAddress(cli, ms = 30_000) {
  const pattern = /If it does not open, visit:\s*\n\s*\n\s*(\S+)\s*\n/;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = cli.stderr.match(pattern);
    if (m) {
      // It waits for the browser now: its argv is there to read.
      cli.readProcArgv();
      if (process.platform === 'linux' && !cli.procArgv) throw new Error('could not read the CLI\'s argv from /proc');
      return m[1];
    }
    if (cli.code !== undefined) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the CLI printed no sign-in address (exit ${cli.code}); stderr:\n${cli.stderr}`);
}

/** Waits for the CLI to end, failing after `ms` (it would wait five minutes). */
export async function exitOf(cli, ms = 60_000) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the CLI did not finish within ${ms} ms; stderr:\n${cli.stderr}`)), ms);
  });
  try {
    return await Promise.race([cli.exit, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The token file's entries (an absent file has none). */
export function storedSignIns(world) {
  if (!fs.existsSync(world.tokenFile)) return {};
  return JSON.parse(fs.readFileSync(world.tokenFile, 'utf8')).platforms || {};
}

/**
 * Secrets must appear in no output and no argv of any CLI run. Says which
 * secret leaked where, never the secret itself.
 */
export function assertNoSecrets(runs, secrets) {
  const leaks = [];
  for (const [what, secret] of Object.entries(secrets)) {
    if (!secret || secret.length < 6) throw new Error(`the test has no ${what} to look for`);
    for (const cli of runs) {
      const name = cli.argv.slice(2, 3).join(' ');
      if (cli.stdout.includes(secret)) leaks.push(`${what} in the stdout of \`keepsake ${name}\``);
      if (cli.stderr.includes(secret)) leaks.push(`${what} in the stderr of \`keepsake ${name}\``);
      if (cli.argv.some((a) => a.includes(secret))) leaks.push(`${what} in the argv of \`keepsake ${name}\``);
      if (cli.procArgv && cli.procArgv.some((a) => a.includes(secret)))
        leaks.push(`${what} in /proc/PID/cmdline of \`keepsake ${name}\``);
    }
  }
  if (leaks.length) throw new Error(`secrets leaked: ${leaks.join('; ')}`);
}

/** Headless Debian Chromium with a throwaway profile. */
export async function launch(cleanup) {
  const profile = scratch(cleanup, 'chromium');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
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
  cleanup.push(() => context.close());
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(30_000);
  return { context, page };
}

/**
 * Records the browser's request to the CLI's loopback listener (the answer
 * with the secret in its query) as `seen.callback`, a URL.
 */
export function watchCallback(page, signInUrl) {
  const seen = { callback: null };
  const back = loopbackOf(signInUrl);
  page.on('request', (r) => {
    if (r.url().startsWith(back)) seen.callback = new URL(r.url());
  });
  return seen;
}

/**
 * Rewrites the address of requests on their way out, redirects included
 * (Playwright's `page.route` sees only the first request of a redirect
 * chain, and a browser sign-in is one chain): Chromium's own Fetch domain.
 * `rules` are `{ prefix, rewrite(url) -> url }`; `rewrite` may also just
 * look. The change is invisible to the page, as a proxy's would be.
 */
export async function rewriteRequests(context, page, rules) {
  const cdp = await context.newCDPSession(page);
  cdp.on('Fetch.requestPaused', (e) => {
    const rule = rules.find((r) => e.request.url.startsWith(r.prefix));
    let url;
    try {
      url = rule && rule.rewrite(e.request.url);
    } catch (err) {
      // A failed look must not leave the request hanging; the test sees it.
      rule.error = err;
    }
    const resume = url && url !== e.request.url ? { requestId: e.requestId, url } : { requestId: e.requestId };
    cdp.send('Fetch.continueRequest', resume).catch(() => {});
  });
  // `*` is the pattern's only wildcard we use; `?` (one character) and `\`
  // are escaped.
  const escape = (s) => s.replace(/[\\*?]/g, (c) => `\\${c}`);
  await cdp.send('Fetch.enable', {
    patterns: rules.map((r) => ({ urlPattern: `${escape(r.prefix)}*`, requestStage: 'Request' })),
  });
}

/** The loopback redirect URI inside a sign-in address. */
export function loopbackOf(signInUrl) {
  const u = new URL(signInUrl);
  const back = u.searchParams.get('success_url') || u.searchParams.get('redirectUrl');
  if (!back || !/^http:\/\/127\.0\.0\.1:\d+\/callback$/.test(back))
    throw new Error(`the sign-in address names no loopback redirect: ${back}`);
  return back;
}

/** The JSON answer of a request, failing on a status other than `ok`. */
export async function fetchJson(url, init = {}, ok = 200) {
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status !== ok) throw new Error(`${init.method || 'GET'} ${url}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}
