import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import { alice, appWith, carol, preparation } from './fixtures';

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
    expect(req.destination).toBe('/home/alice/Downloads/Keepsake');
  });

  it('cannot start with nothing chosen', async () => {
    const user = userEvent.setup();
    const { app } = await signedIn();
    render(App, { app });
    for (const label of [/Profile/, /Posts/, /Comments/, /Likes/, /Followers/, /Photos/]) {
      await user.click(screen.getByLabelText(label));
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
    expect(req.subjectId).toBe(1);
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

  it('says an interrupted export will be continued', async () => {
    const { app } = await signedIn({ prepareExport: async () => ({ ...preparation, resumed: true }) });
    render(App, { app });
    expect(screen.getByText(/starting continues it where it stopped/)).toBeTruthy();
  });
});
