// Keepsake offline viewer. Hand-written, no framework, no network.
//
// Safety rules, for anyone changing this file:
// - Text from the archive is only ever put into the page with textContent or
//   createTextNode: never as markup, never as code.
// - Links to the outside only for http: and https: URLs (checked with URL).
// - Files from the archive are addressed only as data/media/<one segment>,
//   and shown inline only when they are PNG, JPEG, GIF or WebP images.
// - The page's CSP allows this script by its hash; it loads the data files
//   itself (CSP 'strict-dynamic'), from a fixed list of names.
(function () {
  'use strict';

  var CATEGORIES = ['profile', 'media', 'posts', 'comments', 'likes', 'connections'];
  var INLINE_IMAGES = { 'image/png': 1, 'image/jpeg': 1, 'image/gif': 1, 'image/webp': 1 };
  // Types a browser could run as a page if opened: links only, with a warning.
  var ACTIVE_TYPES = /(^text\/html|xhtml|svg|xml|javascript|ecmascript|^application\/pdf)/i;
  var OVERSCAN = 800;

  var data = {
    manifest: null,
    profile: null,
    media: [],
    posts: [],
    comments: [],
    likes: [],
    connections: []
  };
  var hasOwn = Object.prototype.hasOwnProperty;

  function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  }

  // The data files call this; it only ever stores plain records.
  function receive(entry) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') return;
    var name = entry[0];
    var value = entry[1];
    if (name === 'manifest' || name === 'profile') {
      if (isObject(value)) data[name] = value;
      return;
    }
    if (!hasOwn.call(data, name) || !Array.isArray(value)) return;
    var list = data[name];
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

  function str(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return '';
  }

  function num(v) {
    return typeof v === 'number' && isFinite(v) ? v : null;
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
  var ISO = /^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?$/;

  function parseDate(s) {
    s = str(s);
    if (!ISO.test(s)) return null;
    var d = new Date(s);
    return isNaN(d.getTime()) ? null : d;
  }

  // A <time> element, in UTC like the archive's own timestamps.
  function timeEl(s, withTime) {
    var d = parseDate(s);
    var t = el('time');
    if (!d) {
      t.textContent = str(s);
      return t;
    }
    t.setAttribute('datetime', str(s));
    t.textContent = withTime === false ? dayFormat.format(d) : dateFormat.format(d) + ' UTC';
    return t;
  }

  function day(s) {
    s = str(s);
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

  // An http(s) URL as a link, anything else as plain text.
  function link(url, text) {
    var s = str(url);
    var parsed = null;
    try {
      parsed = new URL(s);
    } catch (e) {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      return el('span', 'plain-url', text || s);
    }
    var a = el('a', null, text || s);
    a.href = parsed.href;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
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

  // ---------------------------------------------------------------- media

  var mediaById = new Map();
  var mediaByPost = new Map();

  function indexMedia() {
    mediaById.clear();
    mediaByPost.clear();
    data.media.forEach(function (m) {
      var id = num(m.id);
      if (id !== null) mediaById.set(id, m);
      var post = num(m.post_id);
      if (post !== null) {
        if (!mediaByPost.has(post)) mediaByPost.set(post, []);
        mediaByPost.get(post).push(m);
      }
    });
  }

  function mediaOfPost(post) {
    var list = (mediaByPost.get(num(post.id)) || []).slice();
    if (Array.isArray(post.media_ids)) {
      post.media_ids.forEach(function (id) {
        var m = mediaById.get(num(id));
        if (m && list.indexOf(m) < 0) list.push(m);
      });
    }
    return list;
  }

  // One media item: an inline image when it is a safe image type and in the
  // archive, a link to the file otherwise.
  function attachment(m) {
    var name = str(m.filename) || 'unnamed file';
    var type = contentType(m);
    var href = mediaHref(m.archive_path);
    if (href && INLINE_IMAGES[type]) {
      var fig = el('figure', 'thumb');
      var a = el('a', 'frame');
      a.href = href;
      a.rel = 'noopener noreferrer';
      var img = el('img');
      img.alt = str(m.alt_text) || name;
      img.loading = 'lazy';
      img.decoding = 'async';
      img.src = href;
      a.appendChild(img);
      fig.appendChild(a);
      var cap = el('figcaption', null, name);
      cap.dir = 'auto';
      fig.appendChild(cap);
      return fig;
    }
    var box = el('div', 'file');
    if (href) {
      var f = el('a', null, name);
      f.href = href;
      f.rel = 'noopener noreferrer';
      f.dir = 'auto';
      box.appendChild(f);
    } else {
      var missing = el('span', null, name);
      missing.dir = 'auto';
      box.appendChild(missing);
    }
    var kind = [type || 'unknown type', size(m.size)].filter(Boolean).join(' · ');
    box.appendChild(el('span', 'kind', kind));
    if (!href) {
      box.appendChild(el('span', 'warn', 'This file is not in the archive (see About this archive).'));
    } else if (!INLINE_IMAGES[type] && ACTIVE_TYPES.test(type)) {
      box.appendChild(el('span', 'warn', 'Not shown here: this kind of file can contain scripts. Open it only if you trust it.'));
    }
    if (str(m.alt_text)) box.appendChild(el('span', 'kind', 'Description: ' + str(m.alt_text)));
    return box;
  }

  // ---------------------------------------------------------------- views

  function who() {
    var p = data.profile;
    var m = data.manifest;
    var subject = m && isObject(m.subject) ? m.subject : {};
    return {
      name: (p && str(p.display_name)) || (p && str(p.login)) || str(subject.login),
      login: (p && str(p.login)) || str(subject.login)
    };
  }

  function head(parts) {
    var h = el('div', 'item-head');
    parts.forEach(function (p) {
      if (p) h.appendChild(p);
    });
    return h;
  }

  function idTag(rec) {
    var id = num(rec.id);
    return id === null ? null : el('span', 'id', '#' + id);
  }

  function textBlock(s, cls) {
    var p = el('p', cls || 'text', s);
    p.dir = 'auto';
    return p;
  }

  function renderPost(rec) {
    var me = who();
    var box = el('div', 'item');
    var vis = str(rec.visibility);
    box.appendChild(head([
      el('span', 'who', me.name),
      me.login ? el('span', null, '@' + me.login) : null,
      timeEl(rec.created_at),
      vis && vis !== 'public' ? el('span', 'tag', vis) : null,
      idTag(rec)
    ]));
    if (num(rec.reply_to) !== null) box.appendChild(el('p', 'context', 'In reply to post #' + num(rec.reply_to)));
    box.appendChild(textBlock(str(rec.body)));
    var media = mediaOfPost(rec);
    if (media.length) {
      var list = el('div', 'attachments');
      media.forEach(function (m) {
        list.appendChild(attachment(m));
      });
      box.appendChild(list);
    }
    return box;
  }

  function renderComment(rec) {
    var box = el('div', 'item');
    var author = login(rec.post_author);
    var post = num(rec.post_id);
    box.appendChild(head([
      el('span', 'who', 'Comment'),
      el('span', null, 'on ' + (author ? '@' + author + '\u2019s' : 'a') + ' post' + (post !== null ? ' #' + post : '')),
      timeEl(rec.created_at),
      idTag(rec)
    ]));
    box.appendChild(textBlock(str(rec.body)));
    return box;
  }

  function renderLike(rec) {
    var box = el('div', 'item');
    var author = login(rec.post_author);
    var post = num(rec.post_id);
    box.appendChild(head([
      el('span', 'who', 'Liked'),
      el('span', null, (author ? '@' + author + '\u2019s' : 'a') + ' post' + (post !== null ? ' #' + post : '')),
      timeEl(rec.created_at),
      idTag(rec)
    ]));
    return box;
  }

  function renderConnection(rec) {
    var box = el('div', 'item person');
    var user = isObject(rec.user) ? rec.user : {};
    var name = str(user.display_name) || str(user.login) || 'Unknown account';
    var badge = el('span', 'initial', initial(name));
    badge.setAttribute('aria-hidden', 'true');
    box.appendChild(badge);
    var text = el('div');
    var n = el('div', 'name', name);
    n.dir = 'auto';
    text.appendChild(n);
    var dir = str(rec.direction);
    var relation = dir === 'follower' ? 'follows you' : dir === 'following' ? 'you follow' : dir;
    var sub = el('div', 'sub');
    sub.appendChild(document.createTextNode([login(user) ? '@' + login(user) : '', relation].filter(Boolean).join(' · ') + ' · since '));
    sub.appendChild(timeEl(rec.created_at, false));
    text.appendChild(sub);
    box.appendChild(text);
    return box;
  }

  function renderMedia(rec) {
    var box = el('div', 'item');
    var post = num(rec.post_id);
    box.appendChild(head([
      el('span', 'who', str(rec.filename) || 'unnamed file'),
      post !== null ? el('span', null, 'in post #' + post) : el('span', null, 'not in a post'),
      timeEl(rec.created_at),
      idTag(rec)
    ]));
    var list = el('div', 'attachments');
    list.appendChild(attachment(rec));
    box.appendChild(list);
    return box;
  }

  function postSearch(rec) {
    var parts = [str(rec.body)];
    mediaOfPost(rec).forEach(function (m) {
      parts.push(str(m.filename), str(m.alt_text));
    });
    return parts.join(' ');
  }

  var VIEWS = [
    {
      id: 'posts', label: 'Timeline', one: 'post', many: 'posts', estimate: 120,
      render: renderPost, text: postSearch
    },
    {
      id: 'comments', label: 'Comments', one: 'comment', many: 'comments', estimate: 100,
      render: renderComment,
      text: function (r) { return str(r.body) + ' ' + login(r.post_author); }
    },
    {
      id: 'likes', label: 'Likes', one: 'like', many: 'likes', estimate: 60,
      render: renderLike,
      text: function (r) { return login(r.post_author); }
    },
    {
      id: 'connections', label: 'Connections', one: 'connection', many: 'connections', estimate: 76,
      render: renderConnection,
      text: function (r) {
        var u = isObject(r.user) ? r.user : {};
        return str(u.login) + ' ' + str(u.display_name) + ' ' + str(r.direction);
      }
    },
    {
      id: 'media', label: 'Media', one: 'file', many: 'files', estimate: 260,
      render: renderMedia,
      text: function (r) { return str(r.filename) + ' ' + str(r.alt_text) + ' ' + str(r.content_type); }
    },
    { id: 'about', label: 'About this archive' }
  ];
  var viewById = {};
  VIEWS.forEach(function (v) {
    viewById[v.id] = v;
    v.present = false;
    v.loaded = false;
    v.matches = null; // record indices that pass the filters, or null for all
    v.heights = null; // measured heights by record index, 0 when unknown
    v.search = null; // normalised search text by record index, made on first search
  });

  // ---------------------------------------------------------------- filters

  // Newest first, like the platform's own timeline; records are stored in
  // id order, which is the order they were made.
  var state = { view: 'posts', q: '', from: '', to: '', newest: true };

  function filtering() {
    return !!(state.q || state.from || state.to);
  }

  function applyFilters(v) {
    var recs = data[v.id];
    if (!filtering()) {
      v.matches = null;
      return;
    }
    // Scanned in display order, so matches are in display order too.
    if (state.q && !v.search) {
      v.search = new Array(recs.length);
      for (var i = 0; i < recs.length; i++) v.search[i] = norm(v.text(recs[i]));
    }
    var out = [];
    for (var k = 0; k < recs.length; k++) {
      var j = state.newest ? recs.length - 1 - k : k;
      if (state.from || state.to) {
        var d = day(recs[j].created_at);
        if (!d || (state.from && d < state.from) || (state.to && d > state.to)) continue;
      }
      if (state.q && v.search[j].indexOf(state.q) < 0) continue;
      out.push(j);
    }
    v.matches = out;
  }

  function shown(v) {
    return v.matches ? v.matches.length : data[v.id].length;
  }

  // ---------------------------------------------------------------- windowed list
  //
  // Only the rows near the viewport exist in the DOM. Row heights are
  // measured once rendered and kept in a Fenwick tree, so that the offset of
  // any row and the row at any offset are O(log n) for 100,000 rows.

  var list = {
    el: null,
    view: null,
    n: 0,
    h: null, // heights by position
    tree: null,
    rows: new Map(), // position -> element
    pending: false,
    observer: null,
    firstRows: false
  };

  function treeBuild() {
    var n = list.n;
    var t = new Float64Array(n + 1);
    for (var i = 1; i <= n; i++) {
      t[i] += list.h[i - 1];
      var j = i + (i & -i);
      if (j <= n) t[j] += t[i];
    }
    list.tree = t;
  }

  function treeAdd(pos, delta) {
    for (var i = pos + 1; i <= list.n; i += i & -i) list.tree[i] += delta;
  }

  // Sum of the heights of the rows before `pos`.
  function offsetOf(pos) {
    var s = 0;
    for (var i = pos; i > 0; i -= i & -i) s += list.tree[i];
    return s;
  }

  // The row that contains offset y.
  function rowAt(y) {
    var pos = 0;
    var step = 1;
    while (step * 2 <= list.n) step *= 2;
    for (; step > 0; step >>= 1) {
      if (pos + step <= list.n && list.tree[pos + step] <= y) {
        pos += step;
        y -= list.tree[pos];
      }
    }
    return Math.min(pos, Math.max(0, list.n - 1));
  }

  function indexAt(pos) {
    var v = list.view;
    if (v.matches) return v.matches[pos];
    return state.newest ? list.n - 1 - pos : pos;
  }

  function setHeight(pos, px) {
    var old = list.h[pos];
    if (px <= 0 || Math.abs(old - px) < 0.5) return 0;
    list.h[pos] = px;
    list.view.heights[indexAt(pos)] = px;
    treeAdd(pos, px - old);
    return px - old;
  }

  function resetList(v) {
    list.rows.forEach(function (row) {
      if (list.observer) list.observer.unobserve(row);
    });
    list.rows.clear();
    while (list.el.firstChild) list.el.removeChild(list.el.firstChild);
    list.view = v;
    list.n = shown(v);
    if (!v.heights) v.heights = new Float32Array(data[v.id].length);
    var est = v.estimate;
    var known = 0;
    var sum = 0;
    for (var k = 0; k < v.heights.length && known < 200; k++) {
      if (v.heights[k] > 0) {
        known++;
        sum += v.heights[k];
      }
    }
    if (known) est = sum / known;
    list.h = new Float64Array(list.n);
    for (var i = 0; i < list.n; i++) list.h[i] = v.heights[indexAt(i)] || est;
    treeBuild();
    list.el.style.height = offsetOf(list.n) + 'px';
    list.el.setAttribute('aria-busy', 'false');
  }

  function makeRow(pos) {
    var rec = data[list.view.id][indexAt(pos)];
    var row = el('article', 'row');
    row.tabIndex = 0;
    row.setAttribute('aria-posinset', String(pos + 1));
    row.setAttribute('aria-setsize', String(list.n));
    row.dataset.pos = String(pos);
    var id = num(rec.id);
    if (id !== null) row.dataset.id = String(id);
    row.appendChild(list.view.render(rec));
    return row;
  }

  function place(row, pos) {
    row.style.transform = 'translateY(' + offsetOf(pos) + 'px)';
  }

  function listTop() {
    return list.el.getBoundingClientRect().top;
  }

  // Renders the rows in and near the viewport, measures them, and keeps the
  // first visible row where it was when heights above it change.
  function update() {
    list.pending = false;
    if (!list.view || list.el.hidden) return;
    for (var pass = 0; pass < 4; pass++) {
      var top = -listTop();
      var anchor = rowAt(Math.max(0, top));
      var anchorY = offsetOf(anchor);
      var start = rowAt(Math.max(0, top - OVERSCAN));
      var end = start;
      var y = offsetOf(start);
      var limit = top + window.innerHeight + OVERSCAN;
      while (end < list.n && y < limit) {
        y += list.h[end];
        end++;
      }
      list.rows.forEach(function (row, pos) {
        if (pos < start || pos >= end) {
          if (list.observer) list.observer.unobserve(row);
          row.remove();
          list.rows.delete(pos);
        }
      });
      var created = [];
      var before = list.el.firstChild;
      for (var pos = start; pos < end; pos++) {
        var row = list.rows.get(pos);
        if (row) {
          before = row.nextSibling;
          continue;
        }
        row = makeRow(pos);
        list.el.insertBefore(row, before);
        list.rows.set(pos, row);
        created.push(row);
      }
      var changed = 0;
      created.forEach(function (row) {
        changed += Math.abs(setHeight(+row.dataset.pos, row.offsetHeight));
        if (list.observer) list.observer.observe(row);
      });
      list.rows.forEach(place);
      list.el.style.height = offsetOf(list.n) + 'px';
      var shift = offsetOf(anchor) - anchorY;
      if (shift && top > 0) window.scrollBy(0, shift);
      if (!changed) break;
    }
    if (!list.firstRows && list.rows.size) {
      list.firstRows = true;
      if (window.performance && performance.mark) performance.mark('keepsake:first-rows');
    }
  }

  function schedule() {
    if (list.pending) return;
    list.pending = true;
    requestAnimationFrame(update);
  }

  function onResized(entries) {
    var changed = false;
    entries.forEach(function (e) {
      var row = e.target;
      if (!row.isConnected) return;
      if (setHeight(+row.dataset.pos, row.offsetHeight)) changed = true;
    });
    if (changed) {
      list.rows.forEach(place);
      list.el.style.height = offsetOf(list.n) + 'px';
      schedule();
    }
  }

  // Moves keyboard focus to the row at `pos`, rendering it first.
  function focusRow(pos) {
    if (pos < 0 || pos >= list.n) return;
    var header = document.querySelector('.top');
    var margin = (header ? header.offsetHeight : 0) + 12;
    var rowTop = listTop() + offsetOf(pos);
    if (rowTop < margin || rowTop + list.h[pos] > window.innerHeight) {
      window.scrollTo(0, window.scrollY + rowTop - margin);
    }
    update();
    var row = list.rows.get(pos);
    if (row) row.focus({ preventScroll: true });
  }

  function onListKey(e) {
    var row = e.target;
    if (!row || !row.classList || !row.classList.contains('row')) return;
    var pos = +row.dataset.pos;
    var next = null;
    if (e.key === 'ArrowDown' || e.key === 'j') next = pos + 1;
    else if (e.key === 'ArrowUp' || e.key === 'k') next = pos - 1;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = list.n - 1;
    if (next === null) return;
    e.preventDefault();
    focusRow(Math.max(0, Math.min(list.n - 1, next)));
  }

  // ---------------------------------------------------------------- page

  function renderProfile() {
    var p = data.profile || {};
    var me = who();
    $('profile-name').textContent = me.name || 'Archive';
    $('profile-name').dir = 'auto';
    $('profile-login').textContent = me.login ? '@' + me.login : '';
    $('profile-bio').textContent = str(p.bio);
    document.title = (me.name ? me.name + ' \u2014 ' : '') + 'Keepsake archive';

    var avatar = $('avatar');
    avatar.textContent = '';
    var pic = mediaById.get(num(p.avatar_media_id));
    var href = pic && mediaHref(pic.archive_path);
    if (pic && href && INLINE_IMAGES[contentType(pic)]) {
      var img = el('img');
      img.alt = '';
      img.src = href;
      avatar.appendChild(img);
    } else {
      avatar.textContent = initial(me.name);
    }

    var facts = $('profile-facts');
    facts.textContent = '';
    function fact(label, node) {
      if (!node) return;
      facts.appendChild(el('dt', null, label));
      var dd = el('dd');
      dd.appendChild(node);
      facts.appendChild(dd);
    }
    function text(s) {
      if (!str(s).trim()) return null;
      var span = el('span', null, str(s));
      span.dir = 'auto';
      return span;
    }
    fact('Location', text(p.location));
    fact('Website', str(p.website) ? link(p.website) : null);
    fact('Email', text(p.email));
    fact('Joined', str(p.created_at) ? timeEl(p.created_at, false) : null);
  }

  function renderTabs() {
    var ul = $('tabs');
    ul.textContent = '';
    VIEWS.forEach(function (v) {
      if (!v.present) return;
      var li = el('li');
      var a = el('a');
      a.href = '#/' + v.id;
      a.appendChild(el('span', null, v.label));
      if (v.id !== 'about') {
        var c = el('span', 'count', v.loaded ? count(shown(v)) : '\u2026');
        a.appendChild(c);
      }
      if (v.id === state.view) a.setAttribute('aria-current', 'page');
      li.appendChild(a);
      ul.appendChild(li);
    });
  }

  function renderStatus() {
    var v = viewById[state.view];
    var status = $('status');
    var empty = $('empty');
    if (v.id === 'about') {
      status.textContent = '';
      empty.hidden = true;
      return;
    }
    if (!v.loaded) {
      status.textContent = 'Loading\u2026';
      return;
    }
    var total = data[v.id].length;
    var n = shown(v);
    if (filtering()) {
      var what = [];
      if (state.q) what.push('matching \u201c' + $('q').value.trim() + '\u201d');
      if (state.from || state.to) what.push('dated ' + (state.from || '\u2026') + ' to ' + (state.to || '\u2026'));
      status.textContent = count(n) + ' of ' + plural(total, v.one, v.many) + ' ' + what.join(', ');
    } else {
      status.textContent = plural(total, v.one, v.many);
    }
    empty.hidden = n > 0;
    empty.textContent = total === 0 ? 'There are no ' + v.many + ' in this archive.' : 'Nothing matches. Try other words or dates.';
  }

  function showView() {
    var v = viewById[state.view];
    $('view-title').textContent = v.label;
    var about = v.id === 'about';
    $('about').hidden = !about;
    $('order').hidden = about;
    list.el.hidden = about;
    renderTabs();
    if (about) {
      renderAbout();
      renderStatus();
      return;
    }
    if (!v.loaded) {
      list.view = null;
      while (list.el.firstChild) list.el.removeChild(list.el.firstChild);
      list.el.style.height = '0px';
      list.el.setAttribute('aria-busy', 'true');
      renderStatus();
      return;
    }
    applyFilters(v);
    resetList(v);
    renderStatus();
    update();
  }

  function refilter() {
    VIEWS.forEach(function (v) {
      if (v.loaded && v.id !== 'about') applyFilters(v);
    });
    var v = viewById[state.view];
    if (v.id !== 'about' && v.loaded) {
      resetList(v);
      if (listTop() < 0) window.scrollTo(0, window.scrollY + listTop() - 80);
      update();
    }
    renderTabs();
    renderStatus();
    $('clear').hidden = !filtering();
  }

  function route() {
    var id = (location.hash || '').replace(/^#\/?/, '');
    var first = VIEWS.filter(function (v) { return v.present; })[0];
    if (!hasOwn.call(viewById, id) || !viewById[id].present) {
      if (hasOwn.call(viewById, state.view) && viewById[state.view].present) return false;
      id = first.id;
    }
    if (id === state.view && list.view === viewById[id]) return false;
    state.view = id;
    showView();
    return true;
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

  function renderAbout() {
    var m = data.manifest || {};
    var box = $('about');
    box.textContent = '';
    var card = el('div', 'card');
    box.appendChild(card);
    card.appendChild(el('h3', null, 'This export'));
    var actor = login(m.actor);
    var subject = login(m.subject);
    card.appendChild(dl([
      ['Account', subject ? '@' + subject : ''],
      ['Exported by', actor && actor !== subject ? '@' + actor : ''],
      ['Reason', str(m.reason)],
      ['Platform', str(m.platform) ? link(m.platform) : ''],
      ['Snapshot time', str(m.as_of) ? timeEl(m.as_of) : ''],
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
      var intro = el('p', null, 'This archive is split into ' + m.parts.length + ' parts' +
        (num(m.part) !== null ? '; this is part ' + num(m.part) : '') +
        '. Extract each part into its own folder, side by side, to see the media of every part here.');
      card.appendChild(intro);
      var pt = el('table');
      var ph = el('tr');
      [['Part', ''], ['File', ''], ['Holds', ''], ['Size', 'num']].forEach(function (c) {
        var th = el('th', c[1], c[0]);
        th.scope = 'col';
        ph.appendChild(th);
      });
      var phead = el('thead');
      phead.appendChild(ph);
      pt.appendChild(phead);
      var pbody = el('tbody');
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
        pbody.appendChild(row);
      });
      pt.appendChild(pbody);
      card.appendChild(pt);
    }

    if (isObject(m.counts)) {
      card.appendChild(el('h3', null, 'What it holds'));
      var table = el('table');
      var thead = el('thead');
      var tr = el('tr');
      [['Records', ''], ['Announced', 'num'], ['In the archive', 'num']].forEach(function (c) {
        var th = el('th', c[1], c[0]);
        th.scope = 'col';
        tr.appendChild(th);
      });
      thead.appendChild(tr);
      table.appendChild(thead);
      var tbody = el('tbody');
      Object.keys(m.counts).forEach(function (k) {
        var c = isObject(m.counts[k]) ? m.counts[k] : {};
        var row = el('tr');
        var th = el('th', null, k === 'media_files' ? 'media files' : k);
        th.scope = 'row';
        row.appendChild(th);
        row.appendChild(el('td', 'num', num(c.expected) === null ? '' : count(c.expected)));
        var got = el('td', 'num', num(c.retrieved) === null ? '' : count(c.retrieved));
        if (num(c.expected) !== null && num(c.retrieved) !== null && c.retrieved < c.expected) got.className = 'num short';
        row.appendChild(got);
        tbody.appendChild(row);
      });
      table.appendChild(tbody);
      card.appendChild(table);
    }
    [['Why it is incomplete', m.shortfalls], ['Warnings', m.warnings]].forEach(function (s) {
      if (!Array.isArray(s[1]) || !s[1].length) return;
      card.appendChild(el('h3', null, s[0]));
      var ul = el('ul');
      s[1].forEach(function (t) {
        ul.appendChild(el('li', null, str(t)));
      });
      card.appendChild(ul);
    });
    card.appendChild(el('h3', null, 'The files'));
    var p = el('p');
    p.appendChild(document.createTextNode('Everything shown here is also in plain files: '));
    p.appendChild(el('code', null, 'data/*.json'));
    p.appendChild(document.createTextNode(' (one JSON array per kind of record), '));
    p.appendChild(el('code', null, 'data/media/'));
    p.appendChild(document.createTextNode(' (the original files) and '));
    p.appendChild(el('code', null, 'data/manifest.json'));
    p.appendChild(document.createTextNode('. '));
    p.appendChild(el('code', null, 'manifest-sha256.txt'));
    p.appendChild(document.createTextNode(' holds a SHA-256 checksum of every file, so the archive can be checked with any BagIt tool or with sha256sum.'));
    card.appendChild(p);
  }

  function rangeText() {
    var m = data.manifest || {};
    var f = isObject(m.filters) ? m.filters : {};
    var since = parseDate(f.since);
    var until = parseDate(f.until);
    var asOf = parseDate(m.as_of);
    if (since && until) return 'Records created from ' + dayFormat.format(since) + ' until ' + dayFormat.format(until) + ' (UTC).';
    if (since) return 'Records created since ' + dayFormat.format(since) + (asOf ? ', up to ' + dayFormat.format(asOf) : '') + ' (UTC).';
    if (until) return 'Records created before ' + dayFormat.format(until) + ' (UTC).';
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

  // ---------------------------------------------------------------- loading

  var failed = [];

  function load(name) {
    return new Promise(function (resolve) {
      var s = document.createElement('script');
      var path = 'data/js/' + name + '.js';
      // A split archive may hold a big category's data file in a later part.
      var folder = name === 'manifest' ? null : otherPartFolder(path);
      s.src = (folder ? '../' + encodeURIComponent(folder) + '/' : '') + path;
      // Executed in insertion order, like parser-inserted scripts.
      s.async = false;
      s.onload = function () {
        resolve(true);
      };
      s.onerror = function () {
        failed.push('data/js/' + name + '.js');
        resolve(false);
      };
      document.head.appendChild(s);
    });
  }

  function fatal(message) {
    $('profile-name').textContent = 'This archive could not be opened';
    var notice = $('notice');
    notice.textContent = '';
    notice.appendChild(el('p', null, message));
    notice.hidden = false;
    list.el.setAttribute('aria-busy', 'false');
    $('status').textContent = '';
    document.documentElement.setAttribute('data-keepsake', 'failed');
  }

  function enableControls() {
    var q = $('q');
    q.disabled = false;
    $('from').disabled = false;
    $('to').disabled = false;
    var timer = 0;
    q.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var next = norm(q.value);
        if (next === state.q) {
          renderStatus();
          return;
        }
        state.q = next;
        refilter();
      }, 120);
    });
    q.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && q.value) {
        q.value = '';
        state.q = '';
        refilter();
      } else if (e.key === 'Enter' || e.key === 'ArrowDown') {
        if (list.n && !list.el.hidden) {
          e.preventDefault();
          focusRow(0);
        }
      }
    });
    ['from', 'to'].forEach(function (id) {
      $(id).addEventListener('change', function () {
        var v = $(id).value;
        state[id] = /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : '';
        refilter();
      });
    });
    var order = $('order');
    order.addEventListener('click', function () {
      state.newest = !state.newest;
      order.textContent = state.newest ? 'Newest first' : 'Oldest first';
      refilter();
    });
    $('clear').addEventListener('click', function () {
      q.value = '';
      $('from').value = '';
      $('to').value = '';
      state.q = state.from = state.to = '';
      refilter();
      q.focus();
    });
    document.addEventListener('keydown', function (e) {
      var t = e.target;
      var typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
      if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        q.focus();
        q.select();
      }
    });
  }

  function setDateBounds() {
    var m = data.manifest || {};
    var f = isObject(m.filters) ? m.filters : {};
    ['from', 'to'].forEach(function (id) {
      var input = $(id);
      if (day(f.since)) input.min = day(f.since);
      var max = day(f.until) || day(m.as_of);
      if (max) input.max = max;
    });
    $('range-note').textContent = rangeText();
  }

  function start() {
    list.el = $('list');
    if (window.ResizeObserver) list.observer = new ResizeObserver(onResized);
    list.el.addEventListener('keydown', onListKey);
    window.addEventListener('scroll', schedule, { passive: true });
    window.addEventListener('resize', schedule);
    window.addEventListener('hashchange', route);

    load('manifest').then(function (ok) {
      var m = data.manifest;
      if (!ok || !m) {
        fatal('The data files next to this page could not be read. Extract the whole archive (not just index.html) into a folder, then open index.html from that folder.');
        return;
      }
      var cats = Array.isArray(m.categories) ? m.categories : [];
      var wanted = CATEGORIES.filter(function (c) { return cats.indexOf(c) >= 0; });
      VIEWS.forEach(function (v) {
        v.present = v.id === 'about' || wanted.indexOf(v.id) >= 0;
      });
      indexParts();
      setDateBounds();
      renderProfile();
      showNotice();
      var loading = {};
      wanted.forEach(function (c) {
        loading[c] = load(c);
      });
      var firstWave = ['profile', 'media', 'posts'].filter(function (c) { return loading[c]; });
      Promise.all(firstWave.map(function (c) { return loading[c]; })).then(function () {
        indexMedia();
        firstWave.forEach(function (c) {
          if (viewById[c]) viewById[c].loaded = true;
        });
        renderProfile();
        showNotice();
        enableControls();
        if (!route()) showView();
        var rest = wanted.filter(function (c) { return firstWave.indexOf(c) < 0; });
        return Promise.all(rest.map(function (c) {
          return loading[c].then(function () {
            viewById[c].loaded = true;
            if (filtering()) applyFilters(viewById[c]);
            if (state.view === c) showView();
            else renderTabs();
          });
        }));
      }).then(function () {
        showNotice();
        document.documentElement.setAttribute('data-keepsake', 'ready');
      });
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
