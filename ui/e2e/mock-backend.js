// The shell, faked inside the page: runs before the app's scripts (Playwright
// addInitScript) after @tauri-apps/api/mocks. Behaviour comes from
// window.__KEEPSAKE_SCENARIO__ (set by the test); calls are recorded in
// window.__KEEPSAKE_CALLS__.
(() => {
  const s = Object.assign(
    {
      demo: false,
      signedIn: false,
      support: false,
      pending: false,
      holdExport: false,
      errors: {},
      waitSecs: 0,
      freeBytes: 52_000_000_000,
      // The media estimate (and so the archive's size), to make parts.
      mediaBytes: 1_700_000,
    },
    window.__KEEPSAKE_SCENARIO__ || {},
  );
  const calls = (window.__KEEPSAKE_CALLS__ = []);
  const alice = { id: 1, login: 'alice', displayName: 'Alice Liddell', role: 'user', scopes: ['export:self'], support: false, platform: 'http://127.0.0.1:8765' };
  const carol = { id: 3, login: 'carol', displayName: 'Carol (Support)', role: 'support', scopes: ['export:self', 'export:any'], support: true, platform: 'http://127.0.0.1:8765' };
  let account = s.signedIn ? (s.support ? carol : alice) : null;
  const cats = [
    { name: 'comments', records: 105, bytes: 31000 },
    { name: 'connections', records: 16, bytes: 2400 },
    { name: 'likes', records: 120, bytes: 9600 },
    { name: 'media', records: 17, bytes: s.mediaBytes },
    { name: 'posts', records: 150, bytes: 96000 },
    { name: 'profile', records: 1, bytes: 900 },
  ];
  const dest = '/home/alice/Downloads/Keepsake';
  const prep = (request, resumed = false) => ({
    exportId: 'exp_5f1c0e2a9b7d4c3e8f6a1b2c3d4e5f60',
    asOf: '2026-11-26T10:00:00Z',
    subject: request.subjectId ? 'alice' : account ? account.login : 'alice',
    actor: account ? account.login : 'alice',
    categories: cats,
    resumed,
    neededBytes: 70_000_000,
    freeBytes: s.freeBytes,
    request,
  });
  const stem = 'keepsake-alice-2026-11-26-5f1c0e2a';
  const archiveBytes = cats.reduce((n, c) => n + c.bytes, 0) + 3_320;
  // Parts as the engine makes them: only when the archive does not fit in one.
  const parts = (request) => {
    const n = request.splitSize ? Math.ceil(archiveBytes / request.splitSize) : 1;
    if (n < 2) return [];
    const pad = (k) => String(k).padStart(Math.max(2, String(n).length), '0');
    return Array.from({ length: n }, (_, i) => ({
      path: `${request.destination}/${stem}.part${pad(i + 1)}-of-${pad(n)}.zip`,
      fileName: `${stem}.part${pad(i + 1)}-of-${pad(n)}.zip`,
      sha256: `${i + 1}`.repeat(64).slice(0, 64),
      bytes: i + 1 < n ? request.splitSize : archiveBytes - (n - 1) * request.splitSize,
    }));
  };
  const summary = (request) => ({
    outcome: 'completed',
    exportId: 'exp_5f1c0e2a9b7d4c3e8f6a1b2c3d4e5f60',
    archive: parts(request)[0]?.path ?? `${request.destination}/${stem}.zip`,
    fileName: parts(request)[0]?.fileName ?? `${stem}.zip`,
    sha256: '3b4f1f0c8e5a9d2b7c6e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c',
    bytes: archiveBytes,
    parts: parts(request),
    counts: cats.map((c) => ({ name: c.name, expected: c.records, retrieved: c.records })).concat([{ name: 'media_files', expected: 17, retrieved: 17 }]),
    shortfalls: [],
    warnings: [],
    resumed: false,
    subject: 'alice',
    actor: account ? account.login : 'alice',
    asOf: '2026-11-26T10:00:00Z',
  });
  const audit = {
    ok: true,
    problems: [],
    location: '/home/alice/.local/share/keepsake',
    rows: [
      { seq: 2, time: '2026-11-26T10:05:12Z', actor: 'carol', subject: 'alice', reason: 'Ticket 4411: the customer asked for a copy', categories: ['posts', 'media'], result: 'completed', errorMessage: null, bytes: 1_843_220, archivePath: `${dest}/keepsake-alice-2026-11-26-5f1c0e2a.zip`, archiveSha256: 'ab'.repeat(32) },
      { seq: 1, time: '2026-11-26T09:58:40Z', actor: 'alice', subject: 'alice', reason: null, categories: [], result: 'cancelled', errorMessage: null, bytes: 0, archivePath: null, archiveSha256: null },
    ],
  };
  const fail = (cmd) => {
    const e = s.errors[cmd];
    if (e) throw e;
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let cancelled = null;

  async function run(request, channel) {
    const send = (e) => channel.onmessage(e);
    send({ event: 'phase', phase: 'opening' });
    send({ event: 'preflight', exportId: 'exp_5f1c', categories: cats, resumed: !!request.resumed });
    send({ event: 'phase', phase: 'fetching' });
    if (s.waitSecs) send({ event: 'waiting', reason: 'The platform asked Keepsake to slow down', secs: s.waitSecs, untilMs: Date.now() + s.waitSecs * 1000 });
    for (let step = 1; step <= 4; step++) {
      await sleep(60);
      for (const c of cats) send({ event: 'category', name: c.name, fetched: Math.round((c.records * step) / 4 / (s.holdExport ? 2 : 1)), expected: c.records });
      send({ event: 'bytes', done: step * 400_000, total: 1_840_000, rate: 2_000_000, etaSecs: 4 - step });
    }
    if (s.holdExport) {
      while (!cancelled) await sleep(50);
      throw { code: 'cancelled', message: 'the export was cancelled' };
    }
    fail('start_export');
    send({ event: 'phase', phase: 'finishing' });
    send({ event: 'phase', phase: 'done' });
    return summary(request);
  }

  let signInCancelled = false;
  window.__keepsakeMocks.mockIPC(async (cmd, args) => {
    calls.push({ cmd, args: cmd === 'start_export' ? { request: args.request } : args });
    switch (cmd) {
      case 'get_platform':
        return { url: s.platformUrl === undefined ? 'http://127.0.0.1:8765' : s.platformUrl, demo: s.demo };
      case 'set_platform':
        fail(cmd);
        return { url: args.url, demo: false };
      case 'default_destination':
        return dest;
      case 'who_am_i':
        fail(cmd);
        return account;
      case 'sign_in_with_browser':
        if (s.holdSignIn) {
          signInCancelled = false;
          while (!signInCancelled) await sleep(50);
          throw { code: 'cancelled', message: 'sign-in cancelled' };
        }
      // falls through
      case 'sign_in_with_token':
        fail(cmd);
        account = args.support || s.support ? carol : alice;
        return account;
      case 'cancel_sign_in':
        signInCancelled = true;
        return true;
      case 'sign_out':
        account = null;
        return null;
      case 'pending_resume':
        return s.pending ? prep({ destination: dest }, true) : null;
      case 'prepare_export':
        fail(cmd);
        return prep(args.request);
      case 'discard_export':
        return null;
      case 'find_customer':
        fail(cmd);
        return { id: 1, login: args.login, displayName: 'Alice Liddell' };
      case 'choose_folder':
        return '/media/backup';
      case 'start_export':
        cancelled = null;
        return run(args.request, args.onEvent);
      case 'cancel_export':
        cancelled = { keep: args.keep };
        return true;
      case 'verify_archive': {
        fail(cmd);
        const n = /\.part\d+-of-(\d+)\.zip$/.exec(args.path);
        return { archive: args.path, ok: true, parts: n ? Number(n[1]) : null, filesChecked: 41, bytesChecked: archiveBytes, problems: [] };
      }
      case 'show_in_folder':
        return null;
      case 'audit_log':
        return audit;
      case 'export_audit_csv':
        return 2;
      default:
        throw { code: 'internal', message: `unknown command ${cmd}` };
    }
  });
})();
