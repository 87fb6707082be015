import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import { alice, appWith, audit, preparation, splitSummary, summary, wordpressPlatform, wpAdmin, wpPreparation } from './fixtures';

async function finished(over = {}) {
  const r = appWith({ whoAmI: async () => alice, ...over });
  await r.app.init();
  await r.app.start();
  return r;
}

describe('Done', () => {
  it('shows the archive, its checksum and the completeness report', async () => {
    const { app } = await finished();
    render(App, { app });
    expect(screen.getByRole('heading', { level: 1, name: 'Your archive is ready' })).toBeTruthy();
    expect(screen.getByTestId('archive-name').textContent).toBe(summary.fileName);
    expect(screen.getByTestId('sha256').textContent).toBe(summary.sha256);
    expect(screen.getByRole('table', { name: 'Completeness' })).toBeTruthy();
  });

  it('verifies the archive and shows it in the folder', async () => {
    const user = userEvent.setup();
    const { app, api } = await finished();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'Verify' }));
    expect((await screen.findByTestId('verify-result')).textContent).toContain('all 14 files match');
    await user.click(screen.getByRole('button', { name: 'Show in folder' }));
    expect(api.showInFolder).toHaveBeenCalledWith(summary.archive);
  });

  it('lists every part of a split archive with its size and checksum, and verifies them all', async () => {
    const user = userEvent.setup();
    const { app } = await finished({
      startExport: async () => splitSummary,
      verifyArchive: async (path: string) => ({ archive: path, ok: true, parts: 3, filesChecked: 60, bytesChecked: 4_400_000_000, problems: [] }),
    });
    render(App, { app });
    expect(screen.getByTestId('archive-name').textContent).toContain('3 parts');
    expect(screen.getByText('SHA-256 of the list')).toBeTruthy();
    expect(screen.getByText('4.5 GB in all')).toBeTruthy();
    const rows = within(screen.getByRole('table', { name: 'Parts' })).getAllByRole('row').slice(1);
    expect(rows.map((r) => Array.from(r.children).map((c) => c.textContent))).toEqual(
      splitSummary.parts.map((p) => [p.fileName, p.bytes === 2_000_000_000 ? '2.0 GB' : '500 MB', p.sha256]),
    );
    expect(screen.getByText(/sha256sum keepsake-alice-2026-11-26-01234567\.part\*\.zip \| sha256sum/)).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Verify' }));
    expect((await screen.findByTestId('verify-result')).textContent).toMatch(/all 60 files in all 3 parts match/);
  });

  it('shows no parts for one archive', async () => {
    const { app } = await finished();
    render(App, { app });
    expect(screen.queryByRole('table', { name: 'Parts' })).toBeNull();
  });

  it('shows the platform’s labels, and “not announced” rather than 0 where it announces no count', async () => {
    const { app } = await finished({
      getPlatform: async () => wordpressPlatform,
      whoAmI: async () => wpAdmin,
      prepareExport: async () => wpPreparation,
      startExport: async () => ({
        ...summary,
        counts: [
          { name: 'revisions', expected: null, retrieved: 31 },
          { name: 'posts', expected: 11, retrieved: 11 },
          { name: 'media_files', expected: null, retrieved: 4 },
          { name: 'pages', expected: 12, retrieved: 10 },
        ],
      }),
    });
    render(App, { app });
    const rows = within(screen.getByRole('table', { name: 'Completeness' })).getAllByRole('row').slice(1);
    expect(rows.map((r) => Array.from(r.children).map((c) => c.textContent?.trim()))).toEqual([
      ['Posts', '11', '11'],
      ['Pages', '12', '10 (missing 2)'],
      ['Revisions', 'not announced', '31'],
      ['Downloaded files', 'not announced', '4'],
    ]);
    expect(rows.map((r) => r.classList.contains('short'))).toEqual([false, true, false, false]);
    expect(screen.getByTestId('not-announced-hint').textContent).toMatch(/does not say how many there are/);
  });

  it('says nothing of unannounced counts when every count was announced', async () => {
    const { app } = await finished();
    render(App, { app });
    expect(screen.queryByTestId('not-announced-hint')).toBeNull();
    expect(screen.queryByText('not announced')).toBeNull();
  });

  it('says an archive is incomplete and what is missing', async () => {
    const { app } = await finished({
      startExport: async () => ({
        ...summary,
        outcome: 'incomplete',
        counts: [{ name: 'media_files', expected: 8, retrieved: 7 }],
        shortfalls: ['media file 5 is missing: checksum mismatch'],
      }),
    });
    render(App, { app });
    expect(screen.getByRole('heading', { level: 1, name: /incomplete/ })).toBeTruthy();
    expect(screen.getByText(/media file 5 is missing/)).toBeTruthy();
    // Regression: the count and "(missing 1)" ran together as "7(missing 1)".
    expect(screen.getByText('7 (missing 1)')).toBeTruthy();
  });
});

describe('History', () => {
  it('lists the audit log with its chain status, and re-verifies an archive', async () => {
    const user = userEvent.setup();
    const { app, api } = await finished();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'History' }));
    expect(await screen.findByRole('heading', { level: 1, name: 'History' })).toBeTruthy();
    expect(screen.getByTestId('chain-status').textContent).toContain('The log is intact: 2 records');
    expect(screen.getByText('Ticket 4411: customer asked for a copy')).toBeTruthy();
    expect(screen.getByText('Cancelled')).toBeTruthy();
    // Categories by the platform's label; none listed is all of them.
    expect(screen.getByRole('cell', { name: 'Posts' })).toBeTruthy();
    expect(screen.getByRole('cell', { name: 'All' })).toBeTruthy();
    await user.click(screen.getByRole('button', { name: /Verify keepsake-alice.zip/ }));
    expect(await screen.findByText('Intact')).toBeTruthy();
    expect(api.verifyArchive).toHaveBeenCalledWith('/tmp/keepsake-alice.zip');
    await user.click(screen.getByRole('button', { name: 'Export as CSV…' }));
    expect(await screen.findByText('Saved 2 records as CSV.')).toBeTruthy();
  });

  it('says when the log was altered', async () => {
    const { app } = await finished({ auditLog: async () => ({ ...audit, ok: false, problems: ['record 2: hash mismatch'] }) });
    render(App, { app });
    await app.toHistory();
    await waitFor(() => expect(screen.getByTestId('chain-status').textContent).toContain('altered or damaged'));
  });

  it('says when there is nothing yet', async () => {
    const { app } = await finished({ auditLog: async () => ({ ...audit, rows: [] }) });
    render(App, { app });
    await app.toHistory();
    expect(await screen.findByText(/No exports yet/)).toBeTruthy();
  });
});

describe('Resume', () => {
  it('offers an interrupted export on launch and continues it', async () => {
    const user = userEvent.setup();
    const pending = { ...preparation, resumed: true };
    const r = appWith({ whoAmI: async () => alice, pendingResume: async () => pending });
    await r.app.init();
    render(App, { app: r.app });
    expect(screen.getByRole('heading', { level: 1, name: 'Continue where you left off?' })).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Continue the export' }));
    expect(r.api.startExport).toHaveBeenCalledWith(pending.request, expect.any(Function));
    await waitFor(() => expect(r.app.screen).toBe('done'));
  });

  it('discards it on request', async () => {
    const user = userEvent.setup();
    const pending = { ...preparation, resumed: true };
    const r = appWith({ whoAmI: async () => alice, pendingResume: async () => pending });
    await r.app.init();
    render(App, { app: r.app });
    await user.click(screen.getByRole('button', { name: 'Discard it' }));
    expect(r.api.discardExport).toHaveBeenCalledWith(pending.request);
    await waitFor(() => expect(r.app.screen).toBe('choose'));
  });
});
