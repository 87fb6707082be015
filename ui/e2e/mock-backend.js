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
      // The chosen platform: 'keepsake', 'wordpress', or 'none' (first launch).
      platform: 'keepsake',
      // Why the chosen platform cannot be asked what it is, if it cannot.
      problem: null,
    },
    window.__KEEPSAKE_SCENARIO__ || {},
  );
  const calls = (window.__KEEPSAKE_CALLS__ = []);
  // The platforms as the shell describes them once it has asked them.
  const platforms = {
    keepsake: {
      url: 'http://127.0.0.1:8765',
      kind: 'keepsake-export-api',
      name: 'Keepsake Export API v1',
      offers: [
        { flow: 'browser', label: 'Sign in with your browser', secretLabel: null },
        { flow: 'token', label: 'Use a personal access token', secretLabel: 'Personal access token' },
      ],
      categories: [
        { name: 'profile', label: 'Profile' },
        { name: 'posts', label: 'Posts' },
        { name: 'comments', label: 'Comments' },
        { name: 'likes', label: 'Likes' },
        { name: 'connections', label: 'Connections' },
        { name: 'media', label: 'Media' },
      ],
    },
    wordpress: {
      url: 'https://blog.example',
      kind: 'wordpress',
      name: 'WordPress',
      offers: [
        { flow: 'browser', label: 'Sign in with your browser (WordPress asks you to approve Keepsake)', secretLabel: null },
        { flow: 'password', label: 'Use an application password (Users → Profile → Application Passwords)', secretLabel: 'Application password' },
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
    },
  };
  const none = { url: null, kind: null, name: null, offers: [], categories: [], problem: null };
  let chosen = s.platform === 'none' ? null : s.platform;
  let chosenUrl = null;
  const info = () => {
    if (!chosen) return { ...none, demo: s.demo };
    const p = platforms[chosen];
    const url = chosenUrl ?? (s.platformUrl === undefined ? p.url : s.platformUrl);
    if (s.problem) return { ...none, url, kind: p.kind, demo: s.demo, problem: s.problem };
    return { ...p, url, demo: s.demo, problem: null };
  };
  const keepsakeAccount = {
    supportMeans: 'a support-staff sign-in (the export:any scope)',
    platform: 'http://127.0.0.1:8765',
    platformName: 'Keepsake Export API v1',
    snapshot: true,
    platformRecord: true,
  };
  const alice = { id: '1', login: 'alice', displayName: 'Alice Liddell', role: 'user', support: false, ...keepsakeAccount };
  const carol = { id: '3', login: 'carol', displayName: 'Carol (Support)', role: 'support', support: true, ...keepsakeAccount };
  // A WordPress administrator: the site keeps no record of exports and
  // holds nothing still while they run.
  const admin = {
    id: '1',
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
  const signedIn = () => (chosen === 'wordpress' ? admin : s.support ? carol : alice);
  let account = s.signedIn ? signedIn() : null;
  const keepsakeCats = [
    { name: 'comments', label: 'Comments', container: null, records: 105, bytes: 31000 },
    { name: 'connections', label: 'Connections', container: null, records: 16, bytes: 2400 },
    { name: 'likes', label: 'Likes', container: null, records: 120, bytes: 9600 },
    { name: 'media', label: 'Media', container: null, records: 17, bytes: s.mediaBytes },
    { name: 'posts', label: 'Posts', container: null, records: 150, bytes: 96000 },
    { name: 'profile', label: 'Profile', container: null, records: 1, bytes: 900 },
  ];
  // WordPress announces no count of revisions.
  const wordpressCats = platforms.wordpress.categories.map((c, i) => ({
    ...c,
    container: null,
    records: c.name === 'revisions' ? null : 10 * (i + 1),
    bytes: 4000 * (i + 1),
  }));
  const categories = () => (chosen === 'wordpress' ? wordpressCats : keepsakeCats);
  const dest = '/home/alice/Downloads/Keepsake';
  const prep = (request, resumed = false) => ({
    exportId: 'exp_5f1c0e2a9b7d4c3e8f6a1b2c3d4e5f60',
    asOf: '2026-11-26T10:00:00Z',
    subject: request.subjectId ? 'alice' : account ? account.login : 'alice',
    actor: account ? account.login : 'alice',
    categories: categories(),
    resumed,
    neededBytes: 70_000_000,
    freeBytes: s.freeBytes,
    request,
  });
  const stem = 'keepsake-alice-2026-11-26-5f1c0e2a';
  const archiveBytes = keepsakeCats.reduce((n, c) => n + c.bytes, 0) + 3_320;
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
    counts: categories()
      .map((c) => ({ name: c.name, expected: c.records, retrieved: c.records ?? 23 }))
      .concat([{ name: 'media_files', expected: 17, retrieved: 17 }]),
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
    const cats = categories();
    // As the shell sends it: the name for the label, no container.
    const preflight = cats.map((c) => ({ ...c, label: c.name, container: null }));
    send({ event: 'preflight', exportId: 'exp_5f1c', categories: preflight, resumed: !!request.resumed });
    send({ event: 'phase', phase: 'fetching' });
    if (s.waitSecs) send({ event: 'waiting', reason: 'The platform asked Keepsake to slow down', secs: s.waitSecs, untilMs: Date.now() + s.waitSecs * 1000 });
    for (let step = 1; step <= 4; step++) {
      await sleep(60);
      for (const c of cats) {
        const fetched = Math.round(((c.records ?? 46) * step) / 4 / (s.holdExport ? 2 : 1));
        send({ event: 'category', name: c.name, fetched, expected: c.records });
      }
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
        return info();
      case 'set_platform':
        fail(cmd);
        await sleep(s.detectMs ?? 0);
        if (s.demo) return info();
        if (/nothing/.test(args.url)) throw { code: 'invalid', message: `${args.url} is not a platform Keepsake knows` };
        chosen = /blog|wordpress/.test(args.url) ? 'wordpress' : 'keepsake';
        chosenUrl = args.url.replace(/\/+$/, '');
        s.problem = null;
        return info();
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
        account = chosen === 'wordpress' ? admin : args.support || s.support ? carol : alice;
        return account;
      case 'sign_in_with_password':
        fail(cmd);
        account = signedIn();
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
        return { id: '1', login: args.login, displayName: 'Alice Liddell' };
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
