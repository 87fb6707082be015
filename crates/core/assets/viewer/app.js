// ---------------------------------------------------------------- the page
//
// Sections (tabs) come from the manifest's descriptors; archives of format
// 1.0 and 1.1 without them get the Keepsake Export API's sections by
// category name. Routes: #/SECTION, #/SECTION/KEY (a record), #/rooms,
// #/rooms/ROOM, #/rooms/ROOM/thread/ID, #/rooms/ROOM/event/ID,
// #/rooms/ROOM/CATEGORY, #/about.

// Newest first, like the platforms' own lists (rooms read oldest first).
var state = { view: '', room: null, sub: null, arg: null, target: null, q: '', from: '', to: '', newest: true };

var sections = [];
var sectionById = new Map();
var about = { kind: 'about', id: 'about', label: 'About this archive', present: true, loaded: true, rank: 1000 };

// A category named like one of the viewer's own sections gets another route.
function addSection(v) {
  if (v.kind === 'list' && (v.id === 'rooms' || v.id === 'about' || sectionById.has(v.id))) v.id = v.id + '_records';
  sections.push(v);
  sectionById.set(v.id, v);
}

function validDescriptor(d) {
  return isObject(d) && typeof d.name === 'string' && CATEGORY_NAME.test(d.name);
}

function buildSections(m) {
  var descs = Array.isArray(m.descriptors) ? m.descriptors.filter(validDescriptor) : [];
  var cats = (Array.isArray(m.categories) ? m.categories : []).filter(function (c) {
    return typeof c === 'string' && CATEGORY_NAME.test(c);
  });
  var byViews = descs.length > 0 && descs.every(function (d) { return isObject(d.view) && typeof d.view.style === 'string'; });
  if (byViews) {
    var containers = new Map();
    (Array.isArray(m.containers) ? m.containers : []).forEach(function (c) {
      if (isObject(c) && CATEGORY_NAME.test(str(c.name))) containers.set(c.name, c);
    });
    descs.forEach(function (d) {
      data.expected.set(d.name, d.kind === 'single' ? 'single' : 'list');
      if (d.view.style === 'chat' && containers.has(str(d.container)) && !roomByName.has(d.container)) {
        addRoom(containers.get(d.container), d);
      }
    });
    descs.forEach(function (d, at) {
      var style = d.view.style;
      var room = typeof d.container === 'string' ? roomByName.get(d.container) : null;
      if (room && room.desc === d) return;
      if (style === 'profile' && d.kind === 'single') {
        if (!profileCategory) profileCategory = d.name;
        return;
      }
      var v;
      if (KEEPSAKE_STYLES[style] && d.kind !== 'single') {
        v = keepsakeView(style, d.name, d.order);
      } else {
        // In the connector's order, entries and files first.
        v = descriptorView(d, 100 + at + (style === 'entries' || style === 'files' ? 0 : 100));
      }
      if (room) {
        v.inRoom = room;
        room.others.push(v);
      } else {
        addSection(v);
      }
    });
    if (rooms.length) addSection({ kind: 'rooms', id: 'rooms', label: 'Rooms', present: true, loaded: true, rank: 50 });
  } else {
    // Before descriptors said how to show a category: by name.
    if (cats.indexOf('profile') >= 0) data.expected.set('profile', 'single');
    KEEPSAKE_ORDER.forEach(function (c) {
      if (cats.indexOf(c) < 0) return;
      data.expected.set(c, 'list');
      addSection(keepsakeView(c, c, 'ascending'));
    });
    cats.forEach(function (c) {
      if (c === 'profile' || KEEPSAKE_ORDER.indexOf(c) >= 0) return;
      data.expected.set(c, 'list');
      addSection(descriptorView({ name: c, label: c, kind: 'records', key: '/id', order: 'ascending', view: { style: 'records' } }, 500));
    });
  }
  if (!profileCategory && data.expected.get('profile') === 'single') profileCategory = 'profile';
  if (isObject(m.files)) data.expected.set('files', 'list');
  sections.sort(function (a, b) { return a.rank - b.rank; });
  addSection(about);
  sections.forEach(function (v) { v.present = true; });
}

// ---------------------------------------------------------------- filters

function filtering() {
  return !!(state.q || state.from || state.to);
}

// Whether day `d` ('YYYY-MM-DD', '' when unknown) is within the dates
// chosen; an entry of no known day is not, once any date is.
function inDates(d) {
  if (!state.from && !state.to) return true;
  return !!d && !(state.from && d < state.from) && !(state.to && d > state.to);
}

function applyFilters(v) {
  if (v.kind === 'chat') {
    filterChat(v);
    return;
  }
  if (!filtering()) {
    v.matches = null;
    return;
  }
  var n = v.total();
  // Scanned in display order, so matches are in display order too.
  if (state.q && (!v.search || v.search.length !== n)) {
    v.search = new Array(n);
    for (var i = 0; i < n; i++) v.search[i] = norm(v.textOf(i));
  }
  var out = [];
  var rev = v.reversed();
  for (var k = 0; k < n; k++) {
    var j = rev ? n - 1 - k : k;
    if ((state.from || state.to) && !inDates(v.dayOf(j))) continue;
    if (state.q && v.search[j].indexOf(state.q) < 0) continue;
    out.push(j);
  }
  v.matches = out;
}

// The list the main column shows now, or null (about, rooms overview, loading).
function activeView() {
  var s = sectionById.get(state.view);
  if (!s) return null;
  if (s.kind === 'list') return s.loaded ? s : null;
  if (s.kind === 'rooms') {
    var room = roomByName.get(state.room);
    return room && room.model ? roomSubView(room) : null;
  }
  return null;
}

// ---------------------------------------------------------------- page

function renderTabs() {
  var ul = $('tabs');
  ul.textContent = '';
  sections.forEach(function (v) {
    if (!v.present) return;
    var li = el('li');
    var a = el('a');
    a.href = '#/' + v.id;
    a.appendChild(el('span', null, v.label));
    if (v.kind === 'list') a.appendChild(el('span', 'count', v.loaded ? count(shown(v)) : '\u2026'));
    if (v.kind === 'rooms') a.appendChild(el('span', 'count', count(rooms.length)));
    if (v.id === state.view) a.setAttribute('aria-current', 'page');
    li.appendChild(a);
    ul.appendChild(li);
  });
}

function renderStatus() {
  var s = sectionById.get(state.view);
  var status = $('status');
  var empty = $('empty');
  if (s.kind === 'about' || (s.kind === 'rooms' && !state.room)) {
    status.textContent = s.kind === 'rooms' ? plural(rooms.length, 'room', 'rooms') : '';
    empty.hidden = true;
    return;
  }
  var v = activeView();
  if (!v) {
    status.textContent = 'Loading\u2026';
    empty.hidden = true;
    return;
  }
  var chat = v.kind === 'chat';
  var total = chat ? v.messages : v.total();
  var n = chat ? v.matched : shown(v);
  if (filtering()) {
    var what = [];
    if (state.q) what.push('matching \u201c' + $('q').value.trim() + '\u201d');
    if (state.from || state.to) what.push('dated ' + (state.from || '\u2026') + ' to ' + (state.to || '\u2026'));
    status.textContent = count(n) + ' of ' + plural(total, v.one, v.many) + ' ' + what.join(', ');
  } else {
    status.textContent = plural(total, v.one, v.many);
  }
  empty.hidden = n > 0;
  empty.textContent = total === 0 ? 'There are no ' + v.many + (chat ? ' here.' : ' in this archive.') : 'Nothing matches. Try other words or dates.';
}

// Tells tests (and anyone watching) which view is on screen.
function markView() {
  var path = [state.view, state.room, state.sub, state.arg].filter(function (p) { return p; }).join('/');
  document.documentElement.setAttribute('data-keepsake-view', path);
}

function showView() {
  var s = sectionById.get(state.view);
  var title = $('view-title');
  title.textContent = s.label;
  title.dir = 'auto';
  $('about').hidden = s.kind !== 'about';
  $('context').hidden = true;
  $('order').hidden = s.kind !== 'list' || !s.sortable;
  list.el.hidden = s.kind === 'about';
  $('q').placeholder = s.kind === 'rooms' ? 'Search the messages of a room\u2026' : searchHint;
  renderTabs();
  // The rooms and their counts come with the manifest; only the current
  // room changes, with the route (not with every search keystroke).
  renderRoomsNav();
  if (s.kind === 'about') {
    renderAbout();
    renderStatus();
    markView();
    return;
  }
  if (s.kind === 'rooms') {
    showRoom();
    return;
  }
  showList(s);
}

function showList(v) {
  if (!v.loaded) {
    emptyList();
    renderStatus();
    return;
  }
  applyFilters(v);
  resetList(v);
  renderStatus();
  update();
  reveal(v);
  markView();
}

function showRoom() {
  var room = roomByName.get(state.room);
  if (!room) {
    $('about').hidden = false;
    list.el.hidden = true;
    emptyList();
    renderRoomsOverview();
    renderStatus();
    markView();
    return;
  }
  $('view-title').textContent = room.title;
  if (!room.model) {
    emptyList();
    renderRoomHead(room, null);
    renderStatus();
    loadRoom(room).then(function () {
      if (state.view === 'rooms' && state.room === room.name) showView();
    });
    return;
  }
  eventRoute(room);
  var v = roomSubView(room);
  if (v.inRoom) $('view-title').textContent = room.title + ' \u2014 ' + v.label;
  renderRoomHead(room, v);
  applyFilters(v);
  list.mark = 'keepsake:room-rows';
  resetList(v);
  renderStatus();
  update();
  reveal(v);
  markView();
}

// Brings the record the route names (#/posts/KEY, an event) into view,
// clearing the search and dates if they hide it.
function reveal(v) {
  var key = state.target || (state.sub === 'event' || (v.kind === 'list' && !v.inRoom) ? state.arg : null);
  state.target = null;
  if (!key || !v.find) return;
  var i = v.find(key);
  if (i < 0) return;
  var pos = positionOf(v, i);
  if (pos < 0 && filtering()) {
    clearFilters();
    applyFilters(v);
    resetList(v);
    renderStatus();
    renderTabs();
    pos = positionOf(v, i);
  }
  if (pos >= 0) revealRow(pos);
}

function clearFilters() {
  $('q').value = '';
  $('from').value = '';
  $('to').value = '';
  state.q = state.from = state.to = '';
  $('clear').hidden = true;
}

function refilter() {
  sections.forEach(function (v) {
    if (v.kind === 'list' && v.loaded) applyFilters(v);
  });
  var v = activeView();
  if (v && (v.kind === 'chat' || v.inRoom)) applyFilters(v);
  if (v && !list.el.hidden) {
    resetList(v);
    if (listTop() < 0) window.scrollTo(0, window.scrollY + listTop() - 80);
    update();
  }
  renderTabs();
  renderStatus();
  $('clear').hidden = !filtering();
}

function decode(part) {
  try {
    return decodeURIComponent(part);
  } catch (e) {
    return '';
  }
}

function route() {
  var parts = (location.hash || '').replace(/^#\/?/, '').split('/').map(decode);
  var id = parts[0];
  var first = sections.filter(function (v) { return v.present; })[0];
  var next = { view: id, room: null, sub: null, arg: null };
  if (!sectionById.has(id) || !sectionById.get(id).present) {
    if (sectionById.has(state.view)) return false;
    next.view = first.id;
  } else if (id === 'rooms') {
    next.room = roomByName.has(parts[1]) ? parts[1] : null;
    next.sub = next.room && parts[2] ? parts[2] : null;
    next.arg = next.sub && parts[3] ? parts[3] : null;
  } else {
    next.arg = parts[1] || null;
  }
  var same = next.view === state.view && next.room === state.room && next.sub === state.sub && next.arg === state.arg;
  var s = sectionById.get(next.view);
  if (same && (s.kind !== 'list' || list.view === s)) return false;
  state.view = next.view;
  state.room = next.room;
  state.sub = next.sub;
  state.arg = next.arg;
  showView();
  return true;
}

// ---------------------------------------------------------------- loading

var failed = [];
var loads = new Map();

// Loads data/js/NAME.js (once), from the part that holds it.
function load(name) {
  if (loads.has(name)) return loads.get(name);
  var p = new Promise(function (resolve) {
    if (name !== 'manifest' && !CATEGORY_NAME.test(name)) {
      resolve(false);
      return;
    }
    var s = document.createElement('script');
    var path = 'data/js/' + name + '.js';
    // A split archive may hold a big category's data file in a later part.
    var folder = name === 'manifest' ? null : otherPartFolder(path);
    s.src = (folder ? '../' + encodeURIComponent(folder) + '/' : '') + path;
    // Executed in insertion order, like parser-inserted scripts.
    s.async = false;
    s.onload = function () {
      // What points at records across categories is made again.
      keyIndex = null;
      fileKeyByUrl = null;
      resolve(true);
    };
    s.onerror = function () {
      failed.push(path);
      showNotice();
      resolve(false);
    };
    document.head.appendChild(s);
  });
  loads.set(name, p);
  return p;
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
    clearFilters();
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

var searchHint = '';

function start() {
  list.el = $('list');
  searchHint = $('q').placeholder;
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
    buildSections(m);
    var lists = sections.filter(function (v) { return v.kind === 'list'; });
    if (!lists.some(function (v) { return KEEPSAKE_STYLES[v.style]; })) {
      var words = lists.slice(0, 3).map(function (v) { return v.many; });
      if (words.length) searchHint = 'Search ' + words.join(', ') + '\u2026';
    }
    indexParts();
    setDateBounds();
    renderProfile();
    showNotice();
    // The sidebar, the files and the first section first; the rest after;
    // a room when it is opened.
    var firstWave = [profileCategory, data.expected.has('files') ? 'files' : null].concat(lists.filter(function (v) {
      return v.style === 'media' || v.style === 'files' || v === lists[0];
    }).map(function (v) { return v.cat; })).filter(Boolean);
    Promise.all(firstWave.map(load)).then(function () {
      lists.forEach(function (v) {
        if (firstWave.indexOf(v.cat) >= 0) v.loaded = true;
      });
      indexMedia();
      indexFiles();
      renderProfile();
      showNotice();
      enableControls();
      if (!route()) showView();
      var rest = lists.filter(function (v) { return firstWave.indexOf(v.cat) < 0; });
      return Promise.all(rest.map(function (v) {
        return load(v.cat).then(function () {
          v.loaded = true;
          if (filtering()) applyFilters(v);
          if (state.view === v.id) showView();
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
