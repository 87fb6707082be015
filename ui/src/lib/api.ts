// The shell's commands, typed by the generated bindings. Nothing secret
// comes back from any of them; a pasted access token or a typed password
// goes in once.
import { Channel, invoke } from '@tauri-apps/api/core';
import type {
  Account,
  AuditView,
  Customer,
  ExportRequest,
  ExportSummary,
  IpcError,
  PlatformInfo,
  Preparation,
  ProgressEvent,
  VerifyResult,
} from './bindings';

export interface Api {
  getPlatform(): Promise<PlatformInfo>;
  setPlatform(url: string): Promise<PlatformInfo>;
  signInWithBrowser(support: boolean): Promise<Account>;
  cancelSignIn(): Promise<boolean>;
  /** Opens the platform's page that makes the secret its password form
   * asks for (WordPress's approval page); resolves to its address. */
  openSignInPage(): Promise<string>;
  signInWithToken(token: string): Promise<Account>;
  /** A user name and a password (Matrix) or an application password
   * (WordPress). */
  signInWithPassword(user: string, password: string): Promise<Account>;
  whoAmI(): Promise<Account | null>;
  signOut(): Promise<void>;
  findCustomer(login: string): Promise<Customer>;
  defaultDestination(): Promise<string>;
  chooseFolder(): Promise<string | null>;
  prepareExport(request: ExportRequest): Promise<Preparation>;
  discardExport(request: ExportRequest): Promise<void>;
  pendingResume(): Promise<Preparation | null>;
  startExport(request: ExportRequest, onEvent: (e: ProgressEvent) => void): Promise<ExportSummary>;
  cancelExport(keep: boolean): Promise<boolean>;
  verifyArchive(path: string): Promise<VerifyResult>;
  showInFolder(path: string): Promise<void>;
  auditLog(): Promise<AuditView>;
  exportAuditCsv(): Promise<number | null>;
}

/** Whatever a command rejected with, as the shell's `{ code, message }`. */
export function toIpcError(e: unknown): IpcError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) return e as IpcError;
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}

export const tauriApi: Api = {
  getPlatform: () => invoke('get_platform'),
  setPlatform: (url) => invoke('set_platform', { url }),
  signInWithBrowser: (support) => invoke('sign_in_with_browser', { support }),
  cancelSignIn: () => invoke('cancel_sign_in'),
  openSignInPage: () => invoke('open_sign_in_page'),
  signInWithToken: (token) => invoke('sign_in_with_token', { token }),
  signInWithPassword: (user, password) => invoke('sign_in_with_password', { user, password }),
  whoAmI: () => invoke('who_am_i'),
  signOut: () => invoke('sign_out'),
  findCustomer: (login) => invoke('find_customer', { login }),
  defaultDestination: () => invoke('default_destination'),
  chooseFolder: () => invoke('choose_folder'),
  prepareExport: (request) => invoke('prepare_export', { request }),
  discardExport: (request) => invoke('discard_export', { request }),
  pendingResume: () => invoke('pending_resume'),
  startExport: (request, onEvent) => {
    const onEventChannel = new Channel<ProgressEvent>();
    onEventChannel.onmessage = onEvent;
    return invoke('start_export', { request, onEvent: onEventChannel });
  },
  cancelExport: (keep) => invoke('cancel_export', { keep }),
  verifyArchive: (path) => invoke('verify_archive', { path }),
  showInFolder: (path) => invoke('show_in_folder', { path }),
  auditLog: () => invoke('audit_log'),
  exportAuditCsv: () => invoke('export_audit_csv'),
};
