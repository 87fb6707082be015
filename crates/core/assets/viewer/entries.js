// ---------------------------------------------------------------- sections from descriptors
//
// A descriptor (data/manifest.json, format 1.2) says how to show a category:
// view.style (entries, files, records, chat, profile, or a Keepsake Export
// API style) and JSON Pointers to the record's title, text, html, date,
// who and tag. Styles this viewer does not know are shown as records.

// The singular and plural a status line uses, from a descriptor's label.
function nouns(desc) {
  if (desc.kind === 'files') return ['file', 'files'];
  var many = str(desc.label).toLowerCase() || 'records';
  if (!/s$/.test(many) || /ss$/.test(many)) return ['record', 'records'];
  return [many.replace(/ies$/, 'y').replace(/s$/, ''), many];
}

// A record's key as text (null when it has none).
function recKey(desc, rec) {
  return keyText(pointer(rec, desc.key));
}

function descKey(desc) {
  return function (rec) { return recKey(desc, rec); };
}

function descDay(desc) {
  var p = isObject(desc.view) ? desc.view.date : null;
  return function (rec) { return p ? day(pointer(rec, p)) : ''; };
}

// A view's pointer as text ('' when absent or not a string or number).
function field(rec, ptr) {
  return ptr ? str(pointer(rec, ptr)) : '';
}

// A tag: a status as it is; a number with the name of its field.
function tagEl(rec, ptr) {
  var v = ptr ? pointer(rec, ptr) : undefined;
  if (typeof v === 'number' && isFinite(v)) {
    var name = ptr.split('/').pop().replace(/_/g, ' ');
    return el('span', 'tag', name + ': ' + count(v));
  }
  return str(v) ? bidi('span', 'tag', str(v)) : null;
}

function keyTag(desc, rec) {
  var k = recKey(desc, rec);
  return k === null ? null : el('span', 'id', '#' + k);
}

// ---------------------------------------------------------------- related records
//
// WordPress numbers posts, pages, revisions and media in one sequence: a
// comment's `post` and a revision's `parent` name one of them. The lookup
// is by key across the entries and files sections, and a category's
// `parent` is first looked up in its own category (a reply to a comment, a
// sub-category).

var keyIndex = null; // key -> [{ view, index }]

function related(key) {
  if (!keyIndex) {
    keyIndex = new Map();
    sections.forEach(function (v) {
      if (v.kind !== 'list' || !v.desc || (v.style !== 'entries' && v.style !== 'files')) return;
      var all = v.records();
      var keyOf = descKey(v.desc);
      for (var i = 0; i < all.length; i++) {
        var k = keyOf(all[i]);
        if (k === null) continue;
        if (!keyIndex.has(k)) keyIndex.set(k, []);
        keyIndex.get(k).push({ view: v, index: i });
      }
    });
  }
  return keyIndex.get(key) || [];
}

// What names a record in a link to it: its title, else the start of its text.
function entryTitle(v, rec) {
  var vw = isObject(v.desc.view) ? v.desc.view : {};
  var t = (vw.title && titleText(field(rec, vw.title))) ||
    (vw.html && titleText(field(rec, vw.html))) || (vw.text && field(rec, vw.text).replace(/\s+/g, ' ').trim());
  if (t && t.length > 80) t = t.slice(0, 77) + '\u2026';
  return t || '#' + recKey(v.desc, rec);
}

// "On the post “Title”", "in reply to Ada’s comment “…”", linking to them.
function contextLine(v, rec) {
  var p = el('p', 'context');
  function add(words, hit) {
    var target = hit.view.records()[hit.index];
    p.appendChild(document.createTextNode((p.firstChild ? ', ' + words.charAt(0).toLowerCase() + words.slice(1) : words) + ' '));
    var a = inner([hit.view.id, recKey(hit.view.desc, target)], '\u201c' + entryTitle(hit.view, target) + '\u201d');
    a.dir = 'auto';
    p.appendChild(a);
  }
  var post = keyText(rec.post);
  var parent = keyText(rec.parent);
  if (post && post !== '0') {
    var hits = related(post).filter(function (h) { return h.view !== v; });
    if (hits.length) add('On the ' + hits[0].view.one, hits[0]);
    else p.appendChild(document.createTextNode('On #' + post + ', which is not in this archive'));
  }
  if (parent && parent !== '0') {
    var own = related(parent).filter(function (h) { return h.view === v; })[0];
    var other = related(parent).filter(function (h) { return h.view !== v; })[0];
    var whoPtr = isObject(v.desc.view) ? v.desc.view.who : null;
    if (own && whoPtr) {
      var author = field(v.records()[own.index], whoPtr);
      add('In reply to' + (author ? ' ' + author + '\u2019s' : ' the') + ' ' + v.one, own);
    } else if (own) {
      add('Under', own);
    } else if (other && !post) {
      add('A version of the ' + other.view.one, other);
    }
  }
  return p.firstChild ? p : null;
}

// ---------------------------------------------------------------- images in platform HTML

// URL -> key in data/files.json, from the files sections' records
// (WordPress media: source_url, guid, every size's source_url).
var fileKeyByUrl = null;

function indexFileUrls() {
  fileKeyByUrl = new Map();
  sections.forEach(function (v) {
    if (v.kind !== 'list' || !v.desc || v.desc.kind !== 'files') return;
    var keyOf = descKey(v.desc);
    v.records().forEach(function (rec) {
      var k = keyOf(rec);
      if (k === null) return;
      var urls = [rec.source_url, pointer(rec, '/guid/rendered')];
      var sizes = pointer(rec, '/media_details/sizes');
      if (isObject(sizes)) {
        Object.keys(sizes).forEach(function (s) {
          if (isObject(sizes[s])) urls.push(sizes[s].source_url);
        });
      }
      urls.forEach(function (u) {
        if (typeof u === 'string' && u) fileKeyByUrl.set(u, k);
      });
    });
  });
}

// An <img> of platform HTML -> the archive's file, or null: mxc:// URLs by
// key, web URLs through the media records, WordPress's wp-image-N class.
function imageFile(src, cls) {
  var mxc = mxcKey(src);
  if (mxc) return fileByKey.get(mxc) || null;
  if (!fileKeyByUrl) indexFileUrls();
  var k = fileKeyByUrl.get(src) || fileKeyByUrl.get(src.split(/[?#]/)[0]);
  if (!k) {
    var m = /(?:^|\s)wp-image-(\d+)(?:\s|$)/.exec(cls);
    if (m) k = m[1];
  }
  return (k && fileByKey.get(k)) || null;
}

var HTML_CONTEXT = { image: imageFile };

// ---------------------------------------------------------------- entries

// Posts, pages, comments, revisions, tags: a title, a date, a status, and
// the body (platform HTML through the sanitiser, or text).
function entryView(desc, base) {
  var vw = desc.view;
  var keyOf = descKey(desc);
  var v = recordsView(Object.assign(base, {
    estimate: vw.html ? 200 : 90,
    key: keyOf,
    day: descDay(desc),
    render: function (rec) {
      var box = el('div', 'item entry');
      box.appendChild(head([
        vw.who && field(rec, vw.who) ? bidi('span', 'who', field(rec, vw.who)) : null,
        vw.date ? timeEl(pointer(rec, vw.date)) : null,
        tagEl(rec, vw.tag),
        keyTag(desc, rec)
      ]));
      var title = vw.title ? titleText(field(rec, vw.title)) : '';
      if (title) box.appendChild(bidi('h3', 'entry-title', title));
      var ctx = contextLine(v, rec);
      if (ctx) box.appendChild(ctx);
      var html = vw.html ? pointer(rec, vw.html) : undefined;
      if (typeof html === 'string' && html.trim()) box.appendChild(richText(html, HTML_CONTEXT));
      else if (vw.text && field(rec, vw.text).trim()) box.appendChild(textBlock(field(rec, vw.text)));
      return box;
    },
    text: function (rec) {
      return [vw.title ? titleText(field(rec, vw.title)) : '', vw.who ? field(rec, vw.who) : '',
        vw.tag ? field(rec, vw.tag) : '', vw.html ? htmlText(field(rec, vw.html)) : '',
        vw.text ? field(rec, vw.text) : ''].join(' ');
    }
  }));
  return v;
}

// ---------------------------------------------------------------- files

// The archived file a record names: by its key in data/files.json, else by
// the record's own archive_path.
function fileOfRecord(desc, rec) {
  var k = recKey(desc, rec);
  var f = k !== null ? fileByKey.get(k) : null;
  if (f) return f;
  if (typeof rec.archive_path === 'string' || rec.archive_path === null) {
    return {
      name: str(rec.filename) || str(rec.name),
      content_type: str(rec.content_type) || str(rec.mime_type),
      size: rec.size,
      archive_path: rec.archive_path,
      missing: !rec.archive_path
    };
  }
  return null;
}

function filesView(desc, base) {
  var vw = isObject(desc.view) ? desc.view : {};
  var v = recordsView(Object.assign(base, {
    estimate: 260,
    key: descKey(desc),
    day: descDay(desc),
    render: function (rec) {
      var box = el('div', 'item');
      var file = fileOfRecord(desc, rec);
      var title = vw.title ? titleText(field(rec, vw.title)) : '';
      var name = file ? safeName(file.name) : '';
      box.appendChild(head([
        bidi('span', 'who', title || name || 'unnamed file'),
        vw.who && field(rec, vw.who) ? bidi('span', null, field(rec, vw.who)) : null,
        vw.date ? timeEl(pointer(rec, vw.date)) : null,
        tagEl(rec, vw.tag),
        keyTag(desc, rec)
      ]));
      var ctx = contextLine(v, rec);
      if (ctx) box.appendChild(ctx);
      var list = el('div', 'attachments');
      var alt = str(rec.alt_text) || str(rec.alt);
      list.appendChild(fileView(file ? archivedFile(file, name, alt) : unknownFile(title, '')));
      box.appendChild(list);
      return box;
    },
    text: function (rec) {
      var file = fileOfRecord(desc, rec);
      return [vw.title ? titleText(field(rec, vw.title)) : '', file ? str(file.name) + ' ' + str(file.content_type) : '',
        str(rec.alt_text)].join(' ');
    }
  }));
  return v;
}

// ---------------------------------------------------------------- records

var MAX_VALUE = 600;
var MAX_JSON = 4000;

function valueNode(v) {
  if (v === null) return el('span', 'null', 'null');
  if (typeof v === 'string') {
    return bidi('span', 'value', v.length > MAX_VALUE ? v.slice(0, MAX_VALUE) + '\u2026' : v);
  }
  if (typeof v === 'number' || typeof v === 'boolean') return el('span', 'value', String(v));
  var json = JSON.stringify(v, null, 2) || '';
  var pre = el('pre', 'json', json.length > MAX_JSON ? json.slice(0, MAX_JSON) + '\n\u2026' : json);
  return pre;
}

// Any record: its title, who and date when the descriptor names them, then
// each field, as text.
function recordView(desc, base) {
  var vw = isObject(desc.view) ? desc.view : {};
  return recordsView(Object.assign(base, {
    estimate: 160,
    key: descKey(desc),
    day: descDay(desc),
    render: function (rec) {
      var box = el('div', 'item record');
      box.appendChild(head([
        bidi('span', 'who', (vw.title && field(rec, vw.title)) || recKey(desc, rec) || base.label),
        vw.who && field(rec, vw.who) ? bidi('span', null, field(rec, vw.who)) : null,
        vw.date ? timeEl(pointer(rec, vw.date)) : null,
        tagEl(rec, vw.tag)
      ]));
      var dl = el('dl', 'fields');
      Object.keys(rec).slice(0, 60).forEach(function (k) {
        dl.appendChild(bidi('dt', null, k));
        var dd = el('dd');
        dd.appendChild(valueNode(rec[k]));
        dl.appendChild(dd);
      });
      box.appendChild(dl);
      return box;
    },
    text: function (rec) {
      return JSON.stringify(rec) || '';
    }
  }));
}

// The section for one descriptor (not chat, not profile).
function descriptorView(desc, rank) {
  var n = nouns(desc);
  var style = str(desc.view.style);
  var base = {
    id: desc.name, cat: desc.name, style: style, label: str(desc.label) || desc.name,
    one: n[0], many: n[1], order: desc.order, rank: rank, desc: desc
  };
  if (desc.kind === 'single') {
    base.records = function () {
      var one = single(desc.name);
      return one ? [one] : [];
    };
  }
  if (style === 'entries') return entryView(desc, base);
  if (style === 'files') return filesView(desc, base);
  base.style = 'records';
  return recordView(desc, base);
}
