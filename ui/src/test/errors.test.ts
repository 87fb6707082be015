// The error codes not met on the Progress and Sign in screens' own tests:
// each in the place it arises, in plain words, with its next step working.
import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import { alice, appWith, carol, preparation } from './fixtures';

const refuse = (code: string, message: string) => async (): Promise<never> => {
  throw { code, message };
};

/** The alert, its heading and its text; the engine's sentence is under Details. */
async function alert(code: string, title: string, body: RegExp, engineSays: string) {
  const banner = await screen.findByRole('alert');
  expect(banner.dataset.code).toBe(code);
  expect(within(banner).getByRole('heading', { level: 2 }).textContent).toBe(title);
  expect(banner.textContent).toMatch(body);
  expect(within(banner).getByText('Details')).toBeTruthy();
  expect(within(banner).getByText(engineSays)).toBeTruthy();
  return banner;
}

describe('errors in plain words, with the next step', () => {
  it('sign_in: the browser sign-in did not finish; the other ways in are still there', async () => {
    const user = userEvent.setup();
    const { app } = appWith({ signInWithBrowser: refuse('sign_in', 'the authorization code was refused (400)') });
    await app.init();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'Sign in with your browser' }));
    const banner = await alert(
      'sign_in',
      'Sign-in did not finish',
      /Try again, or sign in another way the platform offers/,
      'the authorization code was refused (400)',
    );
    expect(app.account).toBeNull();
    // The next steps are the screen's own buttons, still there below it.
    expect(within(banner).queryByRole('button')).toBeNull();
    expect(screen.getByRole('button', { name: 'Sign in with your browser' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Use a personal access token' })).toBeTruthy();
  });

  it('forbidden: a support export needs a support account', async () => {
    const user = userEvent.setup();
    const { app } = appWith({
      whoAmI: async () => carol,
      prepareExport: async (request) => {
        if (request.subjectId) throw { code: 'forbidden', message: 'the platform refused (403): export:any missing' };
        return preparation;
      },
    });
    await app.init();
    render(App, { app });
    await user.click(await screen.findByLabelText(/A customer’s account/));
    await user.type(screen.getByLabelText('Customer’s login'), 'alice');
    await user.click(screen.getByRole('button', { name: 'Look up' }));
    await user.type(await screen.findByLabelText(/Reason for this export/), 'Ticket 1');
    await user.tab();
    await alert(
      'forbidden',
      'This account may not do that',
      /needs a support account/,
      'the platform refused (403): export:any missing',
    );
    expect(screen.getByRole('button', { name: 'OK' })).toBeTruthy();
  });

  it('platform: the platform had a problem; Try again asks it again', async () => {
    const user = userEvent.setup();
    let calls = 0;
    const { app } = appWith({
      whoAmI: async () => alice,
      prepareExport: async () => {
        calls += 1;
        if (calls === 1) throw { code: 'platform', message: 'the platform answered 503' };
        return preparation;
      },
    });
    await app.init();
    render(App, { app });
    const banner = await alert('platform', 'The platform had a problem', /Try again in a few minutes/, 'the platform answered 503');
    await user.click(within(banner).getByRole('button', { name: 'Try again' }));
    await waitFor(() => expect(calls).toBe(2));
    await waitFor(() => expect(screen.queryByRole('alert')).toBeNull());
    expect((await screen.findByTestId('estimate-posts')).textContent).toContain('120 items');
  });

  it('file: a file could not be written; another folder can be chosen', async () => {
    const user = userEvent.setup();
    const { app, api } = appWith({
      whoAmI: async () => alice,
      startExport: refuse('file', 'could not create /home/alice/Downloads/Keepsake: permission denied'),
    });
    await app.init();
    render(App, { app });
    await user.click(await screen.findByRole('button', { name: 'Start export' }));
    const banner = await alert(
      'file',
      'A file could not be written',
      /may write to it, or choose another folder/,
      'could not create /home/alice/Downloads/Keepsake: permission denied',
    );
    await user.click(within(banner).getByRole('button', { name: 'Choose another folder' }));
    expect(api.chooseFolder).toHaveBeenCalled();
    await waitFor(() => expect(app.destination).toBe('/media/usb'));
  });

  it('archive: the archive is damaged, export again', async () => {
    const user = userEvent.setup();
    const { app } = appWith({
      whoAmI: async () => alice,
      verifyArchive: refuse('archive', 'posts.json: checksum mismatch'),
    });
    await app.init();
    await app.start();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'Verify' }));
    const banner = await alert('archive', 'The archive is damaged', /Export again to get an intact copy/, 'posts.json: checksum mismatch');
    await user.click(within(banner).getByRole('button', { name: 'OK' }));
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('audit: the audit log is damaged, keep a copy', async () => {
    const user = userEvent.setup();
    const { app } = appWith({
      whoAmI: async () => alice,
      auditLog: refuse('audit', 'record 3: its hash does not chain to record 2'),
    });
    await app.init();
    render(App, { app });
    await user.click(await screen.findByRole('button', { name: 'History' }));
    await alert(
      'audit',
      'The audit log is damaged',
      /Keep a copy of the log folder/,
      'record 3: its hash does not chain to record 2',
    );
    expect(screen.getByRole('heading', { level: 1, name: 'History' })).toBeTruthy();
  });
});
