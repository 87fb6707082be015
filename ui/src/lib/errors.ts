// Errors in plain words, with the next step. The shell's codes are a closed
// set; the engine's own sentence goes under "Details".
import type { IpcError } from './bindings';
import { clock } from './format';

export type NextStep = 'signIn' | 'retry' | 'chooseFolder' | 'dismiss';

export interface Explained {
  title: string;
  body: string;
  action: NextStep;
  actionLabel: string;
}

export function explain(e: IpcError): Explained {
  switch (e.code) {
    case 'signed_out':
      return {
        title: 'You are signed out',
        body: 'Your sign-in has expired or was withdrawn. Sign in again to continue; anything already downloaded is kept.',
        action: 'signIn',
        actionLabel: 'Sign in again',
      };
    case 'sign_in':
      return {
        title: 'Sign-in did not finish',
        body: 'The platform did not confirm the sign-in. Try again, or sign in another way the platform offers below.',
        action: 'dismiss',
        actionLabel: 'OK',
      };
    case 'keyring':
      return {
        title: 'The system keyring is not available',
        body: 'Keepsake keeps your sign-in only in the system keyring (GNOME Keyring, KWallet, Keychain or Credential Manager). Unlock or start it, then try again.',
        action: 'retry',
        actionLabel: 'Try again',
      };
    case 'quota':
      return {
        title: 'The export limit is reached',
        body: e.retryAt
          ? `The platform allows a limited number of exports per hour. The next export is possible at ${clock(e.retryAt)}. Nothing was downloaded.`
          : 'The platform allows a limited number of exports per hour. Try again later. Nothing was downloaded.',
        action: 'dismiss',
        actionLabel: 'OK',
      };
    case 'export_running':
      return {
        title: 'An export of this account is already running',
        body: 'Wait for it to finish. If this computer started it, Keepsake offers to resume it the next time it opens.',
        action: 'dismiss',
        actionLabel: 'OK',
      };
    case 'account_deleted':
      return {
        title: 'This account has been deleted',
        body: 'The platform no longer holds data for this account, so there is nothing to export.',
        action: 'dismiss',
        actionLabel: 'OK',
      };
    case 'disk_full':
      return {
        title: 'Not enough free space',
        body: 'The destination folder does not have room for this export. Free some space and start it again: anything already downloaded is kept and the export continues. Or choose another folder.',
        action: 'chooseFolder',
        actionLabel: 'Choose another folder',
      };
    case 'network':
      return {
        title: 'The platform cannot be reached',
        body: 'Check your internet connection and the platform address, then try again. Anything already downloaded is kept.',
        action: 'retry',
        actionLabel: 'Try again',
      };
    case 'forbidden':
      return {
        title: 'This account may not do that',
        body: 'Exporting someone else’s data needs a support account. Sign in with one, or export your own data.',
        action: 'dismiss',
        actionLabel: 'OK',
      };
    case 'invalid':
      return { title: 'Please check this', body: e.message, action: 'dismiss', actionLabel: 'OK' };
    case 'cancelled':
      return {
        title: 'The export was cancelled',
        body: 'Nothing more will be downloaded.',
        action: 'dismiss',
        actionLabel: 'OK',
      };
    case 'archive':
      return {
        title: 'The archive is damaged',
        body: 'One or more files in it do not match their checksums. Export again to get an intact copy.',
        action: 'dismiss',
        actionLabel: 'OK',
      };
    case 'audit':
      return {
        title: 'The audit log is damaged',
        body: 'Its records no longer match their chain of checksums. Keep a copy of the log folder for whoever reviews it.',
        action: 'dismiss',
        actionLabel: 'OK',
      };
    case 'file':
      return {
        title: 'A file could not be written',
        body: 'Check that the folder exists and that you may write to it, or choose another folder.',
        action: 'chooseFolder',
        actionLabel: 'Choose another folder',
      };
    case 'platform':
      return {
        title: 'The platform had a problem',
        body: 'It did not answer as expected. Try again in a few minutes; anything already downloaded is kept.',
        action: 'retry',
        actionLabel: 'Try again',
      };
    case 'internal':
    default:
      return {
        title: 'Something went wrong in Keepsake',
        body: 'Try again. If it keeps happening, the details below help whoever looks into it.',
        action: 'retry',
        actionLabel: 'Try again',
      };
  }
}
