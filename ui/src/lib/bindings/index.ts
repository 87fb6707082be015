// Generated from src-tauri/src/{dto,error}.rs by ts-rs; do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p keepsake-desktop bindings

export type PlatformInfo = { 
/**
 * The platform's base URL, when one is chosen.
 */
url: string | null, 
/**
 * True when the app was started against the embedded demo platform
 * (`KEEPSAKE_PLATFORM`).
 */
demo: boolean, 
/**
 * Its kind of API (`keepsake-export-api`, `wordpress`, `matrix`),
 * when one is chosen.
 */
kind: string | null, 
/**
 * What it is, for people ("WordPress"), when one is chosen.
 */
name: string | null, 
/**
 * The ways to sign in it offers, the one to prefer first.
 */
offers: Array<SignInOffer>, 
/**
 * The categories it always has, in the order to show them (an export
 * may find more, such as a Matrix account's rooms).
 */
categories: Array<CategoryChoice>, 
/**
 * Whether an export can be limited to a date range (Matrix rooms are
 * taken whole).
 */
dateRange: boolean, 
/**
 * Why it could not be asked what it is (unreachable), when it could
 * not.
 */
problem: string | null, };

export type SignInOffer = { 
/**
 * `browser`, `password` or `token`.
 */
flow: string, 
/**
 * What to call it ("Sign in with your browser").
 */
label: string, 
/**
 * For `password` and `token`: what the secret is called
 * ("Application password").
 */
secretLabel: string | null, 
/**
 * For `password`: what the user name is called ("Matrix ID or user
 * name").
 */
userLabel: string | null, 
/**
 * For `password` and `token`: the platform's page that makes the
 * secret (WordPress's approval page), which `open_sign_in_page` opens.
 */
page: string | null, };

export type CategoryChoice = { 
/**
 * Its name (`posts`).
 */
name: string, 
/**
 * What to call it ("Posts").
 */
label: string, };

export type Account = { 
/**
 * Platform id (`42`, `@alice:example.org`).
 */
id: string, 
/**
 * Login name.
 */
login: string, 
/**
 * Name to show.
 */
displayName: string, 
/**
 * `user` or `support`.
 */
role: string, 
/**
 * May export other accounts.
 */
support: boolean, 
/**
 * What support access is on this platform, in its terms.
 */
supportMeans: string, 
/**
 * The platform signed in to.
 */
platform: string, 
/**
 * What the platform is ("WordPress").
 */
platformName: string, 
/**
 * Whether the platform binds an export to a snapshot (records written
 * during it neither appear nor shift it).
 */
snapshot: boolean, 
/**
 * Whether the platform keeps its own record of exports (else only the
 * audit log on this computer does).
 */
platformRecord: boolean, };

export type Customer = { 
/**
 * Platform id.
 */
id: string, 
/**
 * Login name.
 */
login: string, 
/**
 * Name to show.
 */
displayName: string, };

export type ExportRequest = { 
/**
 * Someone else's account (support); `null` for one's own.
 */
subjectId?: string, 
/**
 * Why (required with `subjectId`).
 */
reason?: string, 
/**
 * Categories; `null` for all.
 */
categories?: Array<string>, 
/**
 * Only records from this date (`YYYY-MM-DD`).
 */
since?: string, 
/**
 * Only records before this date (`YYYY-MM-DD`).
 */
until?: string, 
/**
 * Destination folder.
 */
destination: string, 
/**
 * CSV files beside the JSON (which is always there); left out for
 * the default, on.
 */
csv?: boolean, 
/**
 * The offline viewer (`index.html`); left out for the default, on.
 */
viewer?: boolean, 
/**
 * Split the archive into complete zips of at most this many bytes
 * each; left out for one archive.
 */
splitSize?: number, };

export type CategoryEstimate = { 
/**
 * `posts`, `media`, …
 */
name: string, 
/**
 * What to call it ("Posts", "Messages").
 */
label: string, 
/**
 * The name of the room (or other container) it belongs to, if any.
 */
container: string | null, 
/**
 * Records announced, where the platform announces them.
 */
records: number | null, 
/**
 * Estimated bytes.
 */
bytes: number, };

export type Preparation = { 
/**
 * The platform's export id.
 */
exportId: string, 
/**
 * Snapshot time.
 */
asOf: string, 
/**
 * Login of the exported account.
 */
subject: string, 
/**
 * Login of the signed-in account.
 */
actor: string, 
/**
 * Per category.
 */
categories: Array<CategoryEstimate>, 
/**
 * Continues an interrupted export.
 */
resumed: boolean, 
/**
 * Disk space the export needs.
 */
neededBytes: number, 
/**
 * Free space in the destination, when known.
 */
freeBytes: number | null, 
/**
 * The request it was prepared for.
 */
request: ExportRequest, };

export type ProgressEvent = { "event": "phase", 
/**
 * The phase.
 */
phase: string, } | { "event": "preflight", 
/**
 * The export id.
 */
exportId: string, 
/**
 * Per category.
 */
categories: Array<CategoryEstimate>, 
/**
 * Continues an earlier run.
 */
resumed: boolean, } | { "event": "category", 
/**
 * The category.
 */
name: string, 
/**
 * Records stored.
 */
fetched: number, 
/**
 * Records announced, where the platform announces them.
 */
expected: number | null, } | { "event": "bytes", 
/**
 * Received.
 */
done: number, 
/**
 * Estimated total.
 */
total: number, 
/**
 * Bytes per second.
 */
rate: number, 
/**
 * Seconds left, when known.
 */
etaSecs: number | null, } | { "event": "writingParts", 
/**
 * Parts written and synced.
 */
written: number, 
/**
 * Parts in all.
 */
parts: number, 
/**
 * Bytes of the parts' files written so far.
 */
done: number, 
/**
 * Bytes of all their files.
 */
total: number, } | { "event": "waiting", 
/**
 * Why, in words.
 */
reason: string, 
/**
 * Seconds to wait.
 */
secs: number, 
/**
 * When the wait ends, milliseconds since the Unix epoch.
 */
untilMs: number, 
/**
 * When Keepsake stops retrying, milliseconds since the Unix epoch.
 */
giveUpMs: number | null, } | { "event": "warning", 
/**
 * The message.
 */
message: string, };

export type CategoryCount = { 
/**
 * The category (`media_files` counts downloaded files).
 */
name: string, 
/**
 * What to call it ("Posts", "Messages", "Downloaded files").
 */
label: string, 
/**
 * The room (or other container) it belongs to, if any.
 */
container: string | null, 
/**
 * Announced, where the platform announces counts.
 */
expected: number | null, 
/**
 * In the archive.
 */
retrieved: number, };

export type ArchivePart = { 
/**
 * Full path.
 */
path: string, 
/**
 * Its file name (`NAME.part01-of-03.zip`).
 */
fileName: string, 
/**
 * Its SHA-256.
 */
sha256: string, 
/**
 * Its size.
 */
bytes: number, };

export type ExportSummary = { 
/**
 * `completed` or `incomplete`.
 */
outcome: string, 
/**
 * The platform's export id.
 */
exportId: string, 
/**
 * Full path of the archive.
 */
archive: string, 
/**
 * Its file name.
 */
fileName: string, 
/**
 * Its SHA-256.
 */
sha256: string, 
/**
 * Its size (of every part together, when split).
 */
bytes: number, 
/**
 * The files of a split archive, in order; empty for one file. Then
 * `archive` is the first part and `sha256` that of the parts'
 * `sha256sum` listing.
 */
parts: Array<ArchivePart>, 
/**
 * Per category.
 */
counts: Array<CategoryCount>, 
/**
 * Why it is incomplete, if it is.
 */
shortfalls: Array<string>, 
/**
 * Worth knowing.
 */
warnings: Array<string>, 
/**
 * Continued an interrupted run.
 */
resumed: boolean, 
/**
 * Exported account.
 */
subject: string, 
/**
 * Signed-in account.
 */
actor: string, 
/**
 * Snapshot time.
 */
asOf: string, };

export type VerifyResult = { 
/**
 * The archive checked (any part of a split archive).
 */
archive: string, 
/**
 * Every entry matched its checksum (and, when split, every part is
 * there and from the same export).
 */
ok: boolean, 
/**
 * For a split archive, how many parts it has; every one is checked.
 */
parts: number | null, 
/**
 * Entries checked (in every part).
 */
filesChecked: number, 
/**
 * Bytes checked (in every part).
 */
bytesChecked: number, 
/**
 * What is wrong, one sentence each.
 */
problems: Array<string>, };

export type AuditRow = { 
/**
 * Position in the log.
 */
seq: number, 
/**
 * When (RFC 3339, UTC).
 */
time: string, 
/**
 * Who ran it.
 */
actor: string, 
/**
 * Whose data.
 */
subject: string, 
/**
 * Why (support exports).
 */
reason: string | null, 
/**
 * Categories requested.
 */
categories: Array<string>, 
/**
 * `completed`, `incomplete`, `failed`, `cancelled`.
 */
result: string, 
/**
 * What ended it, if it failed.
 */
errorMessage: string | null, 
/**
 * Archive size.
 */
bytes: number, 
/**
 * The archive, if one was written.
 */
archivePath: string | null, 
/**
 * Its SHA-256.
 */
archiveSha256: string | null, };

export type AuditView = { 
/**
 * Newest first.
 */
rows: Array<AuditRow>, 
/**
 * The chain and head are intact.
 */
ok: boolean, 
/**
 * What is wrong with the chain.
 */
problems: Array<string>, 
/**
 * Where the log lives.
 */
location: string, };

export type ErrorCode = "signed_out" | "sign_in" | "keyring" | "quota" | "export_running" | "account_deleted" | "disk_full" | "network" | "forbidden" | "invalid" | "cancelled" | "archive" | "audit" | "file" | "platform" | "internal";

export type IpcError = { 
/**
 * What kind of failure (the UI branches on it).
 */
code: ErrorCode, 
/**
 * What happened, in the engine's words.
 */
message: string, 
/**
 * When trying again makes sense (RFC 3339), for `quota`.
 */
retryAt?: string, };
