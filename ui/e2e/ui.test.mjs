// The built UI in headless Chromium with the Tauri IPC mocked: every
// screen and error state, a keyboard-only flow, and axe-core on each screen
// in light and dark. Run: node --test e2e/ (after `vite build`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { axe, calls, launch, openApp, startPreview } from './harness.mjs';

let preview;
let browser;
before(async () => {
  preview = await startPreview();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  preview?.stop();
});

const open = (scenario, opts) => openApp(browser.context, preview.url, scenario, opts);
const h1 = (page) => page.locator('h1');

/** The name a screen reader gives the focused element. */
const focusedName = (page) =>
  page.evaluate(() => {
    const a = document.activeElement;
    return a?.getAttribute('aria-label') || a?.textContent?.trim() || a?.id;
  });

/** Presses Tab until `name` has the focus (the page is used by keyboard only). */
async function tabTo(page, name, max = 60) {
  for (let i = 0; i < max; i++) {
    if ((await focusedName(page)) === name) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`"${name}" never took the focus by Tab (last: "${await focusedName(page)}")`);
}

/** The arguments of each call of `cmd` the shell got, in order. */
async function argsOf(page, cmd) {
  return (await calls(page)).filter((c) => c.cmd === cmd).map((c) => c.args);
}

/** Waits until the shell got `cmd`, then gives its calls' arguments. */
async function waitForCall(page, cmd) {
  await page.waitForFunction((c) => window.__KEEPSAKE_CALLS__.some((x) => x.cmd === c), cmd);
  return argsOf(page, cmd);
}

const DEST = '/home/alice/Downloads/Keepsake';
const ARCHIVE = `${DEST}/keepsake-alice-2026-11-26-5f1c0e2a.zip`;

async function noViolations(page, where) {
  const v = await axe(page);
  assert.deepEqual(v, [], `${where}: ${JSON.stringify(v, null, 2)}`);
}

describe('screens', () => {
  it('signs in with a token, exports, verifies and shows the history', async () => {
    const page = await open({});
    await page.getByRole('heading', { name: 'Take your data home' }).waitFor();
    await page.getByRole('heading', { name: 'Keepsake Export API v1 at http://127.0.0.1:8765' }).waitFor();
    await page.getByRole('button', { name: 'Use a personal access token' }).click();
    await page.getByLabel('Personal access token').fill('ksp_demo');
    await page.getByRole('button', { name: 'Sign in with token' }).click();

    await page.getByRole('heading', { name: 'What should Keepsake export?' }).waitFor();
    await page.getByTestId('estimate-posts').filter({ hasText: '150 items' }).waitFor();
    assert.match(await page.locator('#space').textContent(), /52 GB free/);
    await page.getByLabel(/Likes/).uncheck();
    await page.getByRole('button', { name: 'Start export' }).click();

    await page.getByRole('heading', { name: 'Your archive is ready' }).waitFor();
    assert.equal(await page.getByTestId('archive-name').textContent(), 'keepsake-alice-2026-11-26-5f1c0e2a.zip');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('verify-result').filter({ hasText: 'all 41 files match' }).waitFor();

    const start = (await calls(page)).find((c) => c.cmd === 'start_export');
    assert.deepEqual(start.args.request.categories, ['profile', 'posts', 'comments', 'connections', 'media']);
    const token = (await calls(page)).find((c) => c.cmd === 'sign_in_with_token');
    assert.equal(token.args.token, 'ksp_demo');

    await page.getByRole('button', { name: 'History' }).click();
    await page.getByTestId('chain-status').filter({ hasText: 'The log is intact: 2 records' }).waitFor();
    await page.getByRole('button', { name: /Verify keepsake-alice/ }).click();
    await page.getByText('Intact', { exact: true }).waitFor();
    assert.deepEqual(page.errors, []);
  });

  it('shows progress bars, a rate-limit countdown and cancels keeping what was fetched', async () => {
    const page = await open({ signedIn: true, holdExport: true, waitSecs: 90 });
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.getByRole('heading', { name: 'Exporting' }).waitFor();
    const posts = page.getByRole('progressbar', { name: 'Posts' });
    await posts.waitFor();
    await page.waitForFunction(() => document.querySelector('[aria-labelledby="cat-posts-label"]')?.getAttribute('aria-valuenow') === '75');
    assert.equal(await posts.getAttribute('aria-valuemax'), '150');
    assert.match(await page.getByRole('timer').textContent(), /1 min 2\d s|1 min 30 s/);
    await noViolations(page, 'progress');

    await page.getByRole('button', { name: 'Cancel…' }).click();
    await page.getByRole('group', { name: 'Stop the export?' }).waitFor();
    await page.getByRole('button', { name: 'Stop and keep for later' }).click();
    await page.getByText(/What was downloaded is kept/).waitFor();
    const cancel = (await calls(page)).find((c) => c.cmd === 'cancel_export');
    assert.deepEqual(cancel.args, { keep: true });
  });

  it('offers an interrupted export on launch', async () => {
    const page = await open({ signedIn: true, pending: true });
    await page.getByRole('heading', { name: 'Continue where you left off?' }).waitFor();
    await noViolations(page, 'resume');
    await page.getByRole('button', { name: 'Continue the export' }).click();
    await page.getByRole('heading', { name: 'Your archive is ready' }).waitFor();
  });

  it('chooses JSON only in 2 GB parts by keyboard, and prepare and start get exactly that', async () => {
    const page = await open({ signedIn: true });
    await page.getByTestId('estimate-posts').filter({ hasText: '150 items' }).waitFor();
    assert.equal(await page.getByTestId('archive-choices').textContent(), 'JSON, CSV and the offline viewer; one file');
    const formats = page.getByRole('group', { name: 'Formats' });
    assert.equal(await formats.isVisible(), false, 'folded by default');
    await page.getByText('Formats and size:').focus();
    await page.keyboard.press('Enter');
    await formats.waitFor();
    assert.equal(await formats.getByRole('checkbox', { name: /JSON/ }).isChecked(), true);
    assert.equal(await formats.getByRole('checkbox', { name: /JSON/ }).isDisabled(), true);
    const prepares = async () => (await calls(page)).filter((c) => c.cmd === 'prepare_export');
    const before = (await prepares()).length;

    await formats.getByRole('checkbox', { name: /Spreadsheets \(CSV\)/ }).focus();
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    const split = page.getByLabel('Split into parts of at most');
    assert.equal(await split.evaluate((el) => el === document.activeElement), true);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    assert.equal(await split.locator('option:checked').textContent(), '2 GB');
    assert.equal(await formats.getByRole('checkbox', { name: /CSV/ }).isChecked(), false);
    assert.equal(await formats.getByRole('checkbox', { name: /Offline viewer/ }).isChecked(), false);
    await page.getByTestId('split-hint').filter({ hasText: 'fits within 2 GB' }).waitFor();
    assert.equal(await page.getByTestId('archive-choices').textContent(), 'JSON only; parts of at most 2 GB');
    // They shape the file Keepsake writes: the platform is not asked again.
    assert.equal((await prepares()).length, before);
    await noViolations(page, 'choose (JSON only, 2 GB)');

    // Another folder prepares again, with the same choices.
    await page.getByRole('button', { name: 'Choose…' }).click();
    await page.waitForFunction(() =>
      window.__KEEPSAKE_CALLS__.some((c) => c.cmd === 'prepare_export' && c.args.request.destination === '/media/backup'),
    );
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.getByRole('heading', { name: 'Your archive is ready' }).waitFor();

    const chosen = ({ csv, viewer, splitSize }) => ({ csv, viewer, splitSize });
    const want = { csv: false, viewer: false, splitSize: 2_000_000_000 };
    const prepare = (await prepares()).at(-1);
    assert.deepEqual(chosen(prepare.args.request), want);
    assert.equal(prepare.args.request.destination, '/media/backup');
    const start = (await calls(page)).find((c) => c.cmd === 'start_export');
    assert.deepEqual(chosen(start.args.request), want);
    assert.equal(await page.getByRole('table', { name: 'Parts' }).count(), 0, 'one file: it fits');
    assert.deepEqual(page.errors, []);
  });

  it('lists the parts of a split archive on Done and verifies them all', async () => {
    const page = await open({ signedIn: true, mediaBytes: 250_000_000 });
    await page.getByTestId('estimate-posts').filter({ hasText: '150 items' }).waitFor();
    await page.getByText('Formats and size:').click();
    await page.getByLabel('Split into parts of at most').selectOption({ label: '100 MB' });
    await page.getByTestId('split-hint').filter({ hasText: 'About 3 parts of at most 100 MB' }).waitFor();
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.getByRole('heading', { name: 'Your archive is ready' }).waitFor();
    const rows = page.getByRole('table', { name: 'Parts' }).locator('tbody tr');
    assert.equal(await rows.count(), 3);
    assert.equal(await rows.nth(0).locator('th').textContent(), 'keepsake-alice-2026-11-26-5f1c0e2a.part01-of-03.zip');
    assert.match(await rows.nth(2).textContent(), /50 MB/);
    assert.match(await page.getByTestId('archive-name').textContent(), /3 parts/);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('verify-result').filter({ hasText: 'in all 3 parts' }).waitFor();
    const verify = (await calls(page)).find((c) => c.cmd === 'verify_archive');
    assert.match(verify.args.path, /part01-of-03\.zip$/);
    await noViolations(page, 'done (split)');
    assert.deepEqual(page.errors, []);
  });

  it('lets support staff export a customer with a reason', async () => {
    const page = await open({ signedIn: true, support: true });
    await page.getByRole('heading', { name: 'What should Keepsake export?' }).waitFor();
    await page.getByLabel(/A customer’s account/).check();
    await page.getByLabel('Customer’s login').fill('alice');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByText(/Found/).waitFor();
    await page.getByLabel(/Reason for this export/).fill('Ticket 4411');
    await noViolations(page, 'choose (support)');
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.getByRole('heading', { name: 'Your archive is ready' }).waitFor();
    const start = (await calls(page)).find((c) => c.cmd === 'start_export');
    assert.equal(start.args.request.subjectId, '1');
    assert.equal(start.args.request.reason, 'Ticket 4411');
  });
});

describe('what the buttons ask the shell', () => {
  it('signs in with the browser as support staff, then signs out', async () => {
    const page = await open({});
    await page.getByRole('heading', { name: 'Take your data home' }).waitFor();
    await page.getByLabel(/I am support staff/).check();
    await page.getByRole('button', { name: 'Sign in with your browser' }).click();
    await page.getByRole('heading', { name: 'What should Keepsake export?' }).waitFor();
    assert.deepEqual(await argsOf(page, 'sign_in_with_browser'), [{ support: true }]);
    assert.deepEqual(await argsOf(page, 'sign_in_with_token'), []);
    await page.getByText('Carol (Support)').waitFor();
    await page.getByTestId('estimate-posts').filter({ hasText: '150 items' }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Take your data home' }).waitFor();
    assert.equal(await page.getByText('Signed in as').count(), 0);
    const all = await calls(page);
    const out = all.findIndex((c) => c.cmd === 'sign_out');
    assert.ok(out >= 0, 'sign_out was invoked');
    assert.deepEqual(all[out].args, {});
    // The session prepared on Choose is given up before the sign-in goes.
    const discard = all.findIndex((c) => c.cmd === 'discard_export');
    assert.ok(discard >= 0 && discard < out, JSON.stringify(all.map((c) => c.cmd)));
    assert.equal(all[discard].args.request.destination, DEST);
    assert.deepEqual(page.errors, []);
  });

  it('stops waiting for the browser when asked, with no error', async () => {
    const page = await open({ holdSignIn: true });
    await page.getByRole('button', { name: 'Sign in with your browser' }).click();
    await page.getByText('Waiting for you to sign in in your browser').waitFor();
    await page.getByRole('button', { name: 'Cancel browser sign-in' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Cancel browser sign-in' }).waitFor({ state: 'detached' });
    assert.deepEqual(await argsOf(page, 'cancel_sign_in'), [{}]);
    assert.equal(await page.getByRole('alert').count(), 0, 'a cancel is not an error');
    assert.ok(await page.getByRole('button', { name: 'Sign in with your browser' }).isEnabled());
    assert.equal(await h1(page).textContent(), 'Take your data home');
    assert.deepEqual(page.errors, []);
  });

  it('signs in with the browser for one’s own account', async () => {
    const page = await open({});
    await page.getByRole('button', { name: 'Sign in with your browser' }).click();
    await page.getByRole('heading', { name: 'What should Keepsake export?' }).waitFor();
    assert.deepEqual(await argsOf(page, 'sign_in_with_browser'), [{ support: false }]);
  });

  it('shows the archive in its folder, and saves the history as CSV', async () => {
    const page = await open({ signedIn: true });
    await page.getByTestId('estimate-posts').filter({ hasText: '150 items' }).waitFor();
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.getByRole('heading', { name: 'Your archive is ready' }).waitFor();
    await page.getByRole('button', { name: 'Show in folder' }).click();
    assert.deepEqual(await waitForCall(page, 'show_in_folder'), [{ path: ARCHIVE }]);

    await page.getByRole('button', { name: 'History' }).click();
    await page.getByTestId('chain-status').waitFor();
    assert.deepEqual(await argsOf(page, 'export_audit_csv'), []);
    await page.getByRole('button', { name: 'Export as CSV…' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved 2 records as CSV.' }).waitFor();
    assert.deepEqual(await argsOf(page, 'export_audit_csv'), [{}]);
    assert.deepEqual(page.errors, []);
  });

  it('discards an interrupted export', async () => {
    const page = await open({ signedIn: true, pending: true });
    await page.getByRole('heading', { name: 'Continue where you left off?' }).waitFor();
    await page.getByRole('button', { name: 'Discard it' }).click();
    await page.getByRole('heading', { name: 'What should Keepsake export?' }).waitFor();
    assert.deepEqual(await argsOf(page, 'discard_export'), [{ request: { destination: DEST } }]);
    assert.deepEqual(await argsOf(page, 'start_export'), []);
  });
});

describe('errors in plain words', () => {
  const cases = [
    ['quota', { prepare_export: { code: 'quota', message: 'limit', retryAt: '2026-11-26T14:05:00Z' } }, /next export is possible at \d\d:05/, null],
    ['disk full', { start_export: { code: 'disk_full', message: 'not enough free space' } }, /Not enough free space/, 'Choose another folder'],
    ['account deleted', { prepare_export: { code: 'account_deleted', message: '410' } }, /This account has been deleted/, null],
    ['platform unreachable', { prepare_export: { code: 'network', message: 'could not reach' } }, /The platform cannot be reached/, 'Try again'],
    ['export running', { prepare_export: { code: 'export_running', message: '409' } }, /already running/, null],
  ];
  for (const [name, errors, text, action] of cases) {
    it(name, async () => {
      const page = await open({ signedIn: true, errors });
      if (errors.start_export) await page.getByRole('button', { name: 'Start export' }).click();
      const alert = page.getByRole('alert');
      await alert.filter({ hasText: text }).waitFor();
      if (action) await page.getByRole('button', { name: action }).waitFor();
      await noViolations(page, name);
    });
  }

  it('signed out: back to sign in', async () => {
    const page = await open({ signedIn: true, errors: { prepare_export: { code: 'signed_out', message: '401' } } });
    await page.getByRole('heading', { name: 'Take your data home' }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'You are signed out' }).waitFor();
    await noViolations(page, 'signed out');
  });

  it('keyring missing, on launch', async () => {
    const page = await open({ errors: { who_am_i: { code: 'keyring', message: 'no Secret Service' } } });
    await page.getByRole('alert').filter({ hasText: 'The system keyring is not available' }).waitFor();
  });
});

describe('keyboard only', () => {
  it('signs in, starts, and cancels without a pointer', async () => {
    const page = await open({ holdExport: true });
    await page.getByRole('heading', { name: 'Take your data home' }).waitFor();
    const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim() || document.activeElement?.id);
    // Tab to the token: skip link, Change, browser button, support box, token button.
    let guard = 0;
    while ((await focused()) !== 'Use a personal access token' && guard++ < 10) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'access-token');
    await page.keyboard.type('ksp_keyboard');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'What should Keepsake export?' }).waitFor();
    // The new screen's heading has the focus.
    await page.waitForFunction(() => document.activeElement?.tagName === 'H1');
    await page.getByTestId('estimate-posts').filter({ hasText: '150 items' }).waitFor();
    guard = 0;
    while ((await focused()) !== 'Start export' && guard++ < 30) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Start export');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Exporting' }).waitFor();
    guard = 0;
    while ((await focused()) !== 'Cancel…' && guard++ < 30) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    // The dialog puts focus on its first choice.
    assert.equal(await focused(), 'Stop and keep for later');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter'); // Stop and delete
    await page.getByText(/what was downloaded was removed/).waitFor();
    const cancel = (await calls(page)).find((c) => c.cmd === 'cancel_export');
    assert.deepEqual(cancel.args, { keep: false });
  });
});

describe('keyboard only, after the export', () => {
  it('verifies, shows in folder, re-verifies in History and saves the CSV', async () => {
    const page = await open({ signedIn: true });
    await page.getByTestId('estimate-posts').filter({ hasText: '150 items' }).waitFor();
    await tabTo(page, 'Start export');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Your archive is ready' }).waitFor();
    await page.waitForFunction(() => document.activeElement?.tagName === 'H1');

    await tabTo(page, 'Verify');
    await page.keyboard.press('Enter');
    await page.getByTestId('verify-result').filter({ hasText: 'all 41 files match' }).waitFor();
    assert.deepEqual(await argsOf(page, 'verify_archive'), [{ path: ARCHIVE }]);

    await tabTo(page, 'Show in folder');
    await page.keyboard.press('Enter');
    assert.deepEqual(await waitForCall(page, 'show_in_folder'), [{ path: ARCHIVE }]);

    await tabTo(page, 'History');
    await page.keyboard.press('Enter');
    await page.getByTestId('chain-status').filter({ hasText: 'The log is intact' }).waitFor();
    await tabTo(page, 'Verify keepsake-alice-2026-11-26-5f1c0e2a.zip');
    await page.keyboard.press('Enter');
    await page.getByText('Intact', { exact: true }).waitFor();
    assert.deepEqual((await argsOf(page, 'verify_archive')).at(-1), { path: ARCHIVE });

    await tabTo(page, 'Export as CSV…');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Saved 2 records as CSV.' }).waitFor();
    assert.deepEqual(await argsOf(page, 'export_audit_csv'), [{}]);
    assert.deepEqual(page.errors, []);
  });

  it('takes up the Resume offer', async () => {
    const page = await open({ signedIn: true, pending: true });
    await page.getByRole('heading', { name: 'Continue where you left off?' }).waitFor();
    await tabTo(page, 'Continue the export');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Your archive is ready' }).waitFor();
    const start = await argsOf(page, 'start_export');
    assert.equal(start.length, 1);
    assert.equal(start[0].request.destination, DEST);
    assert.deepEqual(await argsOf(page, 'discard_export'), []);
    assert.deepEqual(page.errors, []);
  });
});

describe('accessibility (axe-core)', () => {
  for (const colorScheme of ['light', 'dark']) {
    it(`every screen has no violations (${colorScheme})`, async () => {
      const signIn = await open({ demo: true }, { colorScheme });
      await signIn.getByRole('heading', { name: 'Take your data home' }).waitFor();
      await signIn.getByRole('button', { name: 'Use a personal access token' }).click();
      await noViolations(signIn, `sign in (${colorScheme})`);

      // Step 1, the address; then step 2 on WordPress, with its password form.
      const address = await open({ platform: 'none', detectMs: 400 }, { colorScheme });
      await address.getByLabel('Platform address').waitFor();
      await noViolations(address, `sign in, the address (${colorScheme})`);
      await address.getByLabel('Platform address').fill('https://blog.example');
      await address.getByRole('button', { name: 'Continue' }).click();
      await address.getByRole('status').filter({ hasText: 'Finding out what https://blog.example is…' }).waitFor();
      await noViolations(address, `sign in, finding out (${colorScheme})`);
      await address.getByRole('heading', { name: 'WordPress at https://blog.example' }).waitFor();
      await noViolations(address, `sign in, WordPress's ways in (${colorScheme})`);

      const problem = await open({ platform: 'wordpress', problem: 'could not reach https://blog.example: connection refused' }, { colorScheme });
      await problem.getByTestId('platform-problem').waitFor();
      await noViolations(problem, `sign in, platform problem (${colorScheme})`);

      const page = await open({ signedIn: true }, { colorScheme });
      await page.getByTestId('estimate-posts').filter({ hasText: '150 items' }).waitFor();
      await noViolations(page, `choose (${colorScheme})`);
      await page.getByText('Formats and size:').click();
      await page.getByRole('group', { name: 'Archive size' }).waitFor();
      await noViolations(page, `choose, formats and size unfolded (${colorScheme})`);
      await page.getByRole('button', { name: 'Start export' }).click();
      await page.getByRole('heading', { name: 'Your archive is ready' }).waitFor();
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByTestId('verify-result').waitFor();
      await noViolations(page, `done (${colorScheme})`);
      await page.getByRole('button', { name: 'History' }).click();
      await page.getByTestId('chain-status').waitFor();
      await noViolations(page, `history (${colorScheme})`);
      assert.ok((await h1(page).count()) === 1);
    });

    it(`progress, resume and error banners have no violations (${colorScheme})`, async () => {
      const progress = await open({ signedIn: true, holdExport: true, waitSecs: 90 }, { colorScheme });
      await progress.getByRole('button', { name: 'Start export' }).click();
      await progress.getByRole('heading', { name: 'Exporting' }).waitFor();
      await progress.waitForFunction(
        () => document.querySelector('[aria-labelledby="cat-posts-label"]')?.getAttribute('aria-valuenow') === '75',
      );
      await progress.getByRole('timer').waitFor();
      await noViolations(progress, `progress (${colorScheme})`);
      await progress.getByRole('button', { name: 'Cancel…' }).click();
      await progress.getByRole('group', { name: 'Stop the export?' }).waitFor();
      await noViolations(progress, `progress, stop the export? (${colorScheme})`);

      const resume = await open({ signedIn: true, pending: true }, { colorScheme });
      await resume.getByRole('heading', { name: 'Continue where you left off?' }).waitFor();
      await noViolations(resume, `resume (${colorScheme})`);

      const banner = await open(
        { signedIn: true, errors: { prepare_export: { code: 'network', message: 'could not reach' } } },
        { colorScheme },
      );
      await banner.getByRole('alert').filter({ hasText: 'The platform cannot be reached' }).waitFor();
      await banner.getByText('Details').click();
      await noViolations(banner, `error banner on choose (${colorScheme})`);

      const signInBanner = await open(
        { errors: { sign_in_with_browser: { code: 'sign_in', message: 'refused' } } },
        { colorScheme },
      );
      await signInBanner.getByRole('button', { name: 'Sign in with your browser' }).click();
      await signInBanner.getByRole('alert').filter({ hasText: 'Sign-in did not finish' }).waitFor();
      await noViolations(signInBanner, `error banner on sign in (${colorScheme})`);
    });
  }
});

describe('other platforms', () => {
  it('finds out that an address is WordPress, signs in with an application password, and exports what is ticked', async () => {
    const page = await open({ platform: 'none', detectMs: 200 });
    const field = page.getByLabel('Platform address');
    await field.fill('https://nothing.example');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('alert').filter({ hasText: 'is not a platform Keepsake knows' }).waitFor();
    assert.equal(await field.inputValue(), 'https://nothing.example');

    await field.fill('https://blog.example/');
    await field.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Finding out what https://blog.example/ is…' }).waitFor();
    const found = page.getByRole('heading', { name: 'WordPress at https://blog.example' });
    await found.waitFor();
    // Focus follows to what was found.
    assert.equal(await found.evaluate((h) => h === document.activeElement), true);
    assert.deepEqual(await argsOf(page, 'set_platform'), [{ url: 'https://nothing.example' }, { url: 'https://blog.example/' }]);
    assert.equal(await page.getByLabel(/I am support staff/).count(), 0, 'WordPress decides support rights itself');
    assert.ok(await page.getByRole('button', { name: /^Sign in with your browser \(WordPress/ }).isVisible());

    await page.getByLabel('User name').fill('  admin ');
    const secret = page.getByLabel('Application password', { exact: true });
    assert.equal(await secret.getAttribute('type'), 'password');
    await secret.fill('abcd EFGH ijkl mnop');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'What should Keepsake export?' }).waitFor();
    assert.deepEqual(await argsOf(page, 'sign_in_with_password'), [{ user: 'admin', password: 'abcd EFGH ijkl mnop' }]);

    const cats = page.locator('.cats .cat-name');
    assert.deepEqual(await cats.allTextContents(), ['Profile', 'Posts', 'Pages', 'Comments', 'Media', 'Revisions', 'Tags', 'Categories']);
    await page.getByTestId('estimate-posts').filter({ hasText: '20 items' }).waitFor();
    assert.doesNotMatch(await page.getByTestId('estimate-revisions').textContent(), /\b0 items/);
    await page.getByTestId('no-snapshot').waitFor();
    await page.getByRole('checkbox', { name: /^Revisions/ }).uncheck();

    // On someone's behalf: the site keeps no record, this computer does.
    await page.getByLabel(/A customer’s account/).check();
    await page.getByTestId('no-platform-record').filter({ hasText: 'WordPress keeps no record of exports' }).waitFor();
    await page.getByLabel('Customer’s login').fill('bob');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByText(/Found/).waitFor();
    await page.getByLabel(/Reason for this export/).fill('Ticket 9');
    await noViolations(page, 'choose (WordPress, on behalf)');
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.getByRole('heading', { name: 'Your archive is ready' }).waitFor();
    const start = (await argsOf(page, 'start_export'))[0].request;
    assert.deepEqual(start.categories, ['profile', 'posts', 'pages', 'comments', 'media', 'tags', 'categories']);
    assert.equal(start.subjectId, '1');
    const revisions = page.getByRole('table', { name: 'Completeness' }).getByRole('row', { name: /Revisions/ });
    assert.match(await revisions.textContent(), /not announced/);
    await noViolations(page, 'done (WordPress)');
    assert.deepEqual(page.errors, []);
  });

  it('shows a count without an announced total as "so far", with an indeterminate bar', async () => {
    const page = await open({ platform: 'wordpress', signedIn: true, holdExport: true });
    await page.getByTestId('estimate-posts').filter({ hasText: '20 items' }).waitFor();
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.getByRole('heading', { name: 'Exporting' }).waitFor();
    const revisions = page.getByRole('progressbar', { name: 'Revisions' });
    await page.waitForFunction(() => document.querySelector('[aria-labelledby="cat-revisions-label"]')?.getAttribute('aria-valuetext') === '23 so far');
    assert.equal(await revisions.getAttribute('aria-valuenow'), null);
    assert.equal(await page.getByRole('progressbar', { name: 'Posts' }).getAttribute('aria-valuemax'), '20');
    await noViolations(page, 'progress (no count announced)');
    await page.getByRole('button', { name: 'Cancel…' }).click();
    await page.getByRole('button', { name: 'Stop and delete' }).click();
    await page.getByText(/what was downloaded was removed/).waitFor();
  });

  it('changes the platform from the Keepsake Export API to WordPress', async () => {
    const page = await open({});
    await page.getByRole('heading', { name: 'Keepsake Export API v1 at http://127.0.0.1:8765' }).waitFor();
    assert.ok(await page.getByLabel(/I am support staff/).isVisible());
    await page.getByRole('button', { name: 'Change' }).click();
    const field = page.getByLabel('Platform address');
    assert.equal(await field.evaluate((f) => f === document.activeElement), true);
    assert.equal(await field.inputValue(), 'http://127.0.0.1:8765');
    await field.fill('https://blog.example');
    await field.press('Enter');
    await page.getByRole('heading', { name: 'WordPress at https://blog.example' }).waitFor();
    assert.equal(await page.getByLabel(/I am support staff/).count(), 0);
    assert.deepEqual(page.errors, []);
  });
});
