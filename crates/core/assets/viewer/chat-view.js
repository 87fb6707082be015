// ---------------------------------------------------------------- chat rooms: the page
//
// Rows of a room's timeline (see chat.js), the room's header, the list of
// rooms in the sidebar and the overview of rooms. Everything a person or a
// homeserver wrote (names, bodies, file names, reaction keys, reasons) is
// text, or platform HTML through richText().

function renderItem(room, it, v) {
  if (!it.t) return dayHeading(it.d);
  var e = room.model.evs[it.i];
  if (e.type === 'm.room.encrypted') return renderEncrypted(room, it);
  if (it.msg) return renderMessage(room, it, v);
  return renderSystem(room, e);
}

function dayHeading(d) {
  var box = el('div', 'day');
  var w = d ? when(d) : null;
  box.appendChild(el('h3', null, w ? weekdayFormat.format(w.date) : 'Unknown date'));
  return box;
}

function msgHead(model, e, cont) {
  var h = el('div', 'msg-head');
  var name = nameOf(model, e.sender);
  var who = bidi('span', cont ? 'who visually-hidden' : 'who', name);
  h.appendChild(who);
  if (!cont && name !== str(e.sender)) h.appendChild(bidi('span', 'uid', str(e.sender)));
  h.appendChild(clockEl(e.origin_server_ts));
  return h;
}

function renderMessage(room, it, v) {
  var model = room.model;
  var e = model.evs[it.i];
  var box = el('div', it.cont ? 'msg cont' : 'msg');
  box.appendChild(msgHead(model, e, it.cont));
  if (isRedacted(model, e)) {
    // What reacted to it, or replied in its thread, is still in the archive.
    box.classList.add('deleted');
    box.appendChild(deletedNote(model, e));
  } else {
    var original = isObject(e.content) ? e.content : {};
    var edit = latestEdit(model, it.i);
    var parent = replyTarget(original);
    if (parent) box.appendChild(replyQuote(room, parent));
    box.appendChild(contentOf(room, edit ? edit.content : original, e, !!parent));
    if (edit) box.appendChild(editedNote(room, original, e, edit));
  }
  var reactions = reactionsOf(model, e.event_id);
  if (reactions) box.appendChild(reactions);
  var replies = v.thread ? null : model.threads.get(e.event_id);
  if (replies) box.appendChild(threadLink(room, e, replies));
  return box;
}

function renderEncrypted(room, it) {
  var model = room.model;
  var e = model.evs[it.i];
  var box = el('div', it.cont ? 'msg encrypted cont' : 'msg encrypted');
  box.appendChild(msgHead(model, e, it.cont));
  box.appendChild(el('p', 'locked', 'Encrypted \u2014 this message cannot be read without the room\u2019s keys.'));
  var reactions = reactionsOf(model, e.event_id);
  if (reactions) box.appendChild(reactions);
  return box;
}

var FILE_TYPES = table({ 'm.image': 1, 'm.file': 1, 'm.audio': 1, 'm.video': 1 });
var TEXT_TYPES = table({ 'm.text': 1, 'm.notice': 1, 'm.emote': 1 });
var JOIN_RULES = table({ public: 'open to anyone', invite: 'invite only', knock: 'open to requests' });

// What a message holds: its text (or HTML, sanitised), its file, its place.
function contentOf(room, c, e, replying) {
  var model = room.model;
  var type = str(c.msgtype);
  var box = el('div', 'body');
  var body = stripFallback(str(c.body), replying);
  if (type === 'm.notice') box.classList.add('notice-msg');
  if (type === 'm.emote') {
    box.classList.add('emote');
    box.appendChild(bidi('span', 'emote-who', '* ' + nameOf(model, e.sender) + ' '));
  }
  if (FILE_TYPES[type] || e.type === 'm.sticker') {
    var key = mxcKey(c.url) || mxcKey(pointer(c, '/file/url'));
    var file = key ? fileByKey.get(key) : null;
    var name = safeName(str(c.filename) || str(c.body)) || 'unnamed file';
    // The body names the file, or is a caption (shown below): as an image's
    // alternative text only, never beside a file's name, where its bidi
    // controls would undo what safeName() shows.
    var alt = type === 'm.image' || e.type === 'm.sticker' ? safeName(c.body) : '';
    var f = file ? archivedFile(file, name, alt) : unknownFile(name, pointer(c, '/info/mimetype'));
    var files = el('div', 'attachments');
    files.appendChild(fileView(f));
    box.appendChild(files);
    if (str(c.filename) && body && body !== str(c.filename)) box.appendChild(textBlock(body));
    return box;
  }
  if (c.format === 'org.matrix.custom.html' && typeof c.formatted_body === 'string') {
    box.appendChild(richText(c.formatted_body, HTML_CONTEXT));
  } else if (body) {
    box.appendChild(textBlock(body));
  } else {
    box.appendChild(el('p', 'quiet', 'A message without text'));
  }
  if (type === 'm.location' && str(c.geo_uri)) {
    var geo = el('p', 'context', 'Location: ');
    geo.appendChild(bidi('span', 'url', str(c.geo_uri)));
    box.appendChild(geo);
  }
  if (type && !TEXT_TYPES[type] && type !== 'm.location') box.appendChild(el('span', 'tag', type));
  return box;
}

function deletedNote(model, e) {
  var p = el('p', 'deleted-note', 'Message deleted');
  var r = redactionOf(model, e);
  if (r) {
    if (typeof r.sender === 'string' && r.sender !== e.sender) {
      p.appendChild(document.createTextNode(' by '));
      p.appendChild(bidi('span', 'who', nameOf(model, r.sender)));
    }
    var reason = str(pointer(r, '/content/reason'));
    if (reason) {
      p.appendChild(document.createTextNode(': '));
      p.appendChild(bidi('q', null, reason));
    }
  }
  return p;
}

function editedNote(room, original, e, edit) {
  var d = el('details', 'edited');
  d.appendChild(el('summary', null, edit.n > 1 ? 'edited ' + count(edit.n) + ' times' : 'edited'));
  var p = el('p', 'context', 'The original, ');
  p.appendChild(timeEl(e.origin_server_ts));
  p.appendChild(document.createTextNode(':'));
  d.appendChild(p);
  d.appendChild(contentOf(room, original, e, !!replyTarget(original)));
  return d;
}

function reactionsOf(model, id) {
  var keys = model.reactions.get(id);
  if (!keys) return null;
  var ul = el('ul', 'reactions');
  ul.setAttribute('aria-label', 'Reactions');
  keys.forEach(function (r, key) {
    var li = el('li', 'reaction');
    li.dataset.key = key;
    li.dataset.count = String(r.n);
    var names = r.senders.map(function (uid) { return nameOf(model, uid); });
    li.title = names.join(', ');
    var shown = Array.from(key);
    li.appendChild(bidi('span', 'key', shown.length > 24 ? shown.slice(0, 23).join('') + '\u2026' : key));
    li.appendChild(el('span', 'n', count(r.n)));
    li.appendChild(el('span', 'visually-hidden', ' from ' + names.join(', ')));
    ul.appendChild(li);
  });
  return ul;
}

function threadLink(room, e, replies) {
  var a = inner(['rooms', room.name, 'thread', e.event_id], plural(replies.length, 'reply', 'replies') + ' in the thread', 'thread-link');
  a.dataset.count = String(replies.length);
  return a;
}

function snippet(model, i) {
  var e = model.evs[i];
  if (e.type === 'm.room.encrypted') return 'an encrypted message';
  if (isRedacted(model, e)) return 'a deleted message';
  var text = messageText(model, i).replace(/\s+/g, ' ').trim();
  return text.length > 160 ? text.slice(0, 157) + '\u2026' : text;
}

function replyQuote(room, id) {
  var model = room.model;
  var at = model.byId.get(id);
  if (at === undefined) return el('p', 'reply missing', 'In reply to a message that is not in this archive');
  var a = inner(['rooms', room.name, 'event', id], '', 'reply');
  a.appendChild(el('span', 'reply-label', 'In reply to '));
  a.appendChild(bidi('span', 'who', nameOf(model, model.evs[at].sender)));
  a.appendChild(bidi('span', 'snippet', snippet(model, at)));
  return a;
}

// ---------------------------------------------------------------- state events

function renderSystem(room, e) {
  var model = room.model;
  var box = el('div', 'sys');
  var p = el('p');
  sentence(model, e).forEach(function (part) {
    p.appendChild(typeof part === 'string' ? document.createTextNode(part) : part);
  });
  p.appendChild(document.createTextNode(' \u00b7 '));
  p.appendChild(clockEl(e.origin_server_ts));
  box.appendChild(p);
  return box;
}

function quoted(s) {
  return bidi('q', null, str(s));
}

// A state event in words, as parts (strings and elements).
function sentence(model, e) {
  var c = isObject(e.content) ? e.content : {};
  var who = function (uid) { return bidi('span', 'who', nameOf(model, uid)); };
  var me = who(e.sender);
  switch (e.type) {
    case 'm.room.create': return [me, ' created the room'];
    case 'm.room.member': return memberSentence(model, e, c);
    case 'm.room.name': return str(c.name) ? [me, ' named the room ', quoted(c.name)] : [me, ' removed the room\u2019s name'];
    case 'm.room.topic': return str(c.topic) ? [me, ' set the topic to ', quoted(c.topic)] : [me, ' removed the topic'];
    case 'm.room.avatar': return [me, ' changed the room\u2019s picture'];
    case 'm.room.encryption': return [me, ' turned on end-to-end encryption'];
    case 'm.room.join_rules':
      return [me, ' made the room ' + (JOIN_RULES[str(c.join_rule)] || str(c.join_rule) || 'closed')];
    case 'm.room.history_visibility': return [me, ' set who can read the history: ' + str(c.history_visibility)];
    case 'm.room.guest_access': return [me, ' set guest access: ' + str(c.guest_access)];
    case 'm.room.power_levels': return [me, ' changed what members may do'];
    case 'm.room.canonical_alias': return str(c.alias) ? [me, ' set the room\u2019s address to ', bidi('span', 'url', str(c.alias))] : [me, ' removed the room\u2019s address'];
    case 'm.room.tombstone': return [me, ' replaced this room with a new one'];
    default: return [me, ' sent an event of type ', el('code', null, str(e.type) || 'unknown')];
  }
}

function memberSentence(model, e, c) {
  var prev = isObject(e.prev_content) ? e.prev_content : pointer(e, '/unsigned/prev_content');
  prev = isObject(prev) ? prev : {};
  var target = str(e.state_key);
  var m = str(c.membership);
  var before = str(prev.membership);
  var actor = bidi('span', 'who', nameOf(model, e.sender));
  var them = bidi('span', 'who', str(c.displayname) || nameOf(model, target));
  var out;
  if (m === 'join' && before === 'join') {
    if (str(prev.displayname) !== str(c.displayname)) {
      var old = bidi('span', 'who', str(prev.displayname) || target);
      out = str(c.displayname) ? [old, ' changed their name to ', them] : [old, ' removed their display name'];
    } else {
      out = [them, ' changed their profile picture'];
    }
  } else if (m === 'join') out = [them, ' joined the room'];
  else if (m === 'invite') out = [actor, ' invited ', them];
  else if (m === 'ban') out = [actor, ' banned ', them];
  else if (m === 'knock') out = [them, ' asked to join'];
  else if (m === 'leave' && e.sender === target) out = [them, before === 'invite' ? ' declined the invitation' : ' left the room'];
  else if (m === 'leave') out = [actor, before === 'ban' ? ' let back ' : before === 'invite' ? ' withdrew the invitation of ' : ' removed ', them];
  else out = [them, ' is now \u201c' + m + '\u201d'];
  if (str(c.reason)) out.push(': ', quoted(c.reason));
  return out;
}

// ---------------------------------------------------------------- rooms

function roomBadges(room) {
  var f = room.facts;
  var out = [];
  if (f.direct === true) out.push(['direct', str(f.direct_with) ? 'Direct chat with ' + str(f.direct_with) : 'Direct chat']);
  var m = str(f.membership);
  if (m === 'leave') out.push(['left', 'Left']);
  else if (m === 'invite') out.push(['left', 'Invited']);
  else if (m === 'ban') out.push(['left', 'Banned']);
  if (f.encrypted === true) out.push(['encrypted', 'Encrypted']);
  if (f.public === true) out.push(['public', 'Public']);
  return out;
}

function badgeList(room, cls) {
  var box = el('span', cls || 'badges');
  roomBadges(room).forEach(function (b) {
    box.appendChild(bidi('span', 'badge ' + b[0], b[1]));
  });
  return box;
}

function roomCount(room) {
  var n = roomEvents(room);
  return n === null ? '' : plural(n, 'event', 'events');
}

// The sidebar's list of rooms.
function renderRoomsNav() {
  var nav = $('rooms-nav');
  nav.hidden = !rooms.length;
  if (!rooms.length) return;
  var ul = $('rooms');
  ul.textContent = '';
  rooms.forEach(function (room) {
    var li = el('li');
    var a = inner(['rooms', room.name], '');
    a.appendChild(bidi('span', 'room-title', room.title));
    var meta = el('span', 'room-meta');
    meta.appendChild(badgeList(room));
    meta.appendChild(el('span', 'count', roomCount(room)));
    a.appendChild(meta);
    if (state.view === 'rooms' && state.room === room.name) a.setAttribute('aria-current', 'page');
    li.appendChild(a);
    ul.appendChild(li);
  });
}

// The overview in the main column when no room is open.
function renderRoomsOverview() {
  var box = $('about');
  box.textContent = '';
  var ul = el('ul', 'room-cards');
  rooms.forEach(function (room) {
    var li = el('li', 'card room-card');
    var h = el('h3');
    h.appendChild(inner(['rooms', room.name], room.title));
    h.firstChild.dir = 'auto';
    li.appendChild(h);
    var badges = badgeList(room);
    if (badges.firstChild) li.appendChild(badges);
    if (str(room.facts.topic)) li.appendChild(bidi('p', 'topic', str(room.facts.topic)));
    var facts = [roomCount(room)];
    var mark = roomMarked(room);
    if (mark) facts.push(count(mark.records) + ' encrypted');
    li.appendChild(el('p', 'note', facts.filter(Boolean).join(' \u00b7 ')));
    ul.appendChild(li);
  });
  box.appendChild(ul);
}

// The header of an open room (or thread, or state list).
function renderRoomHead(room, v) {
  var box = $('context');
  box.textContent = '';
  box.hidden = false;
  var nav = el('p', 'room-nav');
  if (v && (v.thread || v.inRoom)) nav.appendChild(inner(['rooms', room.name], '\u2190 Back to the messages'));
  else nav.appendChild(inner(['rooms'], '\u2190 All rooms'));
  box.appendChild(nav);
  var badges = badgeList(room);
  if (badges.firstChild) box.appendChild(badges);
  if (str(room.facts.topic)) box.appendChild(bidi('p', 'topic', str(room.facts.topic)));
  var model = room.model;
  if (model) {
    var s = model.stats;
    var parts = [plural(s.messages, 'message', 'messages')];
    if (s.reactions) parts.push(plural(s.reactions, 'reaction', 'reactions'));
    if (s.edits) parts.push(plural(s.edits, 'edit', 'edits'));
    if (s.threads) parts.push(plural(s.threads, 'thread', 'threads') + ' (' + plural(s.replies, 'reply', 'replies') + ')');
    if (s.deleted) parts.push(count(s.deleted) + ' deleted');
    if (s.encrypted) parts.push(count(s.encrypted) + ' encrypted');
    box.appendChild(el('p', 'counts', parts.join(' \u00b7 ')));
  }
  var mark = roomMarked(room);
  if (mark) box.appendChild(el('p', 'marked', plural(mark.records, 'event', 'events') + ' ' + mark.says + '.'));
  var links = el('p', 'room-links');
  if (v && v.thread) {
    var root = model.byId.get(v.thread);
    var t = el('span', 'thread-title', 'Thread: ');
    t.appendChild(bidi('span', null, snippet(model, root)));
    links.appendChild(t);
  } else if (model) {
    room.others.forEach(function (o) {
      if (v === o) return;
      links.appendChild(inner(['rooms', room.name, o.cat], o.label + ' (' + plural(o.total(), 'event', 'events') + ')'));
    });
    if (v && !v.inRoom) {
      var latest = el('button', 'link-button', 'Jump to the latest message');
      latest.type = 'button';
      latest.addEventListener('click', function () { revealRow(list.n - 1); });
      links.appendChild(latest);
    }
  }
  box.appendChild(links);
  if (room.id) {
    var id = el('p', 'room-id', 'Room id ');
    id.appendChild(bidi('code', null, room.id));
    box.appendChild(id);
  }
}

// The view a room shows for the current route: its timeline, a thread, or
// one of its other categories.
function roomSubView(room) {
  var model = room.model;
  if (state.sub === 'thread' && model.byId.has(state.arg)) {
    var v = room.threads.get(state.arg);
    if (!v) {
      v = chatView(room, threadItems(model, state.arg), state.arg);
      room.threads.set(state.arg, v);
    }
    return v;
  }
  if (state.sub && state.sub !== 'event') {
    var other = room.others.filter(function (o) { return o.cat === state.sub; })[0];
    if (other) return other;
  }
  return room.timeline;
}

// #/rooms/NAME/event/ID of a thread reply: the thread, at that reply.
function eventRoute(room) {
  if (state.sub !== 'event' || !room.model) return;
  var model = room.model;
  var i = model.byId.get(state.arg);
  if (i === undefined) return;
  var rel = relatesTo(model.evs[i]);
  if (rel && rel.rel_type === 'm.thread' && model.threads.has(rel.event_id) && room.timeline.find(state.arg) < 0) {
    state.sub = 'thread';
    state.target = state.arg;
    state.arg = rel.event_id;
  }
}
