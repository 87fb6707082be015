// The app's state and flow: which screen, who is signed in, what is being
// exported. Screens read it and call its methods; it calls the shell.
import type { Api } from './api';
import { toIpcError } from './api';
import type {
  Account,
  AuditView,
  CategoryEstimate,
  Customer,
  ExportRequest,
  ExportSummary,
  IpcError,
  PlatformInfo,
  Preparation,
  ProgressEvent,
  VerifyResult,
} from './bindings';

export type Screen = 'loading' | 'signIn' | 'choose' | 'progress' | 'done' | 'history' | 'resume';

/** The part sizes offered, in decimal units as the CLI's `--split-size`
 * reads them (2 GB = 2,000,000,000 bytes) and `bytes()` shows them. */
export const SPLIT_SIZES: { bytes: number; label: string }[] = [
  { bytes: 100_000_000, label: '100 MB' },
  { bytes: 2_000_000_000, label: '2 GB' },
  { bytes: 4_000_000_000, label: '4 GB' },
  { bytes: 10_000_000_000, label: '10 GB' },
  { bytes: 50_000_000_000, label: '50 GB' },
];

/** The engine's count of the files the records name (the manifest's
 * `media_files`): not a platform's category, so no platform labels it. */
export const FILES_COUNT = 'media_files';

/** A category as people see it: its label and, for one that belongs to a
 * room (or another container), that container's name. */
export interface CategoryInfo {
  name: string;
  label: string;
  container: string | null;
}

export interface CategoryProgress {
  name: string;
  fetched: number;
  /** Announced; `null` where the platform announces no count. */
  expected: number | null;
}

export interface Progress {
  phase: string;
  categories: CategoryProgress[];
  done: number;
  total: number;
  rate: number;
  etaSecs: number | null;
  waiting: { reason: string; untilMs: number; giveUpMs: number | null } | null;
  /** A split archive's parts being written, once everything is fetched. */
  parts: { written: number; parts: number; done: number; total: number } | null;
  warnings: string[];
  resumed: boolean;
}

/** No platform chosen yet. */
function noPlatform(demo = false): PlatformInfo {
  return { url: null, demo, kind: null, name: null, offers: [], categories: [], dateRange: false, problem: null };
}

function emptyProgress(): Progress {
  return { phase: 'opening', categories: [], done: 0, total: 0, rate: 0, etaSecs: null, waiting: null, parts: null, warnings: [], resumed: false };
}

export class KeepsakeApp {
  screen = $state<Screen>('loading');
  /** The chosen platform: what it is, how one signs in, its categories. */
  platform = $state<PlatformInfo>(noPlatform());
  account = $state<Account | null>(null);
  /** What is in progress, in words ("Signing in…"), or null. */
  busy = $state<string | null>(null);
  /** A browser sign-in is waiting for the browser (it can be cancelled). */
  waitingForBrowser = $state(false);
  error = $state<IpcError | null>(null);
  notice = $state<string | null>(null);

  // Choose
  destination = $state('');
  /** Names of the chosen categories (all of them, until one is unticked). */
  selected = $state<string[]>([]);
  since = $state('');
  until = $state('');
  /** CSV files and the offline viewer beside the JSON (always there). */
  csv = $state(true);
  viewer = $state(true);
  /** Largest part in bytes; 0 for one archive. */
  splitSize = $state(0);
  onBehalf = $state(false);
  customer = $state<Customer | null>(null);
  reason = $state('');
  preparation = $state<Preparation | null>(null);

  // Progress, Done, Resume, History
  progress = $state<Progress>(emptyProgress());
  cancelling = $state(false);
  summary = $state<ExportSummary | null>(null);
  verification = $state<VerifyResult | null>(null);
  pending = $state<Preparation | null>(null);
  audit = $state<AuditView | null>(null);
  auditChecks = $state<Record<string, VerifyResult | IpcError>>({});

  private retryLast: (() => Promise<void>) | null = null;

  /** Categories met beyond the platform's own (a Matrix account's rooms),
   * in the order met: their labels and containers, for every screen. */
  private met = $state<CategoryInfo[]>([]);
  /** Found categories already offered on the Choose screen: a new one is
   * ticked when it first appears, one unticked stays unticked. */
  private offered = new Set<string>();

  constructor(private api: Api) {}

  /** Runs `f` with a busy label; a failure becomes `error`. */
  private async attempt<T>(label: string, f: () => Promise<T>, retry?: () => Promise<void>): Promise<T | undefined> {
    this.busy = label;
    this.error = null;
    try {
      return await f();
    } catch (e) {
      this.error = toIpcError(e);
      this.retryLast = retry ?? null;
      if (this.error.code === 'signed_out' && this.screen !== 'signIn') {
        this.account = null;
        this.screen = 'signIn';
      }
      return undefined;
    } finally {
      this.busy = null;
    }
  }

  async init(): Promise<void> {
    await this.attempt('Starting…', async () => {
      // Asked at once, not one after the other: the first screen waits for
      // the slowest answer (the keyring, then the platform) instead of the
      // sum of three round trips.
      const platform = this.api.getPlatform();
      const destination = this.api.defaultDestination();
      const account = this.api.whoAmI();
      // Awaited below, after the others; not an unhandled rejection meanwhile.
      account.catch(() => undefined);
      this.usePlatform(await platform);
      this.destination = await destination;
      this.account = this.platform.url ? await account : null;
    }, () => this.init());
    if (this.account) await this.afterSignIn();
    else this.screen = 'signIn';
  }

  private async afterSignIn(): Promise<void> {
    // What the sign-in screen said (the approval page opened) is done with.
    this.notice = null;
    const pending = await this.attempt('Looking for an interrupted export…', () => this.api.pendingResume());
    if (pending) {
      this.learn(pending.categories);
      this.pending = pending;
      this.screen = 'resume';
    } else {
      this.toChoose();
    }
  }

  // -- signing in -----------------------------------------------------------

  private usePlatform(info: PlatformInfo): void {
    const same = info.url === this.platform.url && info.kind === this.platform.kind;
    if (!same) this.notice = null;
    this.platform = info;
    if (same && this.selected.length) return;
    this.selected = info.categories.map((c) => c.name);
    this.offered.clear();
    this.met = [];
  }

  /** Asks the address what platform it is (and remembers both); what was
   * found, or `undefined` when it cannot be reached or is not a platform
   * Keepsake knows (then `error` says why). */
  async setPlatform(url: string): Promise<PlatformInfo | undefined> {
    const address = url.trim();
    const info = await this.attempt(`Finding out what ${address} is…`, () => this.api.setPlatform(address));
    if (info) this.usePlatform(info);
    return info;
  }

  /** Asks the chosen platform again (it could not be asked before). */
  async refreshPlatform(): Promise<void> {
    const info = await this.attempt(`Asking ${this.platform.url ?? 'the platform'} what it is…`, () =>
      this.api.getPlatform(),
    );
    if (info) this.usePlatform(info);
  }

  async signInWithBrowser(support: boolean): Promise<void> {
    this.waitingForBrowser = true;
    const account = await this.attempt('Waiting for you to sign in in your browser…', () =>
      this.api.signInWithBrowser(support),
    ).finally(() => (this.waitingForBrowser = false));
    // Cancelled here: nothing went wrong.
    if (this.error?.code === 'cancelled') this.error = null;
    if (account) {
      this.account = account;
      await this.afterSignIn();
    }
  }

  /** Opens the page where the platform makes the password to paste, and
   * says where it opened. */
  async openSignInPage(): Promise<void> {
    const page = await this.attempt('Opening the page in your browser…', () => this.api.openSignInPage());
    if (page) this.notice = `Opened ${page} in your browser. Approve Keepsake there, then paste the password it shows.`;
  }

  /** Stops waiting for the browser (the sign-in there is not used). */
  async cancelSignIn(): Promise<void> {
    await this.api.cancelSignIn();
  }

  async signInWithToken(token: string): Promise<void> {
    const account = await this.attempt('Checking the access token…', () => this.api.signInWithToken(token));
    if (account) {
      this.account = account;
      await this.afterSignIn();
    }
  }

  /** `user` as typed around spaces; the password exactly as typed. */
  async signInWithPassword(user: string, password: string): Promise<void> {
    const account = await this.attempt(`Signing in to ${this.platform.name ?? 'the platform'}…`, () =>
      this.api.signInWithPassword(user.trim(), password),
    );
    if (account) {
      this.account = account;
      await this.afterSignIn();
    }
  }

  async signOut(): Promise<void> {
    if (this.preparation) {
      const request = this.preparation.request;
      await this.api.discardExport(request).catch(() => undefined);
      this.preparation = null;
    }
    await this.attempt('Signing out…', () => this.api.signOut());
    this.account = null;
    this.customer = null;
    this.onBehalf = false;
    this.screen = 'signIn';
  }

  toSignIn(): void {
    this.account = null;
    this.screen = 'signIn';
  }

  // -- categories -----------------------------------------------------------

  /** Remembers what an export said of its categories (labels, rooms). A
   * category already known keeps its label unless the new one says more. */
  private learn(categories: CategoryEstimate[]): void {
    for (const c of categories) {
      if (this.platform.categories.some((p) => p.name === c.name)) continue;
      const known = this.met.find((m) => m.name === c.name);
      const says = c.label !== c.name || c.container !== null;
      if (!known) this.met.push({ name: c.name, label: c.label, container: c.container });
      else if (says) Object.assign(known, { label: c.label, container: c.container });
    }
  }

  /** A category's label and container, as the platform or an export gave
   * them (its name when neither did). */
  describe(name: string): CategoryInfo {
    const own = this.platform.categories.find((c) => c.name === name);
    if (own) return { name, label: own.label, container: null };
    const met = this.met.find((c) => c.name === name);
    if (met) return { ...met };
    return { name, label: name === FILES_COUNT ? 'Downloaded files' : name, container: null };
  }

  /** Where a category goes in a list: the platform's own in its order, then
   * those an export found in the order met, then anything else. */
  private rank(name: string): number {
    const own = this.platform.categories.findIndex((c) => c.name === name);
    if (own >= 0) return own;
    const met = this.met.findIndex((c) => c.name === name);
    if (met >= 0) return this.platform.categories.length + met;
    return Number.MAX_SAFE_INTEGER;
  }

  /** `items` in the platform's order (see `rank`); ties by name. */
  byCategory<T extends { name: string }>(items: T[]): T[] {
    return [...items].sort((a, b) => this.rank(a.name) - this.rank(b.name) || a.name.localeCompare(b.name));
  }

  /** The categories an export can be limited to: the platform's own, then
   * those the prepared export found beyond them (a Matrix account's rooms,
   * two categories each). */
  choices = $derived.by<CategoryInfo[]>(() => {
    const own = this.platform.categories.map((c) => ({ name: c.name, label: c.label, container: null }));
    const found = (this.preparation?.categories ?? [])
      .filter((c) => !this.platform.categories.some((p) => p.name === c.name))
      .map((c) => ({ name: c.name, label: c.label, container: c.container }));
    return [...own, ...found];
  });

  /** The chosen categories' names, in the order shown. */
  chosen(): string[] {
    return this.choices.map((c) => c.name).filter((n) => this.selected.includes(n));
  }

  // -- choosing -------------------------------------------------------------

  toChoose(): void {
    this.screen = 'choose';
    if (!this.preparation) void this.prepare();
  }

  /** The request as the Choose screen describes it; `categories` left out
   * when all are chosen (so that whatever the export finds is in it). */
  request(withCategories = true): ExportRequest {
    const chosen = this.chosen();
    const all = chosen.length === this.choices.length;
    return {
      subjectId: this.onBehalf ? this.customer?.id : undefined,
      reason: this.onBehalf ? this.reason.trim() || undefined : undefined,
      categories: withCategories && !all ? chosen : undefined,
      // A platform that takes no date range (Matrix) is asked for none.
      since: (this.platform.dateRange && this.since) || undefined,
      until: (this.platform.dateRange && this.until) || undefined,
      destination: this.destination,
      csv: this.csv,
      viewer: this.viewer,
      splitSize: this.splitSize || undefined,
    };
  }

  private inflight: Promise<void> = Promise.resolve();

  /** Opens the session to show counts, size and free space. One at a time:
   * the shell gives up the previous session when the request changes (not
   * for formats or split: they only shape the archive, so choosing them
   * asks the platform nothing). */
  prepare(): Promise<void> {
    this.inflight = this.inflight.then(() => this.prepareNow());
    return this.inflight;
  }

  private async prepareNow(): Promise<void> {
    if (this.onBehalf && (!this.customer || !this.reason.trim())) {
      this.preparation = null;
      return;
    }
    this.preparing = true;
    const p = await this.attempt('Asking the platform what there is…', () =>
      this.api.prepareExport(this.request(false)),
      () => this.prepare(),
    );
    this.preparing = false;
    if (p) {
      this.learn(p.categories);
      for (const c of p.categories) {
        const own = this.platform.categories.some((x) => x.name === c.name);
        if (own || this.offered.has(c.name)) continue;
        this.offered.add(c.name);
        if (!this.selected.includes(c.name)) this.selected.push(c.name);
      }
    }
    this.preparation = p ?? null;
  }

  preparing = $state(false);

  async chooseFolder(): Promise<void> {
    const folder = await this.attempt('Choosing a folder…', () => this.api.chooseFolder());
    if (folder) {
      this.destination = folder;
      await this.prepare();
    }
  }

  async lookUp(login: string): Promise<void> {
    this.customer = null;
    const c = await this.attempt('Looking the customer up…', () => this.api.findCustomer(login));
    if (c) {
      this.customer = c;
      await this.prepare();
    }
  }

  canStart(): boolean {
    return (
      (!this.busy || this.preparing) &&
      this.chosen().length > 0 &&
      this.destination.trim() !== '' &&
      (!this.onBehalf || (!!this.customer && this.reason.trim() !== ''))
    );
  }

  // -- exporting ------------------------------------------------------------

  /** Runs the export; `resumed` when it continues an interrupted one (a
   * session merely prepared on the Choose screen does not count). */
  async start(request: ExportRequest = this.request(), resumed = this.preparation?.resumed ?? false): Promise<void> {
    this.progress = { ...emptyProgress(), resumed };
    this.cancelling = false;
    this.summary = null;
    this.verification = null;
    this.error = null;
    this.notice = null;
    this.screen = 'progress';
    try {
      await this.inflight;
      this.summary = await this.api.startExport(request, (e) => this.onProgress(e));
      this.preparation = null;
      this.pending = null;
      this.screen = 'done';
    } catch (e) {
      const err = toIpcError(e);
      this.preparation = null;
      if (err.code === 'cancelled') {
        this.notice = this.keptOnCancel
          ? 'The export was stopped. What was downloaded is kept: start it again to resume where it left off.'
          : 'The export was stopped and what was downloaded was removed.';
        this.toChoose();
      } else if (err.code === 'signed_out') {
        this.error = err;
        this.toSignIn();
      } else {
        this.error = err;
        this.retryLast = () => this.start(request);
        this.screen = 'choose';
      }
    }
  }

  private keptOnCancel = true;

  onProgress(e: ProgressEvent): void {
    const p = this.progress;
    switch (e.event) {
      case 'phase':
        p.phase = e.phase;
        break;
      case 'preflight':
        this.learn(e.categories);
        p.categories = this.byCategory(e.categories.map((c) => ({ name: c.name, fetched: 0, expected: c.records })));
        break;
      case 'category': {
        const c = p.categories.find((x) => x.name === e.name);
        if (c) {
          c.fetched = e.fetched;
          c.expected = e.expected;
        } else p.categories.push({ name: e.name, fetched: e.fetched, expected: e.expected });
        if (p.waiting && Date.now() >= p.waiting.untilMs) p.waiting = null;
        break;
      }
      case 'bytes':
        p.done = e.done;
        p.total = e.total;
        p.rate = e.rate;
        p.etaSecs = e.etaSecs;
        if (p.waiting && Date.now() >= p.waiting.untilMs) p.waiting = null;
        break;
      case 'writingParts':
        p.parts = { written: e.written, parts: e.parts, done: e.done, total: e.total };
        break;
      case 'waiting':
        p.waiting = { reason: e.reason, untilMs: e.untilMs, giveUpMs: e.giveUpMs ?? null };
        break;
      case 'warning':
        p.warnings.push(e.message);
        break;
    }
  }

  async cancel(keep: boolean): Promise<void> {
    this.cancelling = true;
    this.keptOnCancel = keep;
    await this.api.cancelExport(keep).catch(() => false);
  }

  async resume(): Promise<void> {
    if (!this.pending) return;
    const request = this.pending.request;
    this.pending = null;
    await this.start(request, true);
  }

  async discardPending(): Promise<void> {
    if (!this.pending) return;
    const request = this.pending.request;
    const done = await this.attempt('Removing the interrupted export…', async () => {
      await this.api.discardExport(request);
      return true;
    });
    if (done) {
      this.pending = null;
      this.preparation = null;
      this.toChoose();
    }
  }

  laterPending(): void {
    // Left staged: the Choose screen finds it and says starting continues it.
    this.pending = null;
    this.preparation = null;
    this.toChoose();
  }

  // -- done -----------------------------------------------------------------

  async verify(): Promise<void> {
    if (!this.summary) return;
    const path = this.summary.archive;
    const v = await this.attempt('Checking every file against its checksum…', () => this.api.verifyArchive(path));
    if (v) this.verification = v;
  }

  async showInFolder(path: string): Promise<void> {
    await this.attempt('Opening the folder…', () => this.api.showInFolder(path));
  }

  newExport(): void {
    this.summary = null;
    this.verification = null;
    this.toChoose();
  }

  // -- history --------------------------------------------------------------

  async toHistory(): Promise<void> {
    this.screen = 'history';
    const view = await this.attempt('Reading the audit log…', () => this.api.auditLog(), () => this.toHistory());
    if (view) this.audit = view;
  }

  async checkArchive(path: string): Promise<void> {
    try {
      const v = await this.api.verifyArchive(path);
      this.auditChecks = { ...this.auditChecks, [path]: v };
    } catch (e) {
      this.auditChecks = { ...this.auditChecks, [path]: toIpcError(e) };
    }
  }

  async exportCsv(): Promise<void> {
    const n = await this.attempt('Saving the audit log…', () => this.api.exportAuditCsv());
    if (n != null) this.notice = `Saved ${n} ${n === 1 ? 'record' : 'records'} as CSV.`;
  }

  // -- errors ---------------------------------------------------------------

  dismissError(): void {
    this.error = null;
  }

  async retry(): Promise<void> {
    const again = this.retryLast;
    this.error = null;
    this.retryLast = null;
    if (again) await again();
  }
}
