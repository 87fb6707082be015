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

async function noViolations(page, where) {
  const v = await axe(page);
  assert.deepEqual(v, [], `${where}: ${JSON.stringify(v, null, 2)}`);
}

describe('screens', () => {
  it('signs in with a token, exports, verifies and shows the history', async () => {
    const page = await open({});
    await page.getByRole('heading', { name: 'Take your data home' }).waitFor();
    await page.getByRole('button', { name: 'Use an access token' }).click();
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
    assert.equal(start.args.request.subjectId, 1);
    assert.equal(start.args.request.reason, 'Ticket 4411');
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
    // Tab to "Use an access token": skip link, platform field, browser button, support box, token button.
    let guard = 0;
    while ((await focused()) !== 'Use an access token' && guard++ < 10) await page.keyboard.press('Tab');
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

describe('accessibility (axe-core)', () => {
  for (const colorScheme of ['light', 'dark']) {
    it(`every screen has no violations (${colorScheme})`, async () => {
      const signIn = await open({ demo: true }, { colorScheme });
      await signIn.getByRole('heading', { name: 'Take your data home' }).waitFor();
      await signIn.getByRole('button', { name: 'Use an access token' }).click();
      await noViolations(signIn, `sign in (${colorScheme})`);

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
  }
});
