// ---------------------------------------------------------------- chat rooms: the model
//
// A Matrix archive has a container per room (manifest.containers) and, per
// room, a descriptor of style `chat` (its events, newest first as the
// homeserver's /messages returned them) and others (its current state).
// A room's files are loaded when it is first opened, and its events folded
// into a timeline the way a chat client shows it, oldest first:
//
// - reactions (m.annotation) are counted under the message they react to;
// - edits (m.replace) are not rows: the message shows its latest version,
//   from the same sender only (anyone else's "edit" is ignored, as the
//   Matrix specification requires), and keeps its original;
// - thread replies (m.thread) are not rows of the room: their root says how
//   many there are and opens the thread;
// - redactions are not rows: the message they removed says so;
// - every other event is a row, under a heading per day (UTC).
//
// The timeline is kept in topological order (the order of the file), not
// sorted by origin_server_ts: a homeserver's timestamps can disagree with
// the order of the room, and the room's order is the one its members saw.

var rooms = [];
var roomByName = new Map();

// mxc://server/mediaId -> "server/mediaId", the key of data/files.json.
function mxcKey(url) {
  var m = /^mxc:\/\/([A-Za-z0-9.:[\]-]+)\/([A-Za-z0-9_-]+)$/.exec(str(url));
  return m ? m[1] + '/' + m[2] : null;
}

function addRoom(container, desc) {
  var facts = isObject(container.facts) ? container.facts : {};
  var room = {
    name: container.name,
    title: str(container.title) || str(container.id) || container.name,
    id: str(container.id),
    kind: str(container.kind) || 'Room',
    facts: facts,
    desc: desc,
    others: [], // views of the room's other categories (its state)
    promise: null,
    model: null,
    timeline: null,
    threads: new Map() // root event id -> its view
  };
  rooms.push(room);
  roomByName.set(room.name, room);
  return room;
}

// What the manifest says about a room before it is loaded.
function roomEvents(room) {
  var c = data.manifest && isObject(data.manifest.counts) ? data.manifest.counts[room.desc.name] : null;
  return isObject(c) && num(c.retrieved) !== null ? c.retrieved : null;
}

function roomMarked(room) {
  var m = data.manifest && isObject(data.manifest.marked) ? data.manifest.marked : {};
  var mark = hasOwn.call(m, room.desc.name) && isObject(m[room.desc.name]) ? m[room.desc.name] : null;
  return mark && num(mark.records) !== null ? { records: mark.records, says: str(mark.says) } : null;
}

function loadRoom(room) {
  if (!room.promise) {
    var names = [room.desc.name].concat(room.others.map(function (v) { return v.cat; }));
    room.promise = Promise.all(names.map(load)).then(function () {
      room.others.forEach(function (v) { v.loaded = true; });
      room.model = buildModel(room);
      room.timeline = chatView(room, room.model.items, null);
    });
  }
  return room.promise;
}

function isMessage(e) {
  var t = e.type;
  return t === 'm.room.message' || t === 'm.room.encrypted' || t === 'm.sticker';
}

function relatesTo(e) {
  var c = isObject(e.content) ? e.content : null;
  return c && isObject(c['m.relates_to']) ? c['m.relates_to'] : null;
}

function replyTarget(content) {
  var rel = isObject(content) && isObject(content['m.relates_to']) ? content['m.relates_to'] : null;
  var r = rel && isObject(rel['m.in_reply_to']) ? rel['m.in_reply_to'].event_id : null;
  // A thread's fallback reply is not a reply a person chose.
  if (rel && rel.rel_type === 'm.thread' && rel.is_falling_back === true) return null;
  return typeof r === 'string' ? r : null;
}

function setName(names, e) {
  var c = isObject(e.content) ? e.content : {};
  var dn = str(c.displayname).trim();
  if (typeof e.state_key === 'string' && dn) names.set(e.state_key, dn);
}

function push(map, key, value) {
  var list = map.get(key);
  if (!list) map.set(key, (list = []));
  list.push(value);
}

function buildModel(room) {
  var evs = recs(room.desc.name);
  var n = evs.length;
  var asc = room.desc.order === 'ascending';
  var model = {
    evs: evs,
    byId: new Map(),
    edits: new Map(), // event id -> indices of its edits, oldest first
    reactions: new Map(), // event id -> Map(key -> { n, senders })
    threads: new Map(), // root id -> indices of its replies, oldest first
    redactedBy: new Map(), // event id -> index of the redaction
    names: new Map(), // user id -> display name
    items: null,
    stats: { messages: 0, encrypted: 0, reactions: 0, edits: 0, threads: 0, replies: 0, deleted: 0 }
  };
  for (var i = 0; i < n; i++) {
    if (typeof evs[i].event_id === 'string') model.byId.set(evs[i].event_id, i);
  }
  var main = [];
  for (var k = 0; k < n; k++) {
    i = asc ? k : n - 1 - k;
    var e = evs[i];
    var type = e.type;
    var c = isObject(e.content) ? e.content : {};
    var rel = relatesTo(e);
    var target = rel && typeof rel.event_id === 'string' && rel.event_id !== e.event_id && model.byId.has(rel.event_id) ? rel.event_id : null;
    if (type === 'm.room.member') setName(model.names, e);
    if (type === 'm.reaction') {
      if (target && rel.rel_type === 'm.annotation' && typeof rel.key === 'string') {
        var keys = model.reactions.get(target);
        if (!keys) model.reactions.set(target, (keys = new Map()));
        var r = keys.get(rel.key);
        if (!r) keys.set(rel.key, (r = { n: 0, senders: [] }));
        r.n++;
        if (typeof e.sender === 'string') r.senders.push(e.sender);
        model.stats.reactions++;
      }
      continue;
    }
    if (type === 'm.room.redaction') {
      var gone = str(e.redacts) || str(c.redacts);
      if (gone) model.redactedBy.set(gone, i);
      continue;
    }
    if (target && type === 'm.room.message') {
      if (rel.rel_type === 'm.replace' && isObject(c['m.new_content'])) {
        push(model.edits, target, i);
        model.stats.edits++;
        continue;
      }
      if (rel.rel_type === 'm.thread') {
        push(model.threads, target, i);
        model.stats.replies++;
        continue;
      }
    }
    main.push(i);
  }
  // The room's current state names its members last: it wins.
  room.others.forEach(function (v) {
    v.records().forEach(function (e) {
      if (e.type === 'm.room.member') setName(model.names, e);
    });
  });
  model.stats.threads = model.threads.size;
  model.items = itemsOf(model, main);
  model.items.forEach(function (it) {
    if (!it.msg) return;
    var e = evs[it.i];
    if (e.type === 'm.room.encrypted') model.stats.encrypted++;
    else if (isRedacted(model, e)) model.stats.deleted++;
    model.stats.messages++;
  });
  return model;
}

// Rows for events (indices, oldest first): a heading for each new day, and
// a message that follows one of the same sender within five minutes is a
// continuation (shown without the name).
function itemsOf(model, indices) {
  var items = [];
  var lastDay = null;
  var prev = null;
  indices.forEach(function (i) {
    var e = model.evs[i];
    var d = day(e.origin_server_ts);
    if (d !== lastDay) {
      items.push({ t: 0, i: -1, d: d, cont: false, msg: false });
      lastDay = d;
      prev = null;
    }
    var msg = isMessage(e);
    var ts = num(e.origin_server_ts) || 0;
    var cont = !!(msg && prev && prev.msg && prev.sender === e.sender && ts >= prev.ts && ts - prev.ts < 300000 &&
      !replyTarget(e.content));
    items.push({ t: 1, i: i, d: d, cont: cont, msg: msg });
    prev = { msg: msg, sender: e.sender, ts: ts };
  });
  return items;
}

function threadItems(model, rootId) {
  var root = model.byId.get(rootId);
  return itemsOf(model, [root].concat(model.threads.get(rootId) || []));
}

function isRedacted(model, e) {
  var u = isObject(e.unsigned) ? e.unsigned : {};
  return isObject(u.redacted_because) || typeof u.redacted_by === 'string' || isObject(e.redacted_because) ||
    (typeof e.event_id === 'string' && model.redactedBy.has(e.event_id));
}

// The redaction event of a removed message, if the archive has it.
function redactionOf(model, e) {
  var u = isObject(e.unsigned) ? e.unsigned : {};
  if (isObject(u.redacted_because)) return u.redacted_because;
  if (isObject(e.redacted_because)) return e.redacted_because;
  var i = model.redactedBy.get(e.event_id);
  return i === undefined ? null : model.evs[i];
}

// The latest edit of message i by its own sender: { content, at, n }, or
// null. Without the edit events, the homeserver's summary of the latest
// one (unsigned["m.relations"]["m.replace"]) when it sent one.
function latestEdit(model, i) {
  var e = model.evs[i];
  var list = model.edits.get(e.event_id);
  var best = null;
  var n = 0;
  if (list) {
    list.forEach(function (j) {
      var x = model.evs[j];
      if (x.sender !== e.sender || isRedacted(model, x)) return;
      n++;
      // Oldest first: on equal times the later one in the room wins.
      if (!best || (num(x.origin_server_ts) || 0) >= (num(best.origin_server_ts) || 0)) best = x;
    });
  }
  if (best) return { content: best.content['m.new_content'], at: best.origin_server_ts, n: n };
  var agg = pointer(e, '/unsigned/m.relations/m.replace');
  if (isObject(agg) && agg.sender === e.sender && isObject(pointer(agg, '/content/m.new_content'))) {
    return { content: agg.content['m.new_content'], at: agg.origin_server_ts, n: 1 };
  }
  return null;
}

// A reply's body starts with a quote of its parent ("> <@bob:…> …" and a
// blank line), for clients that do not show replies: shown here as a
// quote of its own, so the fallback goes.
function stripFallback(body, replying) {
  if (!replying || body.slice(0, 2) !== '> ') return body;
  var lines = body.split('\n');
  var k = 0;
  while (k < lines.length && lines[k].charAt(0) === '>') k++;
  if (k < lines.length && lines[k] === '') k++;
  return lines.slice(k).join('\n');
}

function nameOf(model, uid) {
  return model.names.get(str(uid)) || str(uid) || 'someone';
}

// What a message says now, as text: for search and for quotes.
function messageText(model, i) {
  var e = model.evs[i];
  if (e.type === 'm.room.encrypted') return '';
  var edit = latestEdit(model, i);
  var c = edit ? edit.content : isObject(e.content) ? e.content : {};
  var body = stripFallback(str(c.body), !!replyTarget(e.content));
  var name = str(c.filename);
  return name && name !== body ? body + ' ' + name : body;
}

function searchText(model, i) {
  var e = model.evs[i];
  var parts = [nameOf(model, e.sender), str(e.sender), messageText(model, i)];
  (model.threads.get(e.event_id) || []).forEach(function (j) {
    parts.push(nameOf(model, model.evs[j].sender), messageText(model, j));
  });
  return parts.join(' ');
}

// ---------------------------------------------------------------- chat views

// The rows of a room, or of one thread, as a view of the list.
function chatView(room, items, rootId) {
  var model = room.model;
  var messages = 0;
  items.forEach(function (it) {
    if (it.msg) messages++;
  });
  var v = {
    kind: 'chat',
    room: room,
    thread: rootId,
    items: items,
    estimate: 64,
    one: 'message',
    many: 'messages',
    matches: null,
    heights: null,
    search: null,
    messages: messages,
    matched: messages,
    total: function () { return items.length; },
    reversed: function () { return false; },
    renderRow: function (i) { return renderItem(room, items[i], v); },
    idOf: function (i) { return items[i].t ? keyText(model.evs[items[i].i].event_id) : null; },
    rowClass: function (i) { return items[i].t ? (items[i].msg ? 'chat-row' : 'chat-row sys-row') : 'day-row'; },
    find: function (id) {
      var at = model.byId.get(id);
      for (var i = 0; i < items.length; i++) {
        if (items[i].i === at) return i;
      }
      return -1;
    }
  };
  return v;
}

// Keeps the messages that match the search and the dates, each day's
// heading before the first of them.
function filterChat(v) {
  if (!filtering()) {
    v.matches = null;
    v.matched = v.messages;
    return;
  }
  var model = v.room.model;
  var items = v.items;
  if (state.q && !v.search) {
    v.search = new Array(items.length);
    for (var s = 0; s < items.length; s++) v.search[s] = items[s].msg ? norm(searchText(model, items[s].i)) : '';
  }
  var out = [];
  var heading = -1;
  var lastHeading = -1;
  var matched = 0;
  for (var k = 0; k < items.length; k++) {
    var it = items[k];
    if (!it.t) {
      heading = k;
      continue;
    }
    if (!it.msg) continue;
    if (!inDates(it.d)) continue;
    if (state.q && v.search[k].indexOf(state.q) < 0) continue;
    if (heading >= 0 && heading !== lastHeading) {
      out.push(heading);
      lastHeading = heading;
    }
    out.push(k);
    matched++;
  }
  v.matches = out;
  v.matched = matched;
}
