// A fake shell for component tests, and sample data shaped by the bindings.
import { vi } from 'vitest';
import type { Api } from '../lib/api';
import type { Account, AuditView, ExportSummary, Preparation } from '../lib/bindings';
import { KeepsakeApp } from '../lib/app.svelte';

export const alice: Account = {
  id: 1,
  login: 'alice',
  displayName: 'Alice Example',
  role: 'user',
  scopes: ['export:self'],
  support: false,
  platform: 'http://127.0.0.1:9000',
};

export const carol: Account = { ...alice, id: 3, login: 'carol', displayName: 'Carol Support', role: 'support', scopes: ['export:self', 'export:any'], support: true };

export const preparation: Preparation = {
  exportId: 'exp_0123456789abcdef',
  asOf: '2026-11-26T10:00:00Z',
  subject: 'alice',
  actor: 'alice',
  categories: [
    { name: 'comments', records: 40, bytes: 12000 },
    { name: 'connections', records: 12, bytes: 2000 },
    { name: 'likes', records: 30, bytes: 3000 },
    { name: 'media', records: 8, bytes: 4_200_000 },
    { name: 'posts', records: 120, bytes: 90_000 },
    { name: 'profile', records: 1, bytes: 800 },
  ],
  resumed: false,
  neededBytes: 75_000_000,
  freeBytes: 52_000_000_000,
  request: { destination: '/home/alice/Downloads/Keepsake' },
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
    { name: 'posts', expected: 120, retrieved: 120 },
    { name: 'media', expected: 8, retrieved: 8 },
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
    getPlatform: vi.fn(async () => ({ url: 'http://127.0.0.1:9000', demo: false })),
    setPlatform: vi.fn(async (url: string) => ({ url, demo: false })),
    signInWithBrowser: vi.fn(async () => alice),
    cancelSignIn: vi.fn(async () => true),
    signInWithToken: vi.fn(async () => alice),
    whoAmI: vi.fn(async () => null),
    signOut: vi.fn(async () => {}),
    findCustomer: vi.fn(async (login: string) => ({ id: 1, login, displayName: 'Alice Example' })),
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
    ...over,
  };
  return api;
}

export function appWith(over: Partial<Api> = {}): { app: KeepsakeApp; api: Api } {
  const api = fakeApi(over);
  return { app: new KeepsakeApp(api), api };
}
