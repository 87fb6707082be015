// ---------------------------------------------------------------- windowed list
//
// Only the rows near the viewport exist in the DOM. Row heights are
// measured once rendered and kept in a Fenwick tree, so that the offset of
// any row and the row at any offset are O(log n) for 100,000 rows.
//
// The list shows a "view": an object with
//   total()          how many rows it has without filters;
//   matches          null, or the row indices that pass the filters, in order;
//   reversed()       whether, unfiltered, row 0 is the last index;
//   renderRow(i)     the content of row i (an element);
//   idOf(i)          the record key of row i (data-id), or null;
//   rowClass(i)      an extra class for the row, or '';
//   estimate         a first guess of a row's height;
//   heights          measured heights by index (made here).

var list = {
  el: null,
  view: null,
  n: 0,
  h: null, // heights by position
  tree: null,
  rows: new Map(), // position -> element
  pending: false,
  observer: null,
  firstRows: false,
  mark: null // a performance mark to set once the next rows are in
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

function shown(v) {
  return v.matches ? v.matches.length : v.total();
}

function viewIndex(v, pos, n) {
  if (v.matches) return v.matches[pos];
  return v.reversed() ? n - 1 - pos : pos;
}

function indexAt(pos) {
  return viewIndex(list.view, pos, list.n);
}

// The position of index `i` in the list as shown, or -1.
function positionOf(v, i) {
  if (v.matches) return v.matches.indexOf(i);
  var n = v.total();
  if (i < 0 || i >= n) return -1;
  return v.reversed() ? n - 1 - i : i;
}

function setHeight(pos, px) {
  var old = list.h[pos];
  if (px <= 0 || Math.abs(old - px) < 0.5) return 0;
  list.h[pos] = px;
  list.view.heights[indexAt(pos)] = px;
  treeAdd(pos, px - old);
  return px - old;
}

function clearList() {
  list.rows.forEach(function (row) {
    if (list.observer) list.observer.unobserve(row);
  });
  list.rows.clear();
  while (list.el.firstChild) list.el.removeChild(list.el.firstChild);
}

function resetList(v) {
  clearList();
  list.view = v;
  list.n = shown(v);
  var total = v.total();
  if (!v.heights || v.heights.length !== total) v.heights = new Float32Array(total);
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

// Nothing to show yet (a view still loading).
function emptyList() {
  list.view = null;
  clearList();
  list.el.style.height = '0px';
  list.el.setAttribute('aria-busy', 'true');
}

function makeRow(pos) {
  var v = list.view;
  var i = indexAt(pos);
  var extra = v.rowClass ? v.rowClass(i) : '';
  var row = el('article', extra ? 'row ' + extra : 'row');
  row.tabIndex = 0;
  row.setAttribute('aria-posinset', String(pos + 1));
  row.setAttribute('aria-setsize', String(list.n));
  row.dataset.pos = String(pos);
  var id = v.idOf(i);
  if (id !== null) row.dataset.id = id;
  row.appendChild(v.renderRow(i));
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
  if (list.rows.size && window.performance && performance.mark) {
    if (!list.firstRows) {
      list.firstRows = true;
      performance.mark('keepsake:first-rows');
    }
    if (list.mark) {
      performance.mark(list.mark);
      list.mark = null;
    }
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

function headerHeight() {
  var header = document.querySelector('.top');
  return (header ? header.offsetHeight : 0) + 12;
}

// Moves keyboard focus to the row at `pos`, rendering it first.
function focusRow(pos) {
  if (pos < 0 || pos >= list.n) return;
  var margin = headerHeight();
  var rowTop = listTop() + offsetOf(pos);
  if (rowTop < margin || rowTop + list.h[pos] > window.innerHeight) {
    window.scrollTo(0, window.scrollY + rowTop - margin);
  }
  update();
  var row = list.rows.get(pos);
  if (row) row.focus({ preventScroll: true });
}

// Brings the row at `pos` to the top of the window and focuses it; its
// height may change once rendered, so it is placed again afterwards.
function revealRow(pos) {
  if (pos < 0 || pos >= list.n) return;
  var margin = headerHeight();
  window.scrollTo(0, window.scrollY + listTop() + offsetOf(pos) - margin);
  update();
  window.scrollTo(0, window.scrollY + listTop() + offsetOf(pos) - margin);
  update();
  var row = list.rows.get(pos);
  if (row) {
    row.focus({ preventScroll: true });
    row.classList.add('target');
  }
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
