import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import type { Preparation } from '../lib/bindings';
import { carol, alice, appWith, matrixPlatform, matrixPreparation, preparation } from './fixtures';

/** An interrupted export of alice's data that carol (support) started in another folder. */
const customers: Preparation = {
  ...preparation,
  actor: 'carol',
  resumed: true,
  request: { destination: '/media/usb/Exports', subjectId: '1', reason: 'Ticket 4411' },
};

describe('Resume', () => {
  it('offers a customer’s interrupted export with who started it and why, and continues it as it was', async () => {
    const user = userEvent.setup();
    const { app, api } = appWith({ whoAmI: async () => carol, pendingResume: async () => customers });
    await app.init();
    render(App, { app });
    expect(screen.getByRole('heading', { level: 1, name: 'Continue where you left off?' })).toBeTruthy();
    expect(screen.getByText('/media/usb/Exports')).toBeTruthy();
    expect(screen.getByTestId('resume-on-behalf').textContent).toMatch(/Started by carol on behalf of this customer, for the reason\s+“Ticket 4411”/);
    await user.click(screen.getByRole('button', { name: 'Continue the export' }));
    await waitFor(() => expect(api.startExport).toHaveBeenCalled());
    expect((api.startExport as any).mock.calls[0][0]).toEqual(customers.request);
  });

  it('says nothing of anyone else for one’s own export, and discards it when asked', async () => {
    const user = userEvent.setup();
    const own: Preparation = { ...preparation, resumed: true };
    const { app, api } = appWith({ whoAmI: async () => alice, pendingResume: async () => own });
    await app.init();
    render(App, { app });
    expect(screen.queryByTestId('resume-on-behalf')).toBeNull();
    // In the platform's order, by its labels.
    expect(screen.getAllByRole('listitem').map((li) => li.textContent?.replace(/\s+/g, ' ').trim().split(':')[0])).toEqual([
      'Profile',
      'Posts',
      'Comments',
      'Likes',
      'Connections',
      'Media',
    ]);
    await user.click(screen.getByRole('button', { name: 'Discard it' }));
    await waitFor(() => expect(api.discardExport).toHaveBeenCalledWith(own.request));
    expect(await screen.findByRole('heading', { level: 1, name: 'What should Keepsake export?' })).toBeTruthy();
    expect(api.startExport).not.toHaveBeenCalled();
  });
});

describe('Resume, where the platform announces no counts', () => {
  it('says a count was not announced rather than 0, and names the room', async () => {
    const own: Preparation = { ...matrixPreparation, resumed: true };
    const { app } = appWith({
      getPlatform: async () => matrixPlatform,
      whoAmI: async () => ({ ...alice, id: '@alice:example.org' }),
      pendingResume: async () => own,
    });
    await app.init();
    render(App, { app });
    const items = screen.getAllByRole('listitem').map((li) => li.textContent?.replace(/\s+/g, ' ').trim());
    expect(items).toContain('Project chat: Messages: count not announced · about 90 KB');
    expect(items).toContain('Profile: 1 · about 500 bytes');
    expect(items.some((t) => /: 0 ·/.test(t ?? ''))).toBe(false);
  });
});
