import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import { alice, appWith } from './fixtures';

describe('Sign in', () => {
  it('starts signed out with the platform pre-filled', async () => {
    const { app } = appWith();
    await app.init();
    render(App, { app });
    expect(screen.getByRole('heading', { level: 1, name: 'Take your data home' })).toBeTruthy();
    expect((screen.getByLabelText('Platform address') as HTMLInputElement).value).toBe('http://127.0.0.1:9000');
    expect(screen.getByRole('button', { name: 'Sign in with your browser' })).toBeTruthy();
  });

  it('says when it runs against the demo platform', async () => {
    const { app } = appWith({ getPlatform: async () => ({ url: 'http://127.0.0.1:4000', demo: true }) });
    await app.init();
    render(App, { app });
    expect(screen.getByText(/Demo mode/)).toBeTruthy();
    expect((screen.getByLabelText('Platform address') as HTMLInputElement).readOnly).toBe(true);
  });

  it('signs in with a pasted token, which is cleared from the field', async () => {
    const user = userEvent.setup();
    const { app, api } = appWith();
    await app.init();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'Use an access token' }));
    const field = screen.getByLabelText('Personal access token') as HTMLInputElement;
    await user.type(field, 'ksp_secret');
    await user.click(screen.getByRole('button', { name: 'Sign in with token' }));
    expect(api.signInWithToken).toHaveBeenCalledWith('ksp_secret');
    await waitFor(() => expect(app.screen).toBe('choose'));
    expect(app.account).toEqual(alice);
  });

  it('signs in through the browser, asking for support scopes when ticked', async () => {
    const user = userEvent.setup();
    const { app, api } = appWith();
    await app.init();
    render(App, { app });
    await user.click(screen.getByLabelText(/I am support staff/));
    await user.click(screen.getByRole('button', { name: 'Sign in with your browser' }));
    expect(api.signInWithBrowser).toHaveBeenCalledWith(true);
  });

  it('can stop waiting for the browser, which is not an error', async () => {
    const user = userEvent.setup();
    let stop: (e: unknown) => void = () => {};
    const { app } = appWith({
      signInWithBrowser: () => new Promise((_res, rej) => (stop = rej)),
      cancelSignIn: async () => {
        stop({ code: 'cancelled', message: 'sign-in cancelled' });
        return true;
      },
    });
    await app.init();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'Sign in with your browser' }));
    await user.click(await screen.findByRole('button', { name: 'Cancel browser sign-in' }));
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Cancel browser sign-in' })).toBeNull());
    expect(screen.queryByRole('alert')).toBeNull();
    expect(app.error).toBeNull();
    expect(app.account).toBeNull();
    expect(screen.getByRole('button', { name: 'Sign in with your browser' }).hasAttribute('disabled')).toBe(false);
  });

  it('shows a refused token in plain words', async () => {
    const user = userEvent.setup();
    const { app } = appWith({
      signInWithToken: async () => {
        throw { code: 'signed_out', message: 'the platform refused http://127.0.0.1:9000/api/v1/me (401)' };
      },
    });
    await app.init();
    render(App, { app });
    await user.click(screen.getByRole('button', { name: 'Use an access token' }));
    await user.type(screen.getByLabelText('Personal access token'), 'nope');
    await user.click(screen.getByRole('button', { name: 'Sign in with token' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('You are signed out');
  });

  it('says while it waits for the browser', async () => {
    const { app } = appWith({ signInWithBrowser: () => new Promise(() => {}) });
    await app.init();
    render(App, { app });
    void app.signInWithBrowser(false);
    expect(await screen.findByText(/Waiting for you to sign in in your browser/)).toBeTruthy();
  });

  it('explains a keyring that is not there', async () => {
    const { app } = appWith({
      whoAmI: async () => {
        throw { code: 'keyring', message: 'the system keyring is not available' };
      },
    });
    await app.init();
    render(App, { app });
    expect((await screen.findByRole('alert')).textContent).toContain('The system keyring is not available');
  });
});
