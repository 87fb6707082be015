// A fake shell for component tests, and sample data shaped by the bindings.
import { vi } from 'vitest';
import type { Api } from '../lib/api';
import type { Account, AuditView, ExportSummary, PlatformInfo, Preparation } from '../lib/bindings';
import { KeepsakeApp } from '../lib/app.svelte';

/** The reference platform, as the shell describes it once detected. */
export const keepsakePlatform: PlatformInfo = {
  url: 'http://127.0.0.1:9000',
  demo: false,
  kind: 'keepsake-export-api',
  name: 'Keepsake Export API v1',
  offers: [
    { flow: 'browser', label: 'Sign in with your browser', secretLabel: null, userLabel: null, page: null },
    { flow: 'token', label: 'Use a personal access token', secretLabel: 'Personal access token', userLabel: null, page: null },
  ],
  categories: [
    { name: 'profile', label: 'Profile' },
    { name: 'posts', label: 'Posts' },
    { name: 'comments', label: 'Comments' },
    { name: 'likes', label: 'Likes' },
    { name: 'connections', label: 'Connections' },
    { name: 'media', label: 'Media' },
  ],
  dateRange: true,
  problem: null,
};

/** A WordPress site on https that offers application passwords: made on
 * its approval page, which shows one to paste (it sends none to an app on
 * this computer). */
export const wordpressPlatform: PlatformInfo = {
  url: 'https://blog.example',
  demo: false,
  kind: 'wordpress',
  name: 'WordPress',
  offers: [
    {
      flow: 'password',
      label: 'Use an application password (approve Keepsake in your browser, and WordPress shows one)',
      secretLabel: 'Application password',
      userLabel: 'User name',
      page: 'https://blog.example/wp-admin/authorize-application.php?app_name=Keepsake&app_id=4c1f8e2a-6b3d-4f57-9a0e-7d2b5c8e1f36',
    },
  ],
  categories: [
    { name: 'profile', label: 'Profile' },
    { name: 'posts', label: 'Posts' },
    { name: 'pages', label: 'Pages' },
    { name: 'comments', label: 'Comments' },
    { name: 'media', label: 'Media' },
    { name: 'revisions', label: 'Revisions' },
    { name: 'tags', label: 'Tags' },
    { name: 'categories', label: 'Categories' },
  ],
  dateRange: true,
  problem: null,
};

/** A Matrix home server: a password first, rooms found when an export opens. */
export const matrixPlatform: PlatformInfo = {
  url: 'https://matrix.example.org',
  demo: false,
  kind: 'matrix',
  name: 'Matrix',
  offers: [
    {
      flow: 'password',
      label: 'Sign in with your Matrix password',
      secretLabel: 'Password',
      userLabel: 'Matrix ID or user name (@alice:example.org or alice)',
      page: null,
    },
    { flow: 'browser', label: 'Sign in with single sign-on', secretLabel: null, userLabel: null, page: null },
  ],
  categories: [
    { name: 'profile', label: 'Profile' },
    { name: 'account_data', label: 'Account settings' },
  ],
  dateRange: false,
  problem: null,
};

/** No platform chosen yet (first launch). */
export const noPlatform: PlatformInfo = {
  url: null,
  demo: false,
  kind: null,
  name: null,
  offers: [],
  categories: [],
  dateRange: false,
  problem: null,
};

export const alice: Account = {
  id: '1',
  login: 'alice',
  displayName: 'Alice Example',
  role: 'user',
  support: false,
  supportMeans: 'a support-staff sign-in (the export:any scope)',
  platform: 'http://127.0.0.1:9000',
  platformName: 'Keepsake Export API v1',
  snapshot: true,
  platformRecord: true,
};

export const carol: Account = { ...alice, id: '3', login: 'carol', displayName: 'Carol Support', role: 'support', support: true };

/** A WordPress administrator: may export others, but the site keeps no
 * record of it and holds nothing still while it is read. */
export const wpAdmin: Account = {
  id: '7',
  login: 'admin',
  displayName: 'Site Admin',
  role: 'support',
  support: true,
  supportMeans: "an administrator of the site (who may read every user's posts, comments and media)",
  platform: 'https://blog.example',
  platformName: 'WordPress',
  snapshot: false,
  platformRecord: false,
};

export const preparation: Preparation = {
  exportId: 'exp_0123456789abcdef',
  asOf: '2026-11-26T10:00:00Z',
  subject: 'alice',
  actor: 'alice',
  categories: [
    { name: 'comments', label: 'Comments', container: null, records: 40, bytes: 12000 },
    { name: 'connections', label: 'Connections', container: null, records: 12, bytes: 2000 },
    { name: 'likes', label: 'Likes', container: null, records: 30, bytes: 3000 },
    { name: 'media', label: 'Media', container: null, records: 8, bytes: 4_200_000 },
    { name: 'posts', label: 'Posts', container: null, records: 120, bytes: 90_000 },
    { name: 'profile', label: 'Profile', container: null, records: 1, bytes: 800 },
  ],
  resumed: false,
  neededBytes: 75_000_000,
  freeBytes: 52_000_000_000,
  request: { destination: '/home/alice/Downloads/Keepsake' },
};

/** A WordPress site's export: no counts announced for revisions. */
export const wpPreparation: Preparation = {
  ...preparation,
  subject: 'admin',
  actor: 'admin',
  categories: wordpressPlatform.categories.map((c, i) => ({
    ...c,
    container: null,
    records: c.name === 'revisions' ? null : 10 + i,
    bytes: 1000 * (i + 1),
  })),
};

/** A Matrix account's export: two categories per room it found. */
export const matrixPreparation: Preparation = {
  ...preparation,
  subject: '@alice:example.org',
  actor: '@alice:example.org',
  categories: [
    { name: 'profile', label: 'Profile', container: null, records: 1, bytes: 500 },
    { name: 'account_data', label: 'Account settings', container: null, records: null, bytes: 2000 },
    { name: 'room_1_state', label: 'Room state', container: 'Project chat', records: null, bytes: 4000 },
    { name: 'room_1_timeline', label: 'Messages', container: 'Project chat', records: null, bytes: 90_000 },
    { name: 'room_2_state', label: 'Room state', container: 'Family', records: null, bytes: 3000 },
    { name: 'room_2_timeline', label: 'Messages', container: 'Family', records: null, bytes: 50_000 },
  ],
};

export const summary: ExportSummary = {
  outcome: 'completed',
  exportId: 'exp_0123456789abcdef',
  archive: '/home/alice/Downloads/Keepsake/keepsake-alice-2026-11-26-01234567.zip',
  fileName: 'keepsake-alice-2026-11-26-01234567.zip',
  sha256: 'a'.repeat(64),
  bytes: 4_321_000,
  parts: [],
  counts: [
    { name: 'posts', label: 'Posts', container: null, expected: 120, retrieved: 120 },
    { name: 'media', label: 'Media', container: null, expected: 8, retrieved: 8 },
  ],
  shortfalls: [],
  warnings: [],
  resumed: false,
  subject: 'alice',
  actor: 'alice',
  asOf: '2026-11-26T10:00:00Z',
};

/** The same export in three parts. */
export const splitSummary: ExportSummary = {
  ...summary,
  archive: '/home/alice/Downloads/Keepsake/keepsake-alice-2026-11-26-01234567.part01-of-03.zip',
  fileName: 'keepsake-alice-2026-11-26-01234567.part01-of-03.zip',
  sha256: 'c'.repeat(64),
  bytes: 4_500_000_000,
  parts: [1, 2, 3].map((k) => ({
    path: `/home/alice/Downloads/Keepsake/keepsake-alice-2026-11-26-01234567.part0${k}-of-03.zip`,
    fileName: `keepsake-alice-2026-11-26-01234567.part0${k}-of-03.zip`,
    sha256: String(k).repeat(64),
    bytes: k < 3 ? 2_000_000_000 : 500_000_000,
  })),
};

export const audit: AuditView = {
  ok: true,
  problems: [],
  location: '/home/alice/.local/share/keepsake',
  rows: [
    {
      seq: 2,
      time: '2026-11-26T10:05:00Z',
      actor: 'carol',
      subject: 'alice',
      reason: 'Ticket 4411: customer asked for a copy',
      categories: ['posts'],
      result: 'completed',
      errorMessage: null,
      bytes: 4_321_000,
      archivePath: '/tmp/keepsake-alice.zip',
      archiveSha256: 'b'.repeat(64),
    },
    {
      seq: 1,
      time: '2026-11-26T09:00:00Z',
      actor: 'alice',
      subject: 'alice',
      reason: null,
      categories: [],
      result: 'cancelled',
      errorMessage: null,
      bytes: 0,
      archivePath: null,
      archiveSha256: null,
    },
  ],
};

export function fakeApi(over: Partial<Api> = {}): Api {
  const api: Api = {
    getPlatform: vi.fn(async () => keepsakePlatform),
    setPlatform: vi.fn(async (url: string) => ({ ...wordpressPlatform, url })),
    signInWithBrowser: vi.fn(async () => alice),
    cancelSignIn: vi.fn(async () => true),
    openSignInPage: vi.fn(async () => 'https://blog.example/wp-admin/authorize-application.php?app_name=Keepsake'),
    signInWithToken: vi.fn(async () => alice),
    signInWithPassword: vi.fn(async () => wpAdmin),
    whoAmI: vi.fn(async () => null),
    signOut: vi.fn(async () => {}),
    findCustomer: vi.fn(async (login: string) => ({ id: '1', login, displayName: 'Alice Example' })),
    defaultDestination: vi.fn(async () => '/home/alice/Downloads/Keepsake'),
    chooseFolder: vi.fn(async () => '/media/usb'),
    prepareExport: vi.fn(async () => preparation),
    discardExport: vi.fn(async () => {}),
    pendingResume: vi.fn(async () => null),
    startExport: vi.fn(async () => summary),
    cancelExport: vi.fn(async () => true),
    verifyArchive: vi.fn(async (path: string) => ({ archive: path, ok: true, parts: null, filesChecked: 14, bytesChecked: 4_000_000, problems: [] })),
    showInFolder: vi.fn(async () => {}),
    auditLog: vi.fn(async () => audit),
    exportAuditCsv: vi.fn(async () => 2),
  };
  // Overrides are spies too, so that a test can ask how they were called.
  for (const [name, f] of Object.entries(over)) (api as unknown as Record<string, unknown>)[name] = vi.fn(f);
  return api;
}

export function appWith(over: Partial<Api> = {}): { app: KeepsakeApp; api: Api } {
  const api = fakeApi(over);
  return { app: new KeepsakeApp(api), api };
}
