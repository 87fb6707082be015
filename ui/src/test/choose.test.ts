import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import {
  alice,
  appWith,
  carol,
  matrixPlatform,
  matrixPreparation,
  preparation,
  wordpressPlatform,
  wpAdmin,
  wpPreparation,
} from './fixtures';

const hint = () => screen.getByTestId('split-hint').textContent?.replace(/\s+/g, ' ');
const choices = () => screen.getByTestId('archive-choices').textContent;
/** Unfolds "Formats and size". */
async function unfold(user: ReturnType<typeof userEvent.setup>) {
  await user.click(screen.getByText('Formats and size:'));
  expect((screen.getByText('Formats and size:').closest('details') as HTMLDetailsElement).open).toBe(true);
}

async function signedIn(over = {}) {
  const r = appWith({ whoAmI: async () => alice, ...over });
  await r.app.init();
  await waitFor(() => expect(r.app.preparation).not.toBeNull());
  return r;
}

describe('Choose', () => {
  it('shows counts, size and free space from the preflight', async () => {
    const { app } = await signedIn();
    render(App, { app });
    expect(screen.getByRole('heading', { level: 1, name: 'What should Keepsake export?' })).toBeTruthy();
    expect(screen.getByTestId('estimate-posts').textContent).toContain('120 items');
    expect(screen.getByText(/52 GB free/)).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Start export' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('starts with only the chosen categories', async () => {
    const user = userEvent.setup();
    const { app, api } = await signedIn();
    render(App, { app });
    await user.click(screen.getByLabelText(/Likes/));
    await user.click(screen.getByRole('button', { name: 'Start export' }));
    const req = (api.startExport as any).mock.calls[0][0];
    expect(req.categories).toEqual(['profile', 'posts', 'comments', 'connections', 'media']);
    expect((api.prepareExport as any).mock.calls[0][0].categories).toBeUndefined();
    expect(req.destination).toBe('/home/alice/Downloads/Keepsake');
  });

  it('cannot start with nothing chosen', async () => {
    const user = userEvent.setup();
    const { app } = await signedIn();
    render(App, { app });
    for (const label of ['Profile', 'Posts', 'Comments', 'Likes', 'Connections', 'Media']) {
      await user.click(screen.getByRole('checkbox', { name: new RegExp(`^${label}`) }));
    }
    expect((screen.getByRole('button', { name: 'Start export' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('warns when the folder has too little space', async () => {
    const { app } = await signedIn({ prepareExport: async () => ({ ...preparation, freeBytes: 1_000_000 }) });
    render(App, { app });
    expect(screen.getByText(/not enough space, choose another folder/)).toBeTruthy();
  });

  it('picks a folder with the native dialog and checks again', async () => {
    const user = userEvent.setup();
    const { app, api } = await signedIn();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'Choose…' }));
    await waitFor(() => expect(app.destination).toBe('/media/usb'));
    expect((api.prepareExport as any).mock.calls.at(-1)[0].destination).toBe('/media/usb');
  });

  it('lets support staff export a customer with a required reason', async () => {
    const user = userEvent.setup();
    const { app, api } = await signedIn({ whoAmI: async () => carol });
    render(App, { app });
    await user.click(screen.getByLabelText(/A customer’s account/));
    const start = screen.getByRole('button', { name: 'Start export' }) as HTMLButtonElement;
    expect(start.disabled).toBe(true);
    await user.type(screen.getByLabelText('Customer’s login'), 'alice');
    await user.click(screen.getByRole('button', { name: 'Look up' }));
    expect(await screen.findByText(/Found/)).toBeTruthy();
    expect(start.disabled).toBe(true);
    await user.type(screen.getByLabelText(/Reason for this export/), 'Ticket 4411');
    await waitFor(() => expect(start.disabled).toBe(false));
    await user.click(start);
    await waitFor(() => expect(api.startExport).toHaveBeenCalled());
    const req = (api.startExport as any).mock.calls[0][0];
    expect(req.subjectId).toBe('1');
    expect(req.reason).toBe('Ticket 4411');
  });

  it('says a customer cannot be found', async () => {
    const user = userEvent.setup();
    const { app } = await signedIn({
      whoAmI: async () => carol,
      findCustomer: async () => {
        throw { code: 'invalid', message: "no account with the login 'zed'" };
      },
    });
    render(App, { app });
    await user.click(screen.getByLabelText(/A customer’s account/));
    await user.type(screen.getByLabelText('Customer’s login'), 'zed');
    await user.click(screen.getByRole('button', { name: 'Look up' }));
    expect((await screen.findByRole('alert')).textContent).toContain("no account with the login 'zed'");
  });

  it('offers the formats, JSON always and CSV and the viewer on by default', async () => {
    const user = userEvent.setup();
    const { app } = await signedIn();
    render(App, { app });
    expect(choices()).toBe('JSON, CSV and the offline viewer; one file');
    await unfold(user);
    const formats = within(screen.getByRole('group', { name: 'Formats' }));
    const json = formats.getByRole('checkbox', { name: /JSON/ }) as HTMLInputElement;
    expect(json.checked && json.disabled).toBe(true);
    for (const name of [/Spreadsheets \(CSV\)/, /Offline viewer/]) {
      const box = formats.getByRole('checkbox', { name }) as HTMLInputElement;
      expect(box.checked && !box.disabled).toBe(true);
    }
    const split = screen.getByRole('combobox', { name: 'Split into parts of at most' }) as HTMLSelectElement;
    expect(within(split).getAllByRole('option').map((o) => o.textContent)).toEqual([
      'No split (one file)',
      '100 MB',
      '2 GB',
      '4 GB',
      '10 GB',
      '50 GB',
    ]);
    expect(split.selectedOptions[0].textContent).toBe('No split (one file)');
    expect(screen.getByTestId('split-hint').textContent).toContain('One zip file');
  });

  it('starts with JSON only in 2 GB parts, without asking the platform again', async () => {
    const user = userEvent.setup();
    const { app, api } = await signedIn();
    render(App, { app });
    const prepared = (api.prepareExport as any).mock.calls.length;
    await unfold(user);
    await user.click(screen.getByLabelText(/Spreadsheets \(CSV\)/));
    await user.click(screen.getByLabelText(/Offline viewer/));
    await user.selectOptions(screen.getByLabelText('Split into parts of at most'), '2 GB');
    expect(hint()).toMatch(/fits within 2 GB, so it stays one file/);
    expect(choices()).toBe('JSON only; parts of at most 2 GB');
    await user.click(screen.getByRole('button', { name: 'Start export' }));
    const req = (api.startExport as any).mock.calls[0][0];
    expect([req.csv, req.viewer, req.splitSize]).toEqual([false, false, 2_000_000_000]);
    expect((api.prepareExport as any).mock.calls.length).toBe(prepared);
  });

  it('sends the defaults when nothing is changed, and no split size', async () => {
    const user = userEvent.setup();
    const { app, api } = await signedIn();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'Start export' }));
    const req = (api.startExport as any).mock.calls[0][0];
    expect([req.csv, req.viewer, req.splitSize]).toEqual([true, true, undefined]);
  });

  it('says about how many parts the chosen size makes', async () => {
    const user = userEvent.setup();
    const big = {
      ...preparation,
      categories: preparation.categories.map((c) => (c.name === 'media' ? { ...c, bytes: 7_500_000_000 } : c)),
    };
    const { app } = await signedIn({ prepareExport: async () => big });
    render(App, { app });
    await unfold(user);
    await user.selectOptions(screen.getByLabelText('Split into parts of at most'), '2 GB');
    expect(choices()).toBe('JSON, CSV and the offline viewer; about 4 parts of at most 2 GB');
    expect(hint()).toMatch(/About 4 parts of at most 2 GB, each a complete zip \(this export is about 7\.5 GB\)/);
    // Leaving the media out leaves far less to split.
    await user.click(screen.getByLabelText(/Media/));
    expect(hint()).toMatch(/fits within 2 GB/);
  });

  it('says an interrupted export will be continued', async () => {
    const { app } = await signedIn({ prepareExport: async () => ({ ...preparation, resumed: true }) });
    render(App, { app });
    expect(screen.getByText(/starting continues it where it stopped/)).toBeTruthy();
  });
});

/** The categories' checkboxes, by their labels, in the order shown. */
const boxes = () => screen.getAllByRole('checkbox').filter((b) => b.closest('.cats'));
const labels = () => boxes().map((b) => b.closest('label')?.querySelector('.cat-name')?.textContent);

describe('Choose, on other platforms', () => {
  async function wordpress(over = {}) {
    const r = appWith({
      getPlatform: async () => wordpressPlatform,
      whoAmI: async () => wpAdmin,
      prepareExport: async () => wpPreparation,
      ...over,
    });
    await r.app.init();
    await waitFor(() => expect(r.app.preparation).not.toBeNull());
    render(App, { app: r.app });
    return r;
  }

  it('lists a WordPress site’s own categories in its order, and sends the ones left ticked', async () => {
    const user = userEvent.setup();
    const { api } = await wordpress();
    expect(labels()).toEqual(['Profile', 'Posts', 'Pages', 'Comments', 'Media', 'Revisions', 'Tags', 'Categories']);
    expect(boxes().every((b) => (b as HTMLInputElement).checked)).toBe(true);
    expect(screen.queryByLabelText(/Likes/)).toBeNull();
    expect(screen.getByRole('group', { name: /Date range/ })).toBeTruthy();
    await user.click(screen.getByRole('checkbox', { name: /^Revisions/ }));
    await user.click(screen.getByRole('checkbox', { name: /^Tags/ }));
    await user.click(screen.getByRole('button', { name: 'Start export' }));
    const req = (api.startExport as any).mock.calls[0][0];
    expect(req.categories).toEqual(['profile', 'posts', 'pages', 'comments', 'media', 'categories']);
  });

  it('sends no category list when all of them stay ticked', async () => {
    const user = userEvent.setup();
    const { api } = await wordpress();
    await user.click(screen.getByRole('button', { name: 'Start export' }));
    expect((api.startExport as any).mock.calls[0][0].categories).toBeUndefined();
  });

  it('says where the platform announces no count, instead of 0', async () => {
    await wordpress();
    expect(screen.getByTestId('estimate-posts').textContent).toContain('11 items');
    const revisions = screen.getByTestId('estimate-revisions').textContent ?? '';
    expect(revisions).not.toMatch(/\b0 items/);
    expect(revisions).toContain('about 6.0 KB');
  });

  it('says that the site keeps no record of an export on someone’s behalf, and where it is recorded', async () => {
    const user = userEvent.setup();
    const { api } = await wordpress();
    expect(screen.getByRole('group', { name: 'Whose data' }).textContent).toMatch(
      /Support access on WordPress: an administrator of the site/,
    );
    expect(screen.queryByTestId('no-platform-record')).toBeNull();
    await user.click(screen.getByLabelText(/A customer’s account/));
    const notice = screen.getByTestId('no-platform-record');
    expect(notice.textContent?.replace(/\s+/g, ' ')).toMatch(
      /WordPress keeps no record of exports\. Who exported this account and why is recorded only in this computer’s audit log and in the archive’s manifest/,
    );
    const reason = screen.getByLabelText(/Reason for this export/);
    expect(reason.getAttribute('aria-describedby')?.split(' ')).toContain('no-record');
    expect(screen.getByText(/Recorded in this computer’s history and in the archive’s manifest/)).toBeTruthy();
    expect(screen.queryByText(/platform’s audit trail/)).toBeNull();

    await user.type(screen.getByLabelText('Customer’s login'), 'bob');
    await user.click(screen.getByRole('button', { name: 'Look up' }));
    await user.type(screen.getByLabelText(/Reason for this export/), 'Ticket 9');
    await user.click(screen.getByRole('button', { name: 'Start export' }));
    await waitFor(() => expect(api.startExport).toHaveBeenCalled());
    expect((api.startExport as any).mock.calls[0][0].subjectId).toBe('1');
  });

  it('says nothing of a missing record where the platform keeps one', async () => {
    const user = userEvent.setup();
    const { app } = await signedIn({ whoAmI: async () => carol });
    render(App, { app });
    await user.click(screen.getByLabelText(/A customer’s account/));
    expect(screen.queryByTestId('no-platform-record')).toBeNull();
    expect(screen.getByText(/Recorded in the platform’s audit trail/)).toBeTruthy();
  });

  it('says what happens to records written during the export where the platform has no snapshot', async () => {
    await wordpress();
    expect(screen.getByTestId('no-snapshot').textContent?.replace(/\s+/g, ' ')).toMatch(
      /anything written during the export may or may not be included\. Everything that was there throughout is in the archive exactly once, never lost or duplicated/,
    );
  });

  it('says nothing of it where the platform exports a snapshot', async () => {
    const { app } = await signedIn();
    render(App, { app });
    expect(screen.queryByTestId('no-snapshot')).toBeNull();
  });

  it('offers the rooms a Matrix export found, by room, ticked, and sends what is left ticked', async () => {
    const user = userEvent.setup();
    const r = appWith({
      getPlatform: async () => matrixPlatform,
      whoAmI: async () => ({ ...alice, id: '@alice:example.org', platformName: 'Matrix', snapshot: false, platformRecord: false }),
      prepareExport: async () => matrixPreparation,
    });
    await r.app.init();
    await waitFor(() => expect(r.app.preparation).not.toBeNull());
    render(App, { app: r.app });
    expect(labels()).toEqual(['Profile', 'Account settings', 'Room state', 'Messages', 'Room state', 'Messages']);
    expect(boxes().every((b) => (b as HTMLInputElement).checked)).toBe(true);
    // Rooms are taken whole: no date range to choose, and none sent.
    expect(screen.queryByRole('group', { name: /Date range/ })).toBeNull();
    expect(screen.queryByLabelText('From')).toBeNull();
    const family = screen.getByRole('group', { name: 'Family' });
    expect(within(family).getAllByRole('checkbox').map((b) => (b as HTMLInputElement).value)).toEqual([
      'room_2_state',
      'room_2_timeline',
    ]);
    await user.click(within(family).getByRole('checkbox', { name: /^Messages/ }));
    // A range left from another platform's export is not sent.
    r.app.since = '2024-01-01';
    await user.click(screen.getByRole('button', { name: 'Start export' }));
    expect((r.api.startExport as any).mock.calls[0][0].categories).toEqual([
      'profile',
      'account_data',
      'room_1_state',
      'room_1_timeline',
      'room_2_state',
    ]);
    expect((r.api.startExport as any).mock.calls[0][0].since).toBeUndefined();
  });
});
