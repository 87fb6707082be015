// `keepsake login` against a real WordPress 6.1, approved in a real
// browser: headless Chromium signs in on WordPress's own login page, then
// approves (or refuses) Keepsake on its authorize-application page, which
// sends the new application password to the CLI's loopback listener.
//
// Run: node --test tests/signin/ (cargo xtask test does, after the
// workspace tests built target/debug/keepsake).

import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertNoSecrets,
  cleanups,
  cliHome,
  exitOf,
  fetchJson,
  keepsake,
  keepsakeDone,
  launch,
  loopbackOf,
  missing,
  needs,
  requireTools,
  seedWordPress,
  signInAddress,
  startWordPress,
  storedSignIns,
  watchCallback,
} from './harness.mjs';

// What WordPress calls the password Keepsake asks for: its client label
// (`Keepsake on HOST`) and when.
const APP_NAME = /^Keepsake on [A-Za-z0-9._-]{1,48} \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)$/;

before(async () => {
  // Seeding takes minutes the first time; cached afterwards.
  if (!missing('wordpress')) await seedWordPress();
}, { timeout: 15 * 60_000 });

/** The application passwords of `user`, as the site's administrator sees them. */
function appPasswords(wp, user) {
  const admin = wp.seed.users.admin;
  const basic = Buffer.from(`${admin.login}:${admin.app_password}`).toString('base64');
  return fetchJson(`${wp.url}/wp-json/wp/v2/users/${user.id}/application-passwords`, {
    headers: { Authorization: `Basic ${basic}` },
  });
}

/**
 * `keepsake login` on a fresh site, the browser at its sign-in address,
 * signed in on wp-login.php as `author`, on the authorize page.
 */
async function toAuthorizePage(cleanup) {
  const wp = await startWordPress(cleanup);
  const author = wp.seed.users.author;
  const world = cliHome(cleanup);
  const login = keepsake(world, wp.url, ['login', '--no-browser'], cleanup);
  const address = await signInAddress(login);
  assert.match(login.stderr, /^WordPress at http:\/\/127\.0\.0\.1:\d+\/$/m, 'detection found WordPress');
  assert.ok(address.startsWith(`${wp.url}/wp-admin/authorize-application.php?`), address);

  const { page } = await launch(cleanup);
  const seen = watchCallback(page, address);
  await page.goto(address);
  // Not signed in to WordPress yet: its own login page, which comes back here.
  assert.equal(new URL(page.url()).pathname, '/wp-login.php');
  await page.locator('input[name="log"]').fill(author.login);
  await page.locator('input[name="pwd"]').fill(author.password);
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/wp-admin/authorize-application.php'),
    page.locator('input[name="wp-submit"]').click(),
  ]);
  assert.match(await page.locator('input[name="app_name"]').inputValue(), APP_NAME);
  return { wp, author, world, login, address, page, seen };
}

test('WordPress: signed in on its login page and approved on its authorize page, the CLI is signed in', needs('wordpress'), async () => {
  requireTools('wordpress');
  const cleanup = cleanups();
  try {
    const { wp, author, world, login, address, page, seen } = await toAuthorizePage(cleanup);
    const back = loopbackOf(address);
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(back)),
      page.getByRole('button', { name: 'Yes, I approve of this connection' }).click(),
    ]);
    assert.match(await page.locator('body').innerText(), /Signed in to Keepsake/);

    assert.equal(await exitOf(login), 0, `login failed:\n${login.stderr}`);
    assert.match(login.stdout, /^signed in to http:\/\/127\.0\.0\.1:\d+\/ \(WordPress\) as author$/m);

    // The listener got the password from the browser, and kept it.
    assert.ok(seen.callback, 'the browser came back to the loopback listener');
    assert.equal(seen.callback.searchParams.get('user_login'), author.login);
    const password = seen.callback.searchParams.get('password');
    const stored = storedSignIns(world);
    assert.deepEqual(Object.keys(stored), [wp.url]);
    const entry = stored[wp.url];
    assert.equal(entry.connector, 'wordpress');
    assert.equal(entry.user, author.login);
    assert.equal(entry.access_token, password.replace(/\s+/g, ''));

    const whoami = await keepsakeDone(world, wp.url, ['whoami'], cleanup);
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.match(whoami.stdout, new RegExp(`^author \\(id ${author.id}, .*\\) on WordPress$`, 'm'));

    // The site lists it under Keepsake's name; the handle is its uuid.
    const made = (await appPasswords(wp, author)).filter((p) => p.name !== author.app_password_name);
    assert.equal(made.length, 1, `one new application password: ${made.map((p) => p.name)}`);
    assert.match(made[0].name, APP_NAME);
    assert.equal(made[0].uuid, entry.handle);

    const logout = await keepsakeDone(world, wp.url, ['logout'], cleanup);
    assert.equal(logout.code, 0, logout.stderr);
    assert.match(logout.stdout, /^signed out of http:\/\/127\.0\.0\.1:\d+\/; the sign-in is ended on the platform/m);
    const left = await appPasswords(wp, author);
    assert.deepEqual(left.map((p) => p.uuid), [author.app_password_uuid], 'logout deleted the password it made');
    const res = await fetch(`${wp.url}/wp-json/wp/v2/users/me`, {
      headers: { Authorization: `Basic ${Buffer.from(`${author.login}:${password}`).toString('base64')}` },
    });
    assert.equal(res.status, 401, 'the deleted password no longer signs in');
    assert.deepEqual(storedSignIns(world), {});

    assertNoSecrets([login, whoami, logout], {
      'the application password': password,
      "the author's password": author.password,
    });
  } finally {
    await cleanup.run();
  }
});

test('WordPress: "No, I do not approve" ends the CLI with exit code 3 and nothing stored', needs('wordpress'), async () => {
  requireTools('wordpress');
  const cleanup = cleanups();
  try {
    const { wp, author, world, login, address, page, seen } = await toAuthorizePage(cleanup);
    const back = loopbackOf(address);
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(back)),
      page.getByRole('button', { name: 'No, I do not approve of this connection' }).click(),
    ]);
    assert.match(await page.locator('body').innerText(), /Keepsake could not sign you in/);

    assert.equal(await exitOf(login), 3, `exit code; stderr:\n${login.stderr}`);
    assert.match(login.stderr, /you did not approve Keepsake on the WordPress page; nothing was stored/);
    assert.equal(login.stdout, '');
    assert.equal(seen.callback.searchParams.get('success'), 'false');
    assert.equal(seen.callback.searchParams.get('password'), null);
    assert.deepEqual(storedSignIns(world), {}, 'nothing stored');
    const passwords = await appPasswords(wp, author);
    assert.deepEqual(passwords.map((p) => p.uuid), [author.app_password_uuid], 'no application password made');

    assertNoSecrets([login], { "the author's password": author.password });
  } finally {
    await cleanup.run();
  }
});

/** Signs in on wp-login.php as `user` from a page WordPress sent there. */
async function logInOnWordPress(page, user) {
  assert.equal(new URL(page.url()).pathname, '/wp-login.php');
  await page.locator('input[name="log"]').fill(user.login);
  await page.locator('input[name="pwd"]').fill(user.password);
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/wp-admin/authorize-application.php'),
    page.locator('input[name="wp-submit"]').click(),
  ]);
}

test('WordPress: approved on its authorize page with no way back, the password it shows is pasted into the CLI, which signs in and deletes it at logout', needs('wordpress'), async () => {
  requireTools('wordpress');
  const cleanup = cleanups();
  try {
    const wp = await startWordPress(cleanup);
    const author = wp.seed.users.author;
    const world = cliHome(cleanup);
    // What a site on https gets (it sends no password to an app on this
    // computer); a site on this computer offers the page too.
    const login = keepsake(world, wp.url, ['login', '--user', author.login, '--no-browser'], cleanup, { stdin: 'pipe' });
    const address = await signInAddress(login);
    assert.match(login.stderr, /WordPress makes one on this page: approve Keepsake there, and it shows the new password once; paste it below/);
    const asked = new URL(address);
    assert.equal(asked.origin, new URL(wp.url).origin);
    assert.equal(asked.pathname, '/wp-admin/authorize-application.php');
    assert.match(asked.searchParams.get('app_name'), APP_NAME);
    assert.equal(asked.searchParams.get('success_url'), null, 'no way back asked for');

    const { page } = await launch(cleanup);
    await page.goto(address);
    await logInOnWordPress(page, author);
    await page.getByRole('button', { name: 'Yes, I approve of this connection' }).click();
    const shown = page.locator('#new-application-password-value');
    await shown.waitFor();
    await page.waitForFunction(() => document.querySelector('#new-application-password-value')?.value);
    const password = await shown.inputValue();
    assert.match(password, /^[A-Za-z0-9]{4}( [A-Za-z0-9]{4}){5}$/, 'WordPress shows the password in groups of four');

    // Pasted as shown, spaces and all.
    login.child.stdin.end(`${password}\n`);
    assert.equal(await exitOf(login), 0, `login failed:\n${login.stderr}`);
    assert.match(login.stdout, /^signed in to http:\/\/127\.0\.0\.1:\d+\/ \(WordPress\) as author$/m);
    const entry = storedSignIns(world)[wp.url];
    assert.equal(entry.access_token, password.replace(/\s+/g, ''));

    // Made for Keepsake (WordPress recorded its app id), so Keepsake may
    // delete it: the handle is its uuid.
    const made = (await appPasswords(wp, author)).filter((p) => p.uuid !== author.app_password_uuid);
    assert.equal(made.length, 1, `one new application password: ${made.map((p) => p.name)}`);
    assert.match(made[0].name, APP_NAME);
    assert.equal(entry.handle, made[0].uuid);

    const logout = await keepsakeDone(world, wp.url, ['logout'], cleanup);
    assert.equal(logout.code, 0, logout.stderr);
    assert.deepEqual((await appPasswords(wp, author)).map((p) => p.uuid), [author.app_password_uuid], 'logout deleted it');
    assertNoSecrets([login, logout], {
      'the application password': password,
      "the author's password": author.password,
    });
  } finally {
    await cleanup.run();
  }
});

test('WordPress: a password the author made by hand signs in, and logout only forgets it', needs('wordpress'), async () => {
  requireTools('wordpress');
  const cleanup = cleanups();
  try {
    const wp = await startWordPress(cleanup);
    const author = wp.seed.users.author;
    const world = cliHome(cleanup);
    const login = keepsake(world, wp.url, ['login', '--user', author.login, '--password-stdin'], cleanup, { stdin: 'pipe' });
    login.child.stdin.end(`${author.app_password}\n`);
    assert.equal(await exitOf(login), 0, `login failed:\n${login.stderr}`);
    assert.doesNotMatch(login.stderr, /makes one on this page/, 'a script with its password is not sent to a page');
    const entry = storedSignIns(world)[wp.url];
    assert.equal(entry.handle ?? null, null, 'not one Keepsake may delete');

    const logout = await keepsakeDone(world, wp.url, ['logout'], cleanup);
    assert.equal(logout.code, 0, logout.stderr);
    assert.deepEqual((await appPasswords(wp, author)).map((p) => p.uuid), [author.app_password_uuid], 'still there');
    assert.deepEqual(storedSignIns(world), {});
    assertNoSecrets([login, logout], { 'the application password': author.app_password });
  } finally {
    await cleanup.run();
  }
});
