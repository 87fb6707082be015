// ---------------------------------------------------------------- about this archive

// Whether as_of is a snapshot every record existed at (the Keepsake Export
// API), or only when the export began (WordPress, Matrix).
function snapshotted() {
  return pointer(data.manifest || {}, '/connector/features/snapshot') !== false;
}

// A manifest's "none: …" explanation as a sentence.
function sentenceOf(s) {
  s = str(s).trim().replace(/^none:\s*/i, '');
  if (!s) return '';
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');
}

function account(user) {
  if (!isObject(user)) return '';
  if (/^@[^:\s]+:\S+$/.test(str(user.id))) return str(user.id);
  return login(user) ? '@' + login(user) : '';
}

var FEATURES = table({
  snapshot: 'a snapshot of the whole account',
  exact_counts: 'exact counts',
  checksums: 'checksums of the files',
  outcome_record: 'its own record of exports',
  staff_lookup: 'exports by its support staff'
});

function connectorText(c) {
  var name = str(c.name) || str(c.kind);
  var text = name + (str(c.version) ? ' (' + str(c.version) + ')' : '') +
    (str(c.kind) && str(c.kind) !== name ? ', connector \u201c' + str(c.kind) + '\u201d' : '');
  var f = isObject(c.features) ? c.features : {};
  var yes = [];
  var no = [];
  Object.keys(FEATURES).forEach(function (k) {
    if (hasOwn.call(f, k) && f[k] === true) yes.push(FEATURES[k]);
    else if (hasOwn.call(f, k) && f[k] === false) no.push(FEATURES[k]);
  });
  if (yes.length) text += '. It offers ' + yes.join(', ');
  if (no.length) text += (yes.length ? '; not ' : '. It does not offer ') + no.join(', ');
  return text + '.';
}

// A category's name for people: its label, and its room.
function categoryLabel(name) {
  var m = data.manifest || {};
  var d = (Array.isArray(m.descriptors) ? m.descriptors : []).filter(function (x) {
    return isObject(x) && x.name === name;
  })[0];
  if (name === 'media_files') return 'media files';
  if (!d || !str(d.label)) return name;
  var room = roomByName.get(str(d.container));
  return room ? room.title + ' \u2014 ' + str(d.label) : str(d.label);
}

function dl(pairs) {
  var d = el('dl');
  pairs.forEach(function (p) {
    if (!p[1]) return;
    d.appendChild(el('dt', null, p[0]));
    var dd = el('dd');
    dd.appendChild(typeof p[1] === 'string' ? document.createTextNode(p[1]) : p[1]);
    d.appendChild(dd);
  });
  return d;
}

function dataTable(head, rows) {
  var t = el('table');
  var thead = el('thead');
  var tr = el('tr');
  head.forEach(function (c) {
    var th = el('th', c[1], c[0]);
    th.scope = 'col';
    tr.appendChild(th);
  });
  thead.appendChild(tr);
  t.appendChild(thead);
  var tbody = el('tbody');
  rows.forEach(function (r) {
    tbody.appendChild(r);
  });
  t.appendChild(tbody);
  return t;
}

function cell(tag, cls, content) {
  var c = el(tag, cls);
  if (typeof content === 'string') c.textContent = content;
  else if (content) c.appendChild(content);
  return c;
}

function renderAbout() {
  var m = data.manifest || {};
  var box = $('about');
  box.textContent = '';
  var card = el('div', 'card');
  box.appendChild(card);
  card.appendChild(el('h3', null, 'This export'));
  var actor = account(m.actor);
  var subject = account(m.subject);
  var conn = isObject(m.connector) ? m.connector : null;
  var snap = snapshotted();
  card.appendChild(dl([
    ['Account', subject],
    ['Exported by', actor && actor !== subject ? actor : ''],
    ['Reason', str(m.reason)],
    ['Platform', str(m.platform) ? link(m.platform) : ''],
    ['Read through', conn ? connectorText(conn) : ''],
    [snap ? 'Snapshot time' : 'Export began', str(m.as_of) ? timeEl(m.as_of) : ''],
    ['Snapshot', snap ? '' : sentenceOf(m.snapshot)],
    ['Record of this export', sentenceOf(m.platform_record)],
    ['Created', str(m.created_at) ? timeEl(m.created_at) : ''],
    ['Status', str(m.status)],
    ['Dates', rangeText()],
    ['Export id', str(m.export_id)],
    ['Format', str(m.format) + ' ' + str(m.format_version)],
    ['Forms of the data', Array.isArray(m.formats) ? m.formats.map(str).join(', ') : ''],
    ['Made with', str(m.tool)]
  ]));

  if (Array.isArray(m.parts) && m.parts.length) {
    card.appendChild(el('h3', null, 'Parts'));
    card.appendChild(el('p', null, 'This archive is split into ' + m.parts.length + ' parts' +
      (num(m.part) !== null ? '; this is part ' + num(m.part) : '') +
      '. Extract each part into its own folder, side by side, to see the media of every part here.'));
    var partRows = [];
    m.parts.forEach(function (p) {
      if (!isObject(p)) return;
      var files = Array.isArray(p.files) ? p.files : [];
      var media = files.filter(function (f) { return /^data\/media\//.test(str(f)); }).length;
      var other = files.length - media;
      var holds = [];
      if (other) holds.push(plural(other, 'data file', 'data files'));
      if (media) holds.push(plural(media, 'media file', 'media files'));
      var row = el('tr');
      row.appendChild(el('td', null, str(p.number) + (p.number === m.part ? ' (this one)' : '')));
      row.appendChild(el('td', null, str(p.name)));
      row.appendChild(el('td', null, holds.join(', ')));
      row.appendChild(el('td', 'num', size(p.bytes)));
      partRows.push(row);
    });
    card.appendChild(dataTable([['Part', ''], ['File', ''], ['Holds', ''], ['Size', 'num']], partRows));
  }

  if (rooms.length) {
    card.appendChild(el('h3', null, 'Rooms'));
    card.appendChild(dataTable([['Room', ''], ['What it is', ''], ['Events', 'num']], rooms.map(function (room) {
      var row = el('tr');
      var th = cell('th', null, inner(['rooms', room.name], room.title));
      th.scope = 'row';
      th.firstChild.dir = 'auto';
      row.appendChild(th);
      var what = roomBadges(room).map(function (b) { return b[1]; });
      if (!what.length) what.push(room.facts.public === false ? 'Private room' : 'Room');
      row.appendChild(bidi('td', null, what.join(' \u00b7 ')));
      var mark = roomMarked(room);
      var n = roomEvents(room);
      row.appendChild(el('td', 'num', (n === null ? '' : count(n)) + (mark ? ' (' + count(mark.records) + ' encrypted)' : '')));
      return row;
    })));
  }

  if (isObject(m.counts)) {
    card.appendChild(el('h3', null, 'What it holds'));
    var unannounced = false;
    var countRows = Object.keys(m.counts).map(function (k) {
      var c = isObject(m.counts[k]) ? m.counts[k] : {};
      var row = el('tr');
      var th = bidi('th', null, categoryLabel(k));
      th.scope = 'row';
      row.appendChild(th);
      if (num(c.expected) === null && c.expected === null) unannounced = true;
      row.appendChild(el('td', 'num', num(c.expected) === null ? (c.expected === null ? '\u2014' : '') : count(c.expected)));
      var got = el('td', 'num', num(c.retrieved) === null ? '' : count(c.retrieved));
      if (num(c.expected) !== null && num(c.retrieved) !== null && c.retrieved < c.expected) got.className = 'num short';
      row.appendChild(got);
      return row;
    });
    card.appendChild(dataTable([['Records', ''], ['Announced', 'num'], ['In the archive', 'num']], countRows));
    if (unannounced) card.appendChild(el('p', 'note', '\u2014: the platform does not say in advance how many there are.'));
  }

  if (isObject(m.marked) && Object.keys(m.marked).length) {
    card.appendChild(el('h3', null, 'Counted apart'));
    var marked = el('ul');
    Object.keys(m.marked).forEach(function (k) {
      var x = isObject(m.marked[k]) ? m.marked[k] : {};
      if (num(x.records) === null) return;
      marked.appendChild(bidi('li', null, categoryLabel(k) + ': ' + plural(x.records, 'record', 'records') + ' ' + str(x.says) + '.'));
    });
    card.appendChild(marked);
  }

  if (isObject(m.files)) {
    var f = m.files;
    card.appendChild(el('h3', null, 'Files'));
    var listed = el('code', null, str(f.index) || 'data/files.json');
    card.appendChild(dl([
      ['In the archive', num(f.archived) === null ? '' : count(f.archived)],
      ['Missing', num(f.missing) === null ? '' : count(f.missing)],
      ['Checked against the platform\u2019s SHA-256', num(f.checked_against_platform_sha256) === null ? '' : count(f.checked_against_platform_sha256)],
      ['Checked by their size only', num(f.checked_against_size_only) === null ? '' : count(f.checked_against_size_only)],
      ['Listed in', listed]
    ]));
  }

  [['Why it is incomplete', m.shortfalls], ['Warnings', m.warnings]].forEach(function (s) {
    if (!Array.isArray(s[1]) || !s[1].length) return;
    card.appendChild(el('h3', null, s[0]));
    var ul = el('ul');
    s[1].forEach(function (t) {
      ul.appendChild(bidi('li', null, str(t)));
    });
    card.appendChild(ul);
  });
  card.appendChild(el('h3', null, 'The files'));
  var p = el('p');
  p.appendChild(document.createTextNode('Everything shown here is also in plain files: '));
  p.appendChild(el('code', null, 'data/*.json'));
  p.appendChild(document.createTextNode(' (one JSON array per kind of record), '));
  p.appendChild(el('code', null, 'data/media/'));
  p.appendChild(document.createTextNode(' (the original files' + (isObject(m.files) ? ', listed in data/files.json' : '') + ') and '));
  p.appendChild(el('code', null, 'data/manifest.json'));
  p.appendChild(document.createTextNode('. '));
  p.appendChild(el('code', null, 'manifest-sha256.txt'));
  p.appendChild(document.createTextNode(' holds a SHA-256 checksum of every file, so the archive can be checked with any BagIt tool or with sha256sum.'));
  card.appendChild(p);
}

// A range's bounds are UTC when they carry a zone; without one (WordPress
// compares the site's own wall-clock time) they are said to be the
// platform's, not passed off as UTC.
function rangeText() {
  var m = data.manifest || {};
  var f = isObject(m.filters) ? m.filters : {};
  var since = when(str(f.since));
  var until = when(str(f.until));
  var asOf = parseDate(m.as_of);
  var zone = (since && !since.zoned) || (until && !until.zoned) ? ' (the platform\u2019s own time)' : ' (UTC)';
  if (since && until) return 'Records created from ' + dayFormat.format(since.date) + ' until ' + dayFormat.format(until.date) + zone + '.';
  if (since) return 'Records created since ' + dayFormat.format(since.date) + zone + (asOf ? ', up to ' + dayFormat.format(asOf) + ' (UTC)' : '') + '.';
  if (until) return 'Records created before ' + dayFormat.format(until.date) + zone + '.';
  if (!snapshotted()) return asOf ? 'All records, as the platform had them on ' + dayFormat.format(asOf) + ' (UTC).' : 'All records.';
  return asOf ? 'All records up to ' + dayFormat.format(asOf) + ' (UTC).' : 'All records.';
}

function showNotice() {
  var m = data.manifest || {};
  var notice = $('notice');
  notice.textContent = '';
  var lines = [];
  if (str(m.status) && str(m.status) !== 'completed') {
    lines.push('This archive is incomplete: some records or files could not be retrieved.');
  }
  if (failed.length) {
    lines.push('Some data could not be read: ' + failed.join(', ') + '. Keep index.html in the folder where the whole archive was extracted.');
  }
  if (!lines.length) {
    notice.hidden = true;
    return;
  }
  lines.forEach(function (l) {
    notice.appendChild(el('p', null, l));
  });
  if (Array.isArray(m.shortfalls) && m.shortfalls.length) {
    var ul = el('ul');
    m.shortfalls.slice(0, 5).forEach(function (s) {
      ul.appendChild(el('li', null, str(s)));
    });
    notice.appendChild(ul);
  }
  notice.hidden = false;
}

function setDateBounds() {
  var m = data.manifest || {};
  var f = isObject(m.filters) ? m.filters : {};
  ['from', 'to'].forEach(function (id) {
    var input = $(id);
    if (day(f.since)) input.min = day(f.since);
    // Without a snapshot, records may be dated after the export began
    // (WordPress's scheduled posts).
    var max = day(f.until) || (snapshotted() ? day(m.as_of) : '');
    if (max) input.max = max;
  });
  $('range-note').textContent = rangeText();
}
