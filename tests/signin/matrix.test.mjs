// `keepsake login` against a real Synapse through single sign-on in a real
// browser: headless Chromium follows the homeserver's SSO redirect to the
// fake CAS identity provider (tests/servers/synapse/fake_cas.py), back to
// Synapse, and on to the CLI's loopback listener with a login token, which
// the CLI exchanges for a device of its own.
//
// The fake CAS has no way to refuse (it signs in whoever the test names),
// and a refusal at an identity provider never reaches the client anyway
// (Synapse shows its error page and the client waits): the refusal tested
// here is a login token used twice.
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
  rewriteRequests,
  seedSynapse,
  signInAddress,
  startSynapse,
  storedSignIns,
  watchCallback,
} from './harness.mjs';

// The device name Keepsake gives its logins: its client label.
const DEVICE_NAME = /^Keepsake on [A-Za-z0-9._-]{1,48}$/;

before(async () => {
  // Seeding takes a minute or two the first time; cached afterwards.
  if (!missing('synapse')) await seedSynapse();
}, { timeout: 15 * 60_000 });

/** Alice's devices, asked with her seeded token (device SEED). */
async function devices(syn) {
  const token = syn.seed.users.alice.access_token;
  const { devices } = await fetchJson(`${syn.url}/_matrix/client/v3/devices`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return devices;
}

/**
 * `keepsake login` in `world`, and the browser through the homeserver's SSO:
 * the fake CAS signs in `user` (its `user` parameter, which Synapse does not
 * send), any confirmation page is confirmed, and the browser ends on the
 * loopback listener's page. `replace(token)` may swap the login token on
 * its way to the listener. Resolves when the CLI has ended.
 */
async function ssoLogin(syn, world, cleanup, { user = 'alice', replace } = {}) {
  const login = keepsake(world, syn.url, ['login', '--no-browser'], cleanup);
  const address = await signInAddress(login);
  assert.match(login.stderr, /^Matrix at http:\/\/127\.0\.0\.1:\d+\/$/m, 'detection found Matrix');
  assert.ok(address.startsWith(`${syn.url}/_matrix/client/v3/login/sso/redirect?redirectUrl=`), address);
  const back = loopbackOf(address);

  const { context, page } = await launch(cleanup);
  const seen = watchCallback(page, address);
  let casLogins = 0;
  const rules = [
    {
      // The person signs in at the identity provider as `user`.
      prefix: `${syn.casUrl}/login?`,
      rewrite: (url) => {
        casLogins += 1;
        const u = new URL(url);
        u.searchParams.set('user', user);
        return u.href;
      },
    },
  ];
  if (replace) {
    rules.push({
      prefix: `${back}?`,
      rewrite: (url) => {
        const u = new URL(url);
        u.searchParams.set('loginToken', replace(u.searchParams.get('loginToken')));
        return u.href;
      },
    });
  }
  await rewriteRequests(context, page, rules);
  await page.goto(address);
  // With the loopback address in `sso.client_whitelist` Synapse redirects
  // straight back; otherwise it asks first, and the person confirms.
  const confirmations = [];
  for (let step = 0; step < 3 && !page.url().startsWith(back); step++) {
    confirmations.push({ title: await page.title(), text: await page.locator('body').innerText() });
    const confirm = page.getByRole('link', { name: /continue/i }).or(page.getByRole('button', { name: /continue/i }));
    const here = page.url();
    await Promise.all([page.waitForURL((u) => u.href !== here), confirm.first().click()]);
  }
  assert.ok(page.url().startsWith(back), `the browser ended on ${page.url().split('?')[0]}, not the listener`);
  assert.equal(casLogins, 1, 'the browser went through the CAS login once');
  for (const rule of rules) if (rule.error) throw rule.error;
  assert.ok(seen.callback?.searchParams.get('loginToken'), 'the homeserver sent a login token back');
  const text = await page.locator('body').innerText();
  await exitOf(login);
  return { login, text, confirmations, loginToken: seen.callback.searchParams.get('loginToken') };
}

test('Matrix: single sign-on in the browser through the loopback redirect signs the CLI in', needs('synapse'), async () => {
  requireTools('synapse');
  const cleanup = cleanups();
  try {
    const syn = await startSynapse(cleanup);
    const alice = syn.seed.users.alice;
    const world = cliHome(cleanup);
    const { login, text, confirmations, loginToken } = await ssoLogin(syn, world, cleanup);
    assert.equal(login.code, 0, `login failed:\n${login.stderr}`);
    assert.deepEqual(confirmations, [], 'a whitelisted loopback address is sent the token straight away');
    assert.match(text, /Signed in to Keepsake/);
    assert.match(login.stdout, /^signed in to http:\/\/127\.0\.0\.1:\d+\/ \(Matrix\) as alice$/m);

    const stored = storedSignIns(world);
    assert.deepEqual(Object.keys(stored), [syn.url]);
    const entry = stored[syn.url];
    assert.equal(entry.connector, 'matrix');
    assert.ok(entry.access_token && entry.handle, 'a token and the device it belongs to');

    const whoami = await keepsakeDone(world, syn.url, ['whoami'], cleanup);
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.match(whoami.stdout, /^alice \(id @alice:localhost, .*\) on Matrix$/m);

    // A device of Keepsake's own, under its name.
    const mine = (await devices(syn)).find((d) => d.device_id === entry.handle);
    assert.ok(mine, `alice has the device ${entry.handle}`);
    assert.match(mine.display_name, DEVICE_NAME);

    const logout = await keepsakeDone(world, syn.url, ['logout'], cleanup);
    assert.equal(logout.code, 0, logout.stderr);
    assert.match(logout.stdout, /^signed out of http:\/\/127\.0\.0\.1:\d+\/; the sign-in is ended on the platform/m);
    const left = await devices(syn);
    assert.deepEqual(left.map((d) => d.device_id), [alice.device_id], 'logout removed the device');
    const res = await fetch(`${syn.url}/_matrix/client/v3/account/whoami`, {
      headers: { Authorization: `Bearer ${entry.access_token}` },
    });
    assert.equal(res.status, 401, 'the token of the removed device no longer works');
    assert.deepEqual(storedSignIns(world), {});

    assertNoSecrets([login, whoami, logout], {
      'the access token': entry.access_token,
      'the login token': loginToken,
    });
  } finally {
    await cleanup.run();
  }
});

test('Matrix: a login token used twice is refused, and the CLI says so with nothing stored', needs('synapse'), async () => {
  requireTools('synapse');
  const cleanup = cleanups();
  try {
    const syn = await startSynapse(cleanup);
    const alice = syn.seed.users.alice;

    const first = cliHome(cleanup);
    const used = await ssoLogin(syn, first, cleanup);
    assert.equal(used.login.code, 0, `the first login failed:\n${used.login.stderr}`);
    const firstEntry = storedSignIns(first)[syn.url];

    // A second login whose browser carries the first, spent token instead
    // of its own (which is dropped unused).
    const second = cliHome(cleanup);
    let fresh;
    const replayed = await ssoLogin(syn, second, cleanup, {
      replace: (token) => {
        fresh = token;
        return used.loginToken;
      },
    });
    assert.ok(fresh && fresh !== used.loginToken, 'the homeserver made a new token for the second login');
    assert.equal(replayed.login.code, 3, `exit code; stderr:\n${replayed.login.stderr}`);
    assert.match(replayed.login.stderr, /the homeserver did not accept the sign-in \(Invalid login token\)/);
    assert.equal(replayed.login.stdout, '');
    assert.match(replayed.text, /Keepsake could not sign you in/);
    assert.deepEqual(storedSignIns(second), {}, 'nothing stored');

    // No second device; the first sign-in is untouched.
    const ids = (await devices(syn)).map((d) => d.device_id).sort();
    assert.deepEqual(ids, [alice.device_id, firstEntry.handle].sort());
    const whoami = await keepsakeDone(first, syn.url, ['whoami'], cleanup);
    assert.equal(whoami.code, 0, whoami.stderr);

    assertNoSecrets([used.login, replayed.login, whoami], {
      'the access token': firstEntry.access_token,
      'the spent login token': used.loginToken,
      'the unused login token': fresh,
    });
  } finally {
    await cleanup.run();
  }
});

test('Matrix: a homeserver that asks before it sends the token on — the person continues, and the CLI is signed in', needs('synapse'), async () => {
  requireTools('synapse');
  const cleanup = cleanups();
  try {
    // Any homeserver but the harness's: the loopback address is on no
    // `sso.client_whitelist`, so Synapse shows its confirmation page.
    const syn = await startSynapse(cleanup, { extraConfig: 'sso:\n  client_whitelist: []\n' });
    const world = cliHome(cleanup);
    const { login, text, confirmations, loginToken } = await ssoLogin(syn, world, cleanup);
    assert.equal(confirmations.length, 1, 'one confirmation page');
    assert.equal(confirmations[0].title, 'Continue to your account');
    assert.match(confirmations[0].text, /Continuing will grant http:\/\/127\.0\.0\.1:\d+\/callback access to your account/);
    assert.equal(login.code, 0, `login failed:\n${login.stderr}`);
    assert.match(text, /Signed in to Keepsake/);
    assert.match(login.stdout, /^signed in to http:\/\/127\.0\.0\.1:\d+\/ \(Matrix\) as alice$/m);
    const entry = storedSignIns(world)[syn.url];
    assert.equal(entry?.connector, 'matrix');
    const mine = (await devices(syn)).find((d) => d.device_id === entry.handle);
    assert.match(mine?.display_name ?? '', DEVICE_NAME);

    assertNoSecrets([login], { 'the access token': entry.access_token, 'the login token': loginToken });
  } finally {
    await cleanup.run();
  }
});

// The CLI's other ways in, against the same real homeserver: a password
// typed (here piped) for --user, and a pasted access token.

test('Matrix: a password for --user makes a device of Keepsake\'s own (a wrong one is refused, nothing stored), and logout removes it', needs('synapse'), async () => {
  requireTools('synapse');
  const cleanup = cleanups();
  try {
    const syn = await startSynapse(cleanup);
    const alice = syn.seed.users.alice;
    const world = cliHome(cleanup);

    const wrong = keepsake(world, syn.url, ['login', '--user', 'alice', '--password-stdin'], cleanup, { stdin: 'pipe' });
    wrong.child.stdin.end('not-her-password\n');
    assert.equal(await exitOf(wrong), 3, `exit code; stderr:\n${wrong.stderr}`);
    assert.match(wrong.stderr, /the homeserver did not accept the sign-in \(.+\); nothing was stored/);
    assert.deepEqual(storedSignIns(world), {}, 'nothing stored');

    const login = keepsake(world, syn.url, ['login', '--user', '@alice:localhost', '--password-stdin'], cleanup, { stdin: 'pipe' });
    login.child.stdin.end(`${alice.password}\n`);
    assert.equal(await exitOf(login), 0, `login failed:\n${login.stderr}`);
    assert.match(login.stdout, /^signed in to http:\/\/127\.0\.0\.1:\d+\/ \(Matrix\) as alice$/m);
    const entry = storedSignIns(world)[syn.url];
    const mine = (await devices(syn)).find((d) => d.device_id === entry.handle);
    assert.ok(mine, `alice has the device ${entry.handle}`);
    assert.match(mine.display_name, DEVICE_NAME);

    const logout = await keepsakeDone(world, syn.url, ['logout'], cleanup);
    assert.equal(logout.code, 0, logout.stderr);
    assert.deepEqual((await devices(syn)).map((d) => d.device_id), [alice.device_id], 'logout removed the device');
    assertNoSecrets([wrong, login, logout], {
      "alice's password": alice.password,
      'the access token': entry.access_token,
    });
  } finally {
    await cleanup.run();
  }
});

test('Matrix: a pasted access token signs in, and logout only forgets it', needs('synapse'), async () => {
  requireTools('synapse');
  const cleanup = cleanups();
  try {
    const syn = await startSynapse(cleanup);
    const alice = syn.seed.users.alice;
    const world = cliHome(cleanup);
    const login = keepsake(world, syn.url, ['login', '--token-stdin'], cleanup, { stdin: 'pipe' });
    login.child.stdin.end(`${alice.access_token}\n`);
    assert.equal(await exitOf(login), 0, `login failed:\n${login.stderr}`);
    assert.match(login.stdout, /^signed in to http:\/\/127\.0\.0\.1:\d+\/ \(Matrix\) as alice$/m);
    const entry = storedSignIns(world)[syn.url];
    assert.equal(entry.access_token, alice.access_token);
    assert.equal(entry.handle ?? null, null, 'not a device Keepsake made');

    const whoami = await keepsakeDone(world, syn.url, ['whoami'], cleanup);
    assert.equal(whoami.code, 0, whoami.stderr);
    const logout = await keepsakeDone(world, syn.url, ['logout'], cleanup);
    assert.equal(logout.code, 0, logout.stderr);
    assert.deepEqual(storedSignIns(world), {});
    const res = await fetch(`${syn.url}/_matrix/client/v3/account/whoami`, {
      headers: { Authorization: `Bearer ${alice.access_token}` },
    });
    assert.equal(res.status, 200, 'the pasted token is the user\'s: still good');
    assertNoSecrets([login, whoami, logout], { 'the access token': alice.access_token });
  } finally {
    await cleanup.run();
  }
});
