import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import type { Api } from '../lib/api';
import type { CategoryEstimate, ProgressEvent } from '../lib/bindings';
import { alice, appWith, matrixPlatform, matrixPreparation } from './fixtures';

/** A category as the preflight event carries it (the shell sends the name
 * as the label, and no container: the Choose screen's preparation has them). */
const est = (name: string, records: number | null, bytes = 1000): CategoryEstimate => ({
  name,
  label: name,
  container: null,
  records,
  bytes,
});

/** An app in the middle of an export that the test drives event by event. */
async function exporting(over: Partial<Api> = {}) {
  let send: (e: ProgressEvent) => void = () => {};
  let finish: (v: any) => void = () => {};
  let fail: (e: any) => void = () => {};
  let started = false;
  const r = appWith({
    whoAmI: async () => alice,
    ...over,
    startExport: (_req, onEvent) => {
      started = true;
      send = onEvent;
      return new Promise((res, rej) => {
        finish = res;
        fail = rej;
      });
    },
  });
  await r.app.init();
  await waitFor(() => expect(r.app.preparation).not.toBeNull());
  void r.app.start();
  await waitFor(() => expect(started).toBe(true));
  return { ...r, send: (e: ProgressEvent) => send(e), finish: (v: any) => finish(v), fail: (e: any) => fail(e) };
}

describe('Progress', () => {
  it('shows a bar per category with ARIA values, bytes, rate and time left', async () => {
    const { app, send } = await exporting();
    render(App, { app });
    send({ event: 'preflight', exportId: 'exp_1', resumed: false, categories: [est('profile', 1, 900), est('likes', 30, 3000), est('posts', 120, 90000)] });
    send({ event: 'phase', phase: 'fetching' });
    send({ event: 'category', name: 'profile', fetched: 1, expected: 1 });
    send({ event: 'category', name: 'posts', fetched: 60, expected: 120 });
    send({ event: 'bytes', done: 2_000_000, total: 4_000_000, rate: 500_000, etaSecs: 4 });
    await waitFor(() => expect(screen.getByText('Downloading your data…')).toBeTruthy());
    expect(screen.getByRole('heading', { level: 1, name: 'Exporting' })).toBeTruthy();
    const bar = screen.getByRole('progressbar', { name: 'Posts' });
    expect(bar.getAttribute('aria-valuenow')).toBe('60');
    expect(bar.getAttribute('aria-valuemax')).toBe('120');
    expect(bar.getAttribute('aria-valuetext')).toBe('60 of 120');
    const profile = screen.getByRole('progressbar', { name: 'Profile' });
    expect(profile.getAttribute('aria-valuetext')).toBe('1 of 1');
    // In the platform's order, whatever order the preflight sent.
    expect(screen.getAllByRole('progressbar').map((b) => b.getAttribute('aria-labelledby'))).toEqual([
      'bytes-label',
      'cat-profile-label',
      'cat-posts-label',
      'cat-likes-label',
    ]);
    const bytes = screen.getByRole('progressbar', { name: 'Downloaded' });
    expect(bytes.getAttribute('aria-valuetext')).toContain('2.0 MB of about 4.0 MB');
    expect(bytes.getAttribute('aria-valuetext')).toContain('500 KB/s');
    expect(bytes.getAttribute('aria-valuetext')).toContain('about 4 s left');
  });

  it('shows how far writing the parts of a split archive has got, and lets it be stopped', async () => {
    const { app, send } = await exporting();
    render(App, { app });
    send({ event: 'phase', phase: 'finishing' });
    expect(screen.queryByRole('progressbar', { name: 'Writing the parts' })).toBeNull();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Cancel…' }).hasAttribute('disabled')).toBe(true));
    send({ event: 'writingParts', written: 1, parts: 3, done: 250_000_000, total: 600_000_000 });
    const bar = await screen.findByRole('progressbar', { name: 'Writing the parts' });
    // Minutes for a large archive: it can be stopped.
    expect(screen.getByRole('button', { name: 'Cancel…' }).hasAttribute('disabled')).toBe(false);
    expect(bar.getAttribute('aria-valuenow')).toBe('250000000');
    expect(bar.getAttribute('aria-valuemax')).toBe('600000000');
    expect(bar.getAttribute('aria-valuetext')).toBe('1 of 3 parts complete · 250 MB of 600 MB');
    send({ event: 'writingParts', written: 3, parts: 3, done: 600_000_000, total: 600_000_000 });
    await waitFor(() => expect(bar.getAttribute('aria-valuetext')).toBe('3 of 3 parts complete · 600 MB of 600 MB'));
  });

  it('counts down while waiting out a rate limit', async () => {
    const { app, send } = await exporting();
    render(App, { app });
    send({ event: 'waiting', reason: 'The platform asked Keepsake to slow down', secs: 42, untilMs: Date.now() + 42_000, giveUpMs: null });
    expect(await screen.findByText(/The platform asked Keepsake to slow down/)).toBeTruthy();
    expect(screen.getByRole('timer').textContent).toMatch(/4[12] s/);
  });

  // Issue 14: a platform failing for good is given up on, and the wait says when.
  it('says when Keepsake gives up on a platform that keeps failing', async () => {
    const { app, send } = await exporting();
    render(App, { app });
    const giveUpMs = Date.now() + 600_000;
    send({ event: 'waiting', reason: 'The platform is busy', secs: 5, untilMs: Date.now() + 5_000, giveUpMs });
    const at = new Date(giveUpMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    expect(await screen.findByText(new RegExp(`gives up at ${at}`))).toBeTruthy();
  });

  it('asks whether to keep what was fetched before cancelling', async () => {
    const user = userEvent.setup();
    const { app, api, fail } = await exporting();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'Cancel…' }));
    expect(screen.getByRole('group', { name: 'Stop the export?' })).toBeTruthy();
    expect(document.activeElement?.textContent).toBe('Stop and keep for later');
    await user.click(screen.getByRole('button', { name: 'Stop and keep for later' }));
    expect(api.cancelExport).toHaveBeenCalledWith(true);
    fail({ code: 'cancelled', message: 'the export was cancelled' });
    await waitFor(() => expect(app.screen).toBe('choose'));
    expect(await screen.findByText(/What was downloaded is kept/)).toBeTruthy();
  });

  it('can go on exporting instead', async () => {
    const user = userEvent.setup();
    const { app, api } = await exporting();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'Cancel…' }));
    await user.click(screen.getByRole('button', { name: 'Continue exporting' }));
    expect(api.cancelExport).not.toHaveBeenCalled();
    expect(screen.getByRole('button', { name: 'Cancel…' })).toBeTruthy();
  });

  it('shows warnings that did not stop the export', async () => {
    const { app, send } = await exporting();
    render(App, { app });
    send({ event: 'warning', message: 'posts: the platform sent 2 records twice; each is kept once' });
    expect(await screen.findByText(/sent 2 records twice/)).toBeTruthy();
  });

  it('says the disk is full and offers another folder', async () => {
    const { app, fail } = await exporting();
    render(App, { app });
    fail({ code: 'disk_full', message: 'not enough free space in /x' });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Not enough free space');
    // It may have filled up mid-way: what was downloaded stays for a later run.
    expect(alert.textContent).toContain('anything already downloaded is kept');
    expect(screen.getByRole('button', { name: 'Choose another folder' })).toBeTruthy();
  });

  it('says the account was deleted', async () => {
    const { app, fail } = await exporting();
    render(App, { app });
    fail({ code: 'account_deleted', message: 'the platform refused … (410)' });
    expect((await screen.findByRole('alert')).textContent).toContain('This account has been deleted');
  });

  it('says the platform is unreachable and can try again', async () => {
    const { app, fail } = await exporting();
    render(App, { app });
    fail({ code: 'network', message: 'could not reach the platform' });
    expect((await screen.findByRole('alert')).textContent).toContain('The platform cannot be reached');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeTruthy();
  });

  it('gives the time of the next export when the quota is used up', async () => {
    const { app, fail } = await exporting();
    render(App, { app });
    fail({ code: 'quota', message: 'limit', retryAt: '2026-11-26T14:05:00Z' });
    expect((await screen.findByRole('alert')).textContent).toContain('The next export is possible at 14:05');
  });

  it('sends a signed-out user back to sign in', async () => {
    const { app, fail } = await exporting();
    render(App, { app });
    fail({ code: 'signed_out', message: '401' });
    await waitFor(() => expect(app.screen).toBe('signIn'));
    expect((await screen.findByRole('alert')).textContent).toContain('You are signed out');
  });
});

describe('Progress, where the platform announces no counts', () => {
  const matrix = {
    getPlatform: async () => matrixPlatform,
    whoAmI: async () => ({ ...alice, id: '@alice:example.org', platformName: 'Matrix' }),
    prepareExport: async () => matrixPreparation,
  };

  it('counts up with an indeterminate bar, then shows the total once fetched', async () => {
    const { app, send } = await exporting(matrix);
    render(App, { app });
    send({ event: 'preflight', exportId: 'exp_1', resumed: false, categories: matrixPreparation.categories.map((c) => est(c.name, c.records)) });
    send({ event: 'phase', phase: 'fetching' });
    send({ event: 'category', name: 'room_1_timeline', fetched: 250, expected: null });
    send({ event: 'category', name: 'profile', fetched: 1, expected: 1 });
    // Labelled as the preparation said, with the room it belongs to.
    const messages = await screen.findByRole('progressbar', { name: 'Project chat: Messages' });
    await waitFor(() => expect(messages.getAttribute('aria-valuetext')).toBe('250 so far'));
    expect(messages.hasAttribute('aria-valuenow')).toBe(false);
    expect(messages.hasAttribute('aria-valuemax')).toBe(false);
    expect(screen.getByText('250 so far')).toBeTruthy();
    expect(screen.queryByText(/of 0/)).toBeNull();
    expect(screen.getByRole('progressbar', { name: 'Profile' }).getAttribute('aria-valuetext')).toBe('1 of 1');

    send({ event: 'phase', phase: 'finishing' });
    await waitFor(() => expect(messages.getAttribute('aria-valuetext')).toBe('250'));
    expect(messages.getAttribute('aria-valuenow')).toBe('250');
    expect(messages.getAttribute('aria-valuemax')).toBe('250');
  });

  it('keeps many rooms usable: running ones in a scrollable list, finished ones folded away', async () => {
    const user = userEvent.setup();
    const rooms = Array.from({ length: 12 }, (_, i) => i + 1);
    const categories: CategoryEstimate[] = [
      { name: 'profile', label: 'Profile', container: null, records: 1, bytes: 500 },
      ...rooms.flatMap((i) => [
        { name: `room_${i}_state`, label: 'Room state', container: `Room ${i}`, records: null, bytes: 100 },
        { name: `room_${i}_timeline`, label: 'Messages', container: `Room ${i}`, records: i === 1 ? 40 : null, bytes: 100 },
      ]),
    ];
    const { app, send } = await exporting({ ...matrix, prepareExport: async () => ({ ...matrixPreparation, categories }) });
    render(App, { app });
    send({ event: 'preflight', exportId: 'exp_1', resumed: false, categories: categories.map((c) => est(c.name, c.records)) });
    send({ event: 'phase', phase: 'fetching' });
    send({ event: 'category', name: 'profile', fetched: 1, expected: 1 });
    send({ event: 'category', name: 'room_1_timeline', fetched: 40, expected: 40 });
    send({ event: 'category', name: 'room_2_timeline', fetched: 7, expected: null });

    const list = await screen.findByRole('region', { name: 'Categories still downloading' });
    await waitFor(() => expect(screen.getByTestId('categories-finished').textContent).toContain('2 of 25 categories finished'));
    expect(list.tabIndex).toBe(0);
    expect(within(list).getAllByRole('progressbar')).toHaveLength(23);
    expect(within(list).queryByRole('progressbar', { name: 'Profile' })).toBeNull();
    expect(within(list).getByRole('progressbar', { name: 'Room 2: Messages' }).getAttribute('aria-valuetext')).toBe('7 so far');

    const folded = screen.getByText('Finished: 2 categories').closest('details') as HTMLDetailsElement;
    expect(folded.open).toBe(false);
    await user.click(screen.getByText('Finished: 2 categories'));
    expect(folded.open).toBe(true);
    expect(within(folded).getAllByRole('listitem').map((li) => li.textContent?.replace(/\s+/g, ' ').trim())).toEqual([
      'Profile — 1 of 1',
      'Room 1: Messages — 40 of 40',
    ]);
  });
});
