// ---------------------------------------------------------------- record views
//
// A section that lists the records of one category (see list.js for what a
// view is). cfg: id, cat, label, one, many, estimate, order (how the
// records are stored: ascending, descending or unordered), rank, and
// functions of a record: render(rec), text(rec) (for search), day(rec)
// (YYYY-MM-DD or ''), key(rec) (data-id, or null); records() when the
// records are not recs(cat).

function recordsView(cfg) {
  var records = cfg.records || function () { return recs(cfg.cat); };
  var order = cfg.order === 'descending' || cfg.order === 'unordered' ? cfg.order : 'ascending';
  var v = {
    kind: 'list',
    id: cfg.id,
    cat: cfg.cat,
    style: cfg.style || '',
    label: cfg.label,
    one: cfg.one,
    many: cfg.many,
    estimate: cfg.estimate || 100,
    rank: cfg.rank || 0,
    desc: cfg.desc || null,
    order: order,
    sortable: order !== 'unordered',
    present: false,
    loaded: false,
    matches: null, // record indices that pass the filters, or null for all
    heights: null, // measured heights by record index, 0 when unknown
    search: null, // normalised search text by record index, made on first search
    records: records,
    total: function () { return records().length; },
    reversed: function () {
      // Newest first, like the platforms' own lists, unless asked otherwise.
      if (order === 'ascending') return state.newest;
      if (order === 'descending') return !state.newest;
      return false;
    },
    renderRow: function (i) { return cfg.render(records()[i], i); },
    idOf: function (i) { return cfg.key(records()[i]); },
    textOf: function (i) { return cfg.text(records()[i]); },
    dayOf: function (i) { return cfg.day(records()[i]); },
    // The index of the record whose key is `key`, or -1.
    find: function (key) {
      var all = records();
      for (var i = 0; i < all.length; i++) {
        if (cfg.key(all[i]) === key) return i;
      }
      return -1;
    }
  };
  return v;
}

// ---------------------------------------------------------------- the Keepsake Export API
//
// The sections of the reference platform's archives (connector kind
// keepsake-export-api, and archives of format 1.0 and 1.1 by category name).

var mediaById = new Map();
var mediaByPost = new Map();

function indexMedia() {
  mediaById.clear();
  mediaByPost.clear();
  recs('media').forEach(function (m) {
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
  return fileView({
    name: str(m.filename) || 'unnamed file',
    type: contentType(m),
    size: m.size,
    href: mediaHref(m.archive_path),
    alt: str(m.alt_text)
  });
}

function who() {
  var p = single('profile');
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
  sub.appendChild(document.createTextNode([login(user) ? '@' + login(user) : '', relation].filter(Boolean).join(' \u00b7 ') + ' \u00b7 since '));
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

// The Keepsake Export API's categories, by style (= category name), in the
// order of their tabs.
var KEEPSAKE_STYLES = table({
  posts: { label: 'Timeline', one: 'post', many: 'posts', estimate: 120, render: renderPost, text: postSearch },
  comments: {
    label: 'Comments', one: 'comment', many: 'comments', estimate: 100, render: renderComment,
    text: function (r) { return str(r.body) + ' ' + login(r.post_author); }
  },
  likes: {
    label: 'Likes', one: 'like', many: 'likes', estimate: 60, render: renderLike,
    text: function (r) { return login(r.post_author); }
  },
  connections: {
    label: 'Connections', one: 'connection', many: 'connections', estimate: 76, render: renderConnection,
    text: function (r) {
      var u = isObject(r.user) ? r.user : {};
      return str(u.login) + ' ' + str(u.display_name) + ' ' + str(r.direction);
    }
  },
  media: {
    label: 'Media', one: 'file', many: 'files', estimate: 260, render: renderMedia,
    text: function (r) { return str(r.filename) + ' ' + str(r.alt_text) + ' ' + str(r.content_type); }
  }
});
var KEEPSAKE_ORDER = ['posts', 'comments', 'likes', 'connections', 'media'];

function keepsakeView(style, cat, order) {
  var s = KEEPSAKE_STYLES[style];
  return recordsView({
    id: cat, cat: cat, style: style, label: s.label, one: s.one, many: s.many, estimate: s.estimate,
    order: order || 'ascending', rank: KEEPSAKE_ORDER.indexOf(style),
    render: s.render, text: s.text,
    day: function (r) { return day(r.created_at); },
    key: function (r) {
      var id = num(r.id);
      return id === null ? null : String(id);
    }
  });
}

// ---------------------------------------------------------------- the profile card

// The account's profile, whichever platform it came from: the Keepsake
// Export API's fields first, then WordPress's and Matrix's.
function renderProfile() {
  var p = profileRecord() || {};
  var m = data.manifest || {};
  var subject = isObject(m.subject) ? m.subject : {};
  var me = who();
  var name = str(p.display_name) || str(p.displayname) || str(p.name) || me.name || str(p.username) || str(p.user_id);
  var handle = str(p.user_id) || (me.login ? '@' + me.login : '') || (str(p.username) ? '@' + str(p.username) : '');
  if (!handle && /^@.+:/.test(str(subject.id))) handle = str(subject.id);
  $('profile-name').textContent = name || 'Archive';
  $('profile-name').dir = 'auto';
  $('profile-login').textContent = handle;
  $('profile-bio').textContent = str(p.bio) || str(p.description);
  document.title = (name ? name + ' \u2014 ' : '') + 'Keepsake archive';

  var avatar = $('avatar');
  avatar.textContent = '';
  var pic = mediaById.get(num(p.avatar_media_id));
  var href = pic && mediaHref(pic.archive_path);
  var type = pic && contentType(pic);
  var mxc = mxcKey(p.avatar_url);
  if (!pic && mxc && fileByKey.has(mxc)) {
    pic = fileByKey.get(mxc);
    href = pic.missing ? null : mediaHref(pic.archive_path);
    type = contentType(pic);
  }
  // A Matrix avatar comes with no type: it is tried as a picture (an <img>
  // runs nothing, whatever the bytes), and the initial stays if it is none.
  if (pic && href && (INLINE_IMAGES[type] || !type)) {
    var img = el('img');
    img.alt = '';
    img.onerror = function () {
      avatar.textContent = initial(name);
    };
    img.src = href;
    avatar.appendChild(img);
  } else {
    avatar.textContent = initial(name);
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
    return bidi('span', null, str(s));
  }
  var site = str(p.website) || str(p.url);
  var joined = str(p.created_at) || str(p.registered_date);
  fact('Location', text(p.location));
  fact('Website', site ? link(site) : null);
  fact('Email', text(p.email));
  fact('Joined', joined ? timeEl(joined, false) : null);
}

// The profile's record: the category whose style is `profile` (or, before
// descriptors, the one named so).
function profileRecord() {
  return single(profileCategory || 'profile');
}
var profileCategory = null;
