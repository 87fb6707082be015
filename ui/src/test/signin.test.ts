import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import type { PlatformInfo } from '../lib/bindings';
import { alice, appWith, keepsakePlatform, matrixPlatform, noPlatform, wordpressPlatform, wpAdmin } from './fixtures';

/** A WordPress site on this computer, whose approval page comes back by itself. */
const wordpressLocal: PlatformInfo = {
  ...wordpressPlatform,
  url: 'http://127.0.0.1:8080',
  offers: [
    {
      flow: 'browser',
      label: 'Sign in with your browser (WordPress asks you to approve Keepsake)',
      secretLabel: null,
      userLabel: null,
      page: null,
    },
    ...wordpressPlatform.offers,
  ],
};

const found = () => screen.getByTestId('platform-found').textContent?.replace(/\s+/g, ' ').trim();
/** The sign-in controls in the order they are on the screen. */
const controls = () =>
  Array.from(document.querySelectorAll('section button, section input')).map(
    (el) => el.textContent?.trim() || (el as HTMLInputElement).labels?.[0]?.textContent?.trim() || el.id,
  );

async function signInScreen(over: Parameters<typeof appWith>[0] = {}) {
  const r = appWith(over);
  await r.app.init();
  render(App, { app: r.app });
  return r;
}

describe('Sign in, step 1: the address', () => {
  it('asks for the address first when no platform is chosen, and finds out what it is', async () => {
    const user = userEvent.setup();
    let answer: (p: PlatformInfo) => void = () => {};
    const { api } = await signInScreen({
      getPlatform: async () => noPlatform,
      setPlatform: (url) => new Promise((res) => (answer = (p) => res({ ...p, url }))),
    });
    expect(screen.getByRole('heading', { level: 1, name: 'Take your data home' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: /Sign in/ })).toBeNull();
    await user.type(screen.getByLabelText('Platform address'), '  https://blog.example ');
    await user.click(screen.getByRole('button', { name: 'Continue' }));
    expect(api.setPlatform).toHaveBeenCalledWith('https://blog.example');
    expect((await screen.findByRole('status')).textContent).toContain('Finding out what https://blog.example is…');
    expect((screen.getByRole('button', { name: 'Continue' }) as HTMLButtonElement).disabled).toBe(true);
    answer(wordpressPlatform);

    const heading = await screen.findByRole('heading', { level: 2, name: 'WordPress at https://blog.example' });
    await waitFor(() => expect(document.activeElement).toBe(heading));
    expect(screen.queryByLabelText('Platform address')).toBeNull();
    // A site on https sends no password to an app on this computer: the
    // password form, with the page that makes one.
    expect(controls()).toEqual(['Change', 'User name', 'Get one in your browser', 'Application password', 'Sign in']);
    expect(screen.getByRole('form', { name: /Use an application password/ })).toBeTruthy();
  });

  it('says plainly when the address is not a platform it knows, and stays on the address', async () => {
    const user = userEvent.setup();
    await signInScreen({
      getPlatform: async () => noPlatform,
      setPlatform: async () => {
        throw { code: 'invalid', message: 'https://example.com is not a platform Keepsake knows' };
      },
    });
    await user.type(screen.getByLabelText('Platform address'), 'https://example.com');
    await user.click(screen.getByRole('button', { name: 'Continue' }));
    expect((await screen.findByRole('alert')).textContent).toContain('is not a platform Keepsake knows');
    expect(screen.getByLabelText('Platform address')).toBeTruthy();
    expect(screen.queryByTestId('platform-found')).toBeNull();
  });

  it('goes back to the address with Change', async () => {
    const user = userEvent.setup();
    const { api } = await signInScreen();
    expect(found()).toBe('Keepsake Export API v1 at http://127.0.0.1:9000');
    await user.click(screen.getByRole('button', { name: 'Change' }));
    const field = screen.getByLabelText('Platform address') as HTMLInputElement;
    expect(field.value).toBe('http://127.0.0.1:9000');
    expect(document.activeElement).toBe(field);
    await user.clear(field);
    await user.type(field, 'https://blog.example');
    await user.click(screen.getByRole('button', { name: 'Continue' }));
    expect(api.setPlatform).toHaveBeenCalledWith('https://blog.example');
    expect(await screen.findByRole('heading', { name: 'WordPress at https://blog.example' })).toBeTruthy();
  });

  it('shows why the chosen platform could not be asked, and asks again on Continue', async () => {
    const user = userEvent.setup();
    const { api } = await signInScreen({
      getPlatform: async () => ({
        ...noPlatform,
        url: 'https://blog.example',
        kind: 'wordpress',
        problem: 'could not reach https://blog.example: connection refused',
      }),
    });
    const problem = screen.getByTestId('platform-problem');
    expect(problem.getAttribute('role')).toBe('alert');
    expect(problem.textContent).toContain('Keepsake could not ask https://blog.example what it is');
    expect(problem.textContent).toContain('connection refused');
    expect((screen.getByLabelText('Platform address') as HTMLInputElement).value).toBe('https://blog.example');
    await user.click(screen.getByRole('button', { name: 'Continue' }));
    expect(api.setPlatform).toHaveBeenCalledWith('https://blog.example');
    expect(await screen.findByRole('heading', { name: 'WordPress at https://blog.example' })).toBeTruthy();
    expect(screen.queryByTestId('platform-problem')).toBeNull();
  });

  it('shows the platform’s words as text, never as markup', async () => {
    await signInScreen({
      getPlatform: async () => ({
        ...keepsakePlatform,
        name: '<img src=x onerror="window.pwned=1">Evil',
        offers: [{ flow: 'token', label: '<b>Paste</b> it', secretLabel: '<i>Secret</i>', userLabel: null, page: null }],
      }),
    });
    expect(found()).toBe('<img src=x onerror="window.pwned=1">Evil at http://127.0.0.1:9000');
    expect(screen.getByRole('button', { name: '<b>Paste</b> it' })).toBeTruthy();
    expect(document.querySelector('section img, section b')).toBeNull();
  });
});

describe('Sign in, step 2: the platform’s ways in', () => {
  it('in demo mode shows the fixed platform and its ways in at once', async () => {
    await signInScreen({ getPlatform: async () => ({ ...keepsakePlatform, url: 'http://127.0.0.1:4000', demo: true }) });
    expect(screen.getByText(/Demo mode/)).toBeTruthy();
    expect(found()).toBe('Keepsake Export API v1 at http://127.0.0.1:4000');
    expect(screen.queryByLabelText('Platform address')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Change' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Sign in with your browser' })).toBeTruthy();
  });

  it('in demo mode offers to ask again a platform that did not answer', async () => {
    const user = userEvent.setup();
    let calls = 0;
    const demo = { ...keepsakePlatform, url: 'http://127.0.0.1:4000', demo: true };
    const { api } = await signInScreen({
      getPlatform: async () => (calls++ === 0 ? { ...demo, offers: [], categories: [], problem: 'connection refused' } : demo),
    });
    expect(screen.getByTestId('platform-problem').textContent).toContain('connection refused');
    expect(screen.queryByRole('button', { name: /Sign in/ })).toBeNull();
    await user.click(within(screen.getByTestId('platform-problem')).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('button', { name: 'Sign in with your browser' })).toBeTruthy();
    expect(api.getPlatform).toHaveBeenCalledTimes(2);
    expect(screen.queryByTestId('platform-problem')).toBeNull();
  });

  it('signs in with a pasted token, which is cleared from the field', async () => {
    const user = userEvent.setup();
    const { app, api } = await signInScreen();
    await user.click(screen.getByRole('button', { name: 'Use a personal access token' }));
    const field = screen.getByLabelText('Personal access token') as HTMLInputElement;
    await user.type(field, 'ksp_secret');
    await user.click(screen.getByRole('button', { name: 'Sign in with token' }));
    expect(api.signInWithToken).toHaveBeenCalledWith('ksp_secret');
    await waitFor(() => expect(app.screen).toBe('choose'));
    expect(app.account).toEqual(alice);
  });

  it('signs in with a user name and an application password: the name trimmed, the password as typed, then cleared', async () => {
    const user = userEvent.setup();
    let finish: () => void = () => {};
    const { app, api } = await signInScreen({
      getPlatform: async () => wordpressPlatform,
      signInWithPassword: () => new Promise((res) => (finish = () => res(wpAdmin))),
    });
    const name = screen.getByLabelText('User name') as HTMLInputElement;
    const secret = screen.getByLabelText('Application password') as HTMLInputElement;
    expect([name.autocomplete, secret.type, secret.autocomplete]).toEqual(['username', 'password', 'current-password']);
    const submit = screen.getByRole('button', { name: 'Sign in' }) as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    await user.type(name, '  admin ');
    await user.type(secret, 'abcd EFGH ijkl ');
    await user.click(submit);
    expect(api.signInWithPassword).toHaveBeenCalledWith('admin', 'abcd EFGH ijkl ');
    expect(secret.value).toBe('');
    expect((await screen.findByRole('status')).textContent).toContain('Signing in to WordPress…');
    finish();
    await waitFor(() => expect(app.screen).toBe('choose'));
    expect(app.account).toEqual(wpAdmin);
  });

  it('puts a Matrix password form first, as the platform prefers it, labelled in its words', async () => {
    await signInScreen({ getPlatform: async () => ({ ...matrixPlatform }) });
    expect(controls()).toEqual([
      'Change',
      'Matrix ID or user name (@alice:example.org or alice)',
      'Password',
      'Sign in',
      'Sign in with single sign-on',
    ]);
    expect(screen.getByRole('button', { name: 'Sign in' }).classList.contains('primary')).toBe(true);
    expect(screen.queryByLabelText(/I am support staff/)).toBeNull();
  });

  it('offers support rights on the Keepsake Export API, and asks for them when ticked', async () => {
    const user = userEvent.setup();
    const { api } = await signInScreen();
    await user.click(screen.getByLabelText(/I am support staff/));
    await user.click(screen.getByRole('button', { name: 'Sign in with your browser' }));
    expect(api.signInWithBrowser).toHaveBeenCalledWith(true);
  });

  it('on a WordPress site over https, opens its approval page from the shell, says to paste what it shows, and signs in with it', async () => {
    const user = userEvent.setup();
    const { api, app } = await signInScreen({ getPlatform: async () => wordpressPlatform });
    expect(screen.queryByRole('button', { name: /Sign in with your browser/ })).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Get one in your browser' }));
    // No address goes from the window to the shell: it opens the platform's own.
    expect(api.openSignInPage).toHaveBeenCalledWith();
    expect((await screen.findByTestId('signin-notice')).textContent).toContain(
      'Approve Keepsake there, then paste the password it shows.',
    );
    await user.type(screen.getByLabelText('User name'), 'ana');
    await user.type(screen.getByLabelText('Application password'), 'abcd efgh ijkl mnop');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(api.signInWithPassword).toHaveBeenCalledWith('ana', 'abcd efgh ijkl mnop');
    await waitFor(() => expect(app.account).not.toBeNull());
    expect(app.notice).toBeNull();
  });

  it('forgets the approval page it opened once signed in any other way', async () => {
    const user = userEvent.setup();
    const { app } = await signInScreen({ getPlatform: async () => wordpressPlatform });
    await user.click(screen.getByRole('button', { name: 'Get one in your browser' }));
    await waitFor(() => expect(app.notice).toContain('paste the password it shows'));
    await app.signInWithToken('a token');
    expect(app.account).not.toBeNull();
    expect(app.notice).toBeNull();
  });

  it('does not offer support rights on WordPress, where the site decides them', async () => {
    const user = userEvent.setup();
    const { api } = await signInScreen({ getPlatform: async () => wordpressLocal });
    expect(screen.queryByLabelText(/I am support staff/)).toBeNull();
    await user.click(screen.getByRole('button', { name: /Sign in with your browser/ }));
    expect(api.signInWithBrowser).toHaveBeenCalledWith(false);
  });

  it('can stop waiting for the browser, which is not an error', async () => {
    const user = userEvent.setup();
    let stop: (e: unknown) => void = () => {};
    const { app } = await signInScreen({
      signInWithBrowser: () => new Promise((_res, rej) => (stop = rej)),
      cancelSignIn: async () => {
        stop({ code: 'cancelled', message: 'sign-in cancelled' });
        return true;
      },
    });
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
    await signInScreen({
      signInWithToken: async () => {
        throw { code: 'signed_out', message: 'the platform refused http://127.0.0.1:9000/api/v1/me (401)' };
      },
    });
    await user.click(screen.getByRole('button', { name: 'Use a personal access token' }));
    await user.type(screen.getByLabelText('Personal access token'), 'nope');
    await user.click(screen.getByRole('button', { name: 'Sign in with token' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('You are signed out');
  });

  it('shows a refused application password in plain words, and keeps the user name', async () => {
    const user = userEvent.setup();
    await signInScreen({
      getPlatform: async () => wordpressPlatform,
      signInWithPassword: async () => {
        throw { code: 'sign_in', message: 'WordPress refused the application password for admin (401)' };
      },
    });
    await user.type(screen.getByLabelText('User name'), 'admin');
    await user.type(screen.getByLabelText('Application password'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Sign-in did not finish');
    expect(alert.textContent).toContain('refused the application password');
    expect((screen.getByLabelText('User name') as HTMLInputElement).value).toBe('admin');
    expect((screen.getByLabelText('Application password') as HTMLInputElement).value).toBe('');
  });

  it('says while it waits for the browser', async () => {
    const { app } = await signInScreen({ signInWithBrowser: () => new Promise(() => {}) });
    void app.signInWithBrowser(false);
    expect(await screen.findByText(/Waiting for you to sign in in your browser/)).toBeTruthy();
  });

  it('explains a keyring that is not there', async () => {
    await signInScreen({
      whoAmI: async () => {
        throw { code: 'keyring', message: 'the system keyring is not available' };
      },
    });
    expect((await screen.findByRole('alert')).textContent).toContain('The system keyring is not available');
  });
});
