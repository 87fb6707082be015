// Keepsake offline viewer. Hand-written, no framework, no network.
//
// The viewer is made of several files (core, sanitise, list, keepsake,
// entries, chat, chat-view, app) that crates/core/src/viewer/mod.rs
// concatenates, in that order, into the page's one inline script, inside a
// single strict-mode function: they share their declarations, and nothing
// but window.__keepsake is global. Only app.js runs anything at load time.
//
// Safety rules, for anyone changing these files:
// - Text from the archive is only ever put into the page with textContent or
//   createTextNode: never as markup, never as code.
// - HTML written by a platform (a WordPress post, a Matrix formatted_body) is
//   parsed into an inert document (no script runs, nothing loads) and
//   rebuilt element by element from a short whitelist, in sanitise.js only;
//   no node of that document ever enters the page.
// - Links to the outside only for http: and https: URLs (checked with URL),
//   and never inside platform HTML, whose links stay text.
// - Files from the archive are addressed only as data/media/<one segment>,
//   and shown inline only when they are PNG, JPEG, GIF or WebP images.
// - The page's CSP allows this script by its hash; it loads the data files
//   itself (CSP 'strict-dynamic'), only those the manifest names.

// Lookup tables have no prototype: a content type, a tag or a msgtype named
// "constructor" is not in any of them.
function table(entries) {
  return Object.freeze(Object.assign(Object.create(null), entries));
}

var INLINE_IMAGES = table({ 'image/png': 1, 'image/jpeg': 1, 'image/gif': 1, 'image/webp': 1 });
// Types a browser could run as a page if opened: links only, with a warning.
var ACTIVE_TYPES = /(^text\/html|xhtml|svg|xml|javascript|ecmascript|^application\/pdf)/i;
var OVERSCAN = 800;
// A category name that may become part of a data file's path.
var CATEGORY_NAME = /^[a-z0-9][a-z0-9_]{0,63}$/;

var hasOwn = Object.prototype.hasOwnProperty;

var data = {
  manifest: null,
  // name -> 'single' (one object) or 'list' (records): what receive() takes.
  expected: new Map(),
  lists: new Map(),
  singles: new Map()
};

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// The records of a category (an empty list until they arrive).
function recs(name) {
  var list = data.lists.get(name);
  if (!list) {
    list = [];
    data.lists.set(name, list);
  }
  return list;
}

// The one record of a single-record category, or null.
function single(name) {
  return data.singles.get(name) || null;
}

// The data files call this; it only ever stores plain records, and only for
// the names the manifest announced.
function receive(entry) {
  if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') return;
  var name = entry[0];
  var value = entry[1];
  if (name === 'manifest') {
    if (isObject(value) && !data.manifest) data.manifest = value;
    return;
  }
  var how = data.expected.get(name);
  if (how === 'single') {
    if (isObject(value)) data.singles.set(name, value);
    return;
  }
  if (how !== 'list' || !Array.isArray(value)) return;
  var list = recs(name);
  for (var i = 0; i < value.length; i++) {
    if (isObject(value[i])) list.push(value[i]);
  }
}
Object.defineProperty(window, '__keepsake', {
  value: Object.freeze({ push: receive }),
  writable: false,
  configurable: false
});

// ---------------------------------------------------------------- helpers

function $(id) {
  return document.getElementById(id);
}

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null && text !== '') e.textContent = text;
  return e;
}

// Text that may run right to left: its own direction, isolated from what
// surrounds it.
function bidi(tag, cls, text) {
  var e = el(tag, cls, text);
  e.dir = 'auto';
  return e;
}

function str(v) {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

function num(v) {
  return typeof v === 'number' && isFinite(v) ? v : null;
}

// A record key (number or string) as text, or null.
function keyText(v) {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && isFinite(v)) return String(v);
  return null;
}

// The value at a JSON Pointer (RFC 6901) in a record: own properties only,
// so that no pointer can reach a prototype.
function pointer(obj, ptr) {
  if (typeof ptr !== 'string') return undefined;
  if (ptr === '') return obj;
  if (ptr.charAt(0) !== '/') return undefined;
  var parts = ptr.slice(1).split('/');
  var cur = obj;
  for (var i = 0; i < parts.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    var k = parts[i].replace(/~1/g, '/').replace(/~0/g, '~');
    if (!hasOwn.call(cur, k)) return undefined;
    cur = cur[k];
  }
  return cur;
}

var numberFormat = new Intl.NumberFormat();
function count(n) {
  return numberFormat.format(n);
}

function plural(n, one, many) {
  return count(n) + ' ' + (n === 1 ? one : many);
}

var dateFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC'
});
var dayFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC'
});
var weekdayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'long', year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC'
});
var clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });
var ISO = /^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?$/;
var MAX_TIME = 8.64e15;

// A point in time: { date, zoned }. Strings are ISO 8601; one without a
// zone is a wall-clock time of the platform (WordPress's `date`), read as if
// it were UTC and shown without a zone. Numbers are milliseconds since 1970
// (Matrix's origin_server_ts).
function when(v) {
  if (typeof v === 'number') {
    if (!isFinite(v) || Math.abs(v) > MAX_TIME) return null;
    return { date: new Date(v), zoned: true };
  }
  var s = str(v);
  var m = ISO.exec(s);
  if (!m) return null;
  var zoned = !m[1] || !!m[2];
  var d = new Date(m[1] && !m[2] ? s + 'Z' : s);
  return isNaN(d.getTime()) ? null : { date: d, zoned: zoned };
}

function parseDate(s) {
  var w = when(str(s));
  return w ? w.date : null;
}

// A <time> element, in UTC like the archive's own timestamps.
function timeEl(s, withTime) {
  var w = when(s);
  var t = el('time');
  if (!w) {
    t.textContent = str(s);
    return t;
  }
  t.setAttribute('datetime', typeof s === 'number' ? w.date.toISOString() : str(s));
  if (withTime === false) t.textContent = dayFormat.format(w.date);
  else t.textContent = dateFormat.format(w.date) + (w.zoned ? ' UTC' : '');
  return t;
}

// Only the time of day, for rows under a day heading.
function clockEl(v) {
  var w = when(v);
  var t = el('time');
  if (!w) return t;
  t.setAttribute('datetime', w.date.toISOString());
  t.textContent = clockFormat.format(w.date);
  t.title = dateFormat.format(w.date) + (w.zoned ? ' UTC' : '');
  return t;
}

// The day (YYYY-MM-DD) of a time, or ''.
function day(v) {
  if (typeof v === 'number') {
    var w = when(v);
    return w ? w.date.toISOString().slice(0, 10) : '';
  }
  var s = str(v);
  return /^\d{4}-\d{2}-\d{2}/.test(s) ? s.slice(0, 10) : '';
}

function size(n) {
  n = num(n);
  if (n === null) return '';
  var units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  var i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return (i === 0 ? count(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

// An http(s) URL, parsed, or null.
function webUrl(s) {
  var parsed = null;
  try {
    parsed = new URL(str(s));
  } catch (e) {
    return null;
  }
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed : null;
}

// An http(s) URL as a link, anything else as plain text.
function link(url, text) {
  var s = str(url);
  var parsed = webUrl(s);
  if (!parsed) return el('span', 'plain-url', text || s);
  var a = el('a', null, text || s);
  a.href = parsed.href;
  a.rel = 'noopener noreferrer';
  a.target = '_blank';
  return a;
}

// A link to another place in this viewer (#/…), never outside it.
function inner(parts, text, cls) {
  var a = el('a', cls || null, text);
  a.href = '#/' + parts.map(function (p) { return encodeURIComponent(p); }).join('/');
  return a;
}

// The relative URL of a file in the archive, or null. Only
// data/media/<one segment> is accepted, and the segment is encoded so that
// '#', '?' or spaces in a name stay part of the name. In a split archive a
// file held by another part is in that part's folder, extracted beside
// this one (NAME.part02-of-03.zip into NAME.part02-of-03/).
function mediaHref(path) {
  var s = str(path);
  var m = /^data\/media\/([^/\\]+)$/.exec(s);
  if (!m || m[1] === '.' || m[1] === '..') return null;
  try {
    var folder = otherPartFolder(s);
    return (folder ? '../' + encodeURIComponent(folder) + '/' : '') + 'data/media/' + encodeURIComponent(m[1]);
  } catch (e) {
    return null;
  }
}

// ---------------------------------------------------------------- split archives

var partOfFile = new Map();

function indexParts() {
  var m = data.manifest || {};
  if (!Array.isArray(m.parts)) return;
  m.parts.forEach(function (p) {
    if (!isObject(p) || !Array.isArray(p.files)) return;
    p.files.forEach(function (f) {
      if (typeof f === 'string') partOfFile.set(f, p);
    });
  });
}

// The folder of the part that holds `path`, when it is not this part.
function otherPartFolder(path) {
  var p = partOfFile.get(path);
  var m = data.manifest || {};
  if (!p || num(p.number) === null || p.number === num(m.part)) return null;
  var name = /^([^/\\]+)\.zip$/i.exec(str(p.name));
  return name && name[1] !== '.' && name[1] !== '..' ? name[1] : null;
}

function contentType(rec) {
  return str(rec.content_type).split(';')[0].trim().toLowerCase();
}

// Search text: case-, width- and spacing-insensitive. Control characters
// are dropped (a search box cannot hold most of them).
function norm(s) {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function initial(name) {
  var s = str(name).trim();
  if (!s) return '?';
  var first = Array.from(s)[0];
  return first.toUpperCase();
}

function login(user) {
  return isObject(user) ? str(user.login) : '';
}

// A file name as the platform gave it, with what could disguise it made
// visible: control characters and the bidi controls that turn
// "report\u202Efdp.exe" into "reportexe.pdf" become U+FFFD.
function safeName(s) {
  return str(s).replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\ufffd');
}

// ---------------------------------------------------------------- files

// data/files.json: every file a record names, by key.
var fileByKey = new Map();

function indexFiles() {
  fileByKey.clear();
  recs('files').forEach(function (f) {
    var k = keyText(f.key);
    if (k !== null) fileByKey.set(k, f);
  });
}

// A file of the archive as shown in a record: an inline image when it is a
// safe image type and in the archive, a link to the file otherwise.
// f: { name, type, size, href (null when not in the archive), alt }.
function fileView(f) {
  if (f.href && INLINE_IMAGES[f.type]) {
    var fig = el('figure', 'thumb');
    var a = el('a', 'frame');
    a.href = f.href;
    a.rel = 'noopener noreferrer';
    var img = el('img');
    img.alt = f.alt || f.name;
    img.loading = 'lazy';
    img.decoding = 'async';
    img.src = f.href;
    a.appendChild(img);
    fig.appendChild(a);
    var cap = el('figcaption', null, f.name);
    cap.dir = 'auto';
    fig.appendChild(cap);
    return fig;
  }
  var box = el('div', 'file');
  if (f.href) {
    var anchor = el('a', null, f.name);
    anchor.href = f.href;
    anchor.rel = 'noopener noreferrer';
    anchor.dir = 'auto';
    box.appendChild(anchor);
  } else {
    box.appendChild(bidi('span', null, f.name));
  }
  var kind = [f.type || 'unknown type', size(f.size)].filter(Boolean).join(' \u00b7 ');
  box.appendChild(el('span', 'kind', kind));
  if (!f.href) {
    box.appendChild(el('span', 'warn', 'This file is not in the archive (see About this archive).'));
  } else if (!INLINE_IMAGES[f.type] && ACTIVE_TYPES.test(f.type)) {
    box.appendChild(el('span', 'warn', 'Not shown here: this kind of file can contain scripts. Open it only if you trust it.'));
  }
  if (f.alt) box.appendChild(el('span', 'kind', 'Description: ' + f.alt));
  return box;
}

// An entry of data/files.json as fileView() takes it.
function archivedFile(file, name, alt) {
  return {
    name: name || safeName(file.name) || 'unnamed file',
    type: contentType(file),
    size: file.size,
    href: file.missing ? null : mediaHref(file.archive_path),
    alt: str(alt)
  };
}

// A file named by a record but absent from data/files.json.
function unknownFile(name, type) {
  return { name: name || 'unnamed file', type: str(type).split(';')[0].trim().toLowerCase(), size: null, href: null, alt: '' };
}
