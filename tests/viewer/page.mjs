// The viewer's page, built from its files the way the engine builds it
// (crates/core/src/viewer/mod.rs, `index_html()`), and data files written
// the way the engine writes them (crates/core/src/viewer/js_data.rs).
//
// Why: the fixtures are archives made by the engine, and their index.html
// is the page of the engine that made them. After a change to the viewer's
// files the fixtures' pages are stale until the export suite runs again (a
// cargo build). So, before the browser tests open a fixture,
// `refreshPage()` writes the page of the current files into it — the same
// template, the same order of files, the same SHA-256 in the CSP — and
// leaves `.index.html.rebuilt` beside it. A page the engine wrote after the
// viewer's files last changed must already be that page: under
// `cargo xtask test` (KEEPSAKE_REQUIRE_TOOLS) a difference fails the run,
// since it would mean that this file and mod.rs build different pages.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ASSETS = path.join(REPO, 'crates/core/assets/viewer');
const MOD_RS = path.join(REPO, 'crates/core/src/viewer/mod.rs');
// mod.rs: SCRIPT_OPEN and SCRIPT_CLOSE.
const SCRIPT_OPEN = "(function () {\n'use strict';\n";
const SCRIPT_CLOSE = '})();\n';
const MARKER = '.index.html.rebuilt';

/** The viewer's script files, in mod.rs's order (its `SCRIPTS`). */
export function scriptFiles() {
  const src = fs.readFileSync(MOD_RS, 'utf8');
  const start = src.indexOf('const SCRIPTS');
  const block = src.slice(start, src.indexOf('];', start));
  const names = [...block.matchAll(/include_str!\("\.\.\/\.\.\/assets\/viewer\/([\w.-]+\.js)"\)/g)].map((m) => m[1]);
  if (!names.length) throw new Error(`no SCRIPTS in ${MOD_RS}`);
  return names;
}

function read(name) {
  return fs.readFileSync(path.join(ASSETS, name), 'utf8');
}

function cspHash(text) {
  return `'sha256-${crypto.createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

let cached = null;

/** index.html as `index_html()` makes it from the current files. */
export function buildPage() {
  if (cached) return cached;
  const style = `\n${read('viewer.css')}`;
  let script = `\n${SCRIPT_OPEN}`;
  for (const name of scriptFiles()) {
    const part = read(name);
    script += part.endsWith('\n') ? part : `${part}\n`;
  }
  script += SCRIPT_CLOSE;
  const csp =
    "default-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'; " +
    `img-src 'self'; style-src ${cspHash(style)}; script-src ${cspHash(script)} 'strict-dynamic' 'self'`;
  // Functions, so that `$` in the texts is not a replacement pattern.
  cached = read('index.html')
    .replace('{{csp}}', () => csp)
    .replace('{{style}}', () => style)
    .replace('{{script}}', () => script);
  return cached;
}

function newestSource() {
  const files = [MOD_RS, ...fs.readdirSync(ASSETS).map((f) => path.join(ASSETS, f))];
  return Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
}

/**
 * Makes `fixture.index` the page of the current viewer files. Returns
 * 'current' or 'rebuilt'; throws when an engine-made page that should be
 * current differs and `strict` is set.
 */
export function refreshPage(fixture, strict) {
  const page = buildPage();
  const index = fixture.index;
  const marker = path.join(path.dirname(index), MARKER);
  const current = fs.existsSync(index) ? fs.readFileSync(index, 'utf8') : null;
  if (current === page) return 'current';
  const engineMade = current !== null && !fs.existsSync(marker) && fs.statSync(index).mtimeMs > newestSource();
  if (engineMade) {
    const why =
      `${index} was written by the engine after the viewer's files last changed, but it is not the page ` +
      'tests/viewer/page.mjs builds from them: mod.rs and page.mjs build the page differently ' +
      '(or the engine was built before the files changed)';
    if (strict) throw new Error(why);
    console.warn(`warning: ${why}; rebuilding it`);
  }
  fs.writeFileSync(index, page);
  fs.writeFileSync(marker, 'index.html was rebuilt from the viewer files by tests/viewer/page.mjs\n');
  return 'rebuilt';
}

// ------------------------------------------------------------------ data files

const CHUNK_BYTES = 256 * 1024;

/** `escape_into`: JSON text as the inside of a single-quoted JS string. */
export function escapeJs(text) {
  return text.replace(/[\\'\n\r<>&\u2028\u2029]/g, (c) => {
    switch (c) {
      case '\\': return '\\\\';
      case "'": return "\\'";
      case '\n': return '\\n';
      case '\r': return '\\r';
      case '<': return '\\u003c';
      case '>': return '\\u003e';
      case '&': return '\\u0026';
      case '\u2028': return '\\u2028';
      default: return '\\u2029';
    }
  });
}

/** A data file holding one value (`value_file`). */
export function valueFile(name, value) {
  return `window.__keepsake.push(["${name}",JSON.parse('${escapeJs(JSON.stringify(value))}')]);\n`;
}

/** A data file of records, in statements of about 256 KiB (`JsData`). */
export function recordsFile(name, records) {
  const out = [];
  let chunk = [];
  let bytes = 0;
  const close = () => {
    out.push(`window.__keepsake.push(["${name}",JSON.parse('[${escapeJs(chunk.join(','))}]')]);\n`);
    chunk = [];
    bytes = 0;
  };
  for (const r of records) {
    const json = JSON.stringify(r);
    chunk.push(json);
    bytes += Buffer.byteLength(json) + (chunk.length > 1 ? 1 : 0);
    if (bytes >= CHUNK_BYTES) close();
  }
  if (chunk.length || !out.length) close();
  return out.join('');
}
