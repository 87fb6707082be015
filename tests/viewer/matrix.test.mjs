// The viewer on an archive of a real Synapse (tests/export/platforms.rs
// exports alice's rooms: a book club with threads, reactions, edits and
// redactions, an encrypted room, direct chats, a room she left, hostile
// formatted_body HTML, bodies and file names), opened from file:// in
// headless Chromium. Every room's timeline is checked against its
// data/room_*_events.json, row by row.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertQuiet,
  axeProblems,
  browserPerTest,
  collectRows,
  dataFiles,
  dataJson,
  domProblems,
  fixtureTests,
  go,
  loadFixtures,
  mediaDir,
  open,
} from './harness.mjs';

const fixtures = loadFixtures();
const withFixture = fixtureTests(test, assert, fixtures);
const browser = browserPerTest(fixtures);

const fmt = (n) => new Intl.NumberFormat('en-US').format(n);
const shownName = (s) => s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\ufffd');

function chatDescriptor(manifest, room) {
  return manifest.descriptors.find((d) => d.container === room && d.view.style === 'chat');
}

function redacted(e, redactions) {
  const u = e.unsigned || {};
  return !!(u.redacted_because || u.redacted_by || e.redacted_because || redactions.has(e.event_id));
}

/**
 * What a room's timeline should be, from its events (as archived: newest
 * first): the rows in order, and per message its reactions, latest edit and
 * thread replies. The Matrix rules, written out again here on purpose.
 */
function expectRoom(events) {
  const ids = new Set(events.map((e) => e.event_id));
  const byId = new Map(events.map((e) => [e.event_id, e]));
  const redactions = new Set(events.filter((e) => e.type === 'm.room.redaction').map((e) => e.redacts || e.content?.redacts));
  const rows = [];
  const reactions = new Map();
  const edits = new Map();
  const threads = new Map();
  for (const e of [...events].reverse()) {
    const c = e.content || {};
    const rel = c['m.relates_to'];
    const target = rel && typeof rel.event_id === 'string' && rel.event_id !== e.event_id && ids.has(rel.event_id) ? rel.event_id : null;
    if (e.type === 'm.reaction') {
      if (target && rel.rel_type === 'm.annotation' && typeof rel.key === 'string') {
        const keys = reactions.get(target) || {};
        keys[rel.key] = (keys[rel.key] || 0) + 1;
        reactions.set(target, keys);
      }
      continue;
    }
    if (e.type === 'm.room.redaction') continue;
    if (target && e.type === 'm.room.message' && rel.rel_type === 'm.replace' && c['m.new_content']) {
      edits.set(target, [...(edits.get(target) || []), e]);
      continue;
    }
    if (target && e.type === 'm.room.message' && rel.rel_type === 'm.thread') {
      threads.set(target, [...(threads.get(target) || []), e]);
      continue;
    }
    rows.push(e);
  }
  const latest = (e) => {
    const mine = (edits.get(e.event_id) || []).filter((x) => x.sender === e.sender && !redacted(x, redactions));
    const last = mine.reduce((a, x) => (!a || x.origin_server_ts >= a.origin_server_ts ? x : a), null);
    if (last) return last.content['m.new_content'];
    const agg = e.unsigned?.['m.relations']?.['m.replace'];
    return agg && agg.sender === e.sender && agg.content?.['m.new_content'] ? agg.content['m.new_content'] : null;
  };
  const isMessage = (e) => ['m.room.message', 'm.room.encrypted', 'm.sticker'].includes(e.type);
  return { rows, reactions, threads, latest, byId, isMessage, redacted: (e) => redacted(e, redactions) };
}

function stripFallback(body) {
  if (!body.startsWith('> ')) return body;
  const lines = body.split('\n');
  let k = 0;
  while (k < lines.length && lines[k].startsWith('>')) k++;
  if (k < lines.length && lines[k] === '') k++;
  return lines.slice(k).join('\n');
}

// One row of a room as the page shows it.
function chatRows() {
  return [...document.querySelectorAll('#list article[data-id]')].map((a) => {
    const msg = a.querySelector(':scope > .msg');
    const body = msg && msg.querySelector(':scope > .body');
    const link = a.querySelector('.thread-link');
    const reply = a.querySelector(':scope > .msg > a.reply');
    return {
      id: a.dataset.id,
      pos: +a.getAttribute('aria-posinset'),
      kind: !msg ? 'state' : msg.classList.contains('encrypted') ? 'encrypted' : msg.classList.contains('deleted') ? 'deleted' : 'message',
      text: body && body.querySelector(':scope > .text') ? body.querySelector(':scope > .text').textContent : null,
      edited: !!a.querySelector('details.edited'),
      reactions: Object.fromEntries([...a.querySelectorAll('.reaction')].map((r) => [r.dataset.key, +r.dataset.count])),
      thread: link ? +link.dataset.count : 0,
      reply: reply ? decodeURIComponent(reply.getAttribute('href').split('/').pop()) : null,
    };
  });
}

withFixture('matrix', 'matrix: the rooms are the manifest\'s containers, with their badges and counts', async (fixture) => {
  const m = dataJson(fixture, 'manifest');
  const { page, seen } = await open(browser.context, fixture);
  assert.equal(await page.textContent('#status'), `${m.containers.length} rooms`);
  const cards = await page.$$eval('#about .room-card', (cs) => cs.map((c) => ({
    title: c.querySelector('h3').textContent,
    href: c.querySelector('h3 a').getAttribute('href'),
    badges: [...c.querySelectorAll('.badge')].map((b) => b.textContent),
    note: c.querySelector('.note').textContent,
  })));
  const nav = await page.$$eval('#rooms a', (as) => as.map((a) => a.querySelector('.room-title').textContent));
  assert.deepEqual(nav, m.containers.map((c) => c.title));
  assert.equal(cards.length, m.containers.length);
  for (const [i, c] of m.containers.entries()) {
    const card = cards[i];
    assert.equal(card.title, c.title);
    assert.equal(card.href, `#/rooms/${c.name}`);
    const f = c.facts;
    assert.equal(card.badges.some((b) => b.startsWith('Direct chat')), f.direct === true, `${c.title}: direct`);
    assert.equal(card.badges.includes('Left'), f.membership === 'leave', `${c.title}: left`);
    assert.equal(card.badges.includes('Encrypted'), f.encrypted === true, `${c.title}: encrypted`);
    assert.equal(card.badges.includes('Public'), f.public === true, `${c.title}: public`);
    const events = m.counts[chatDescriptor(m, c.name).name].retrieved;
    assert.ok(card.note.startsWith(`${fmt(events)} events`), `${c.title}: ${card.note}`);
  }
  await assertQuiet(assert, seen, page, 'matrix rooms');
  await page.close();
});

withFixture('matrix', 'matrix: every room\'s timeline is its events: order, names, reactions, edits, threads, redactions, encryption', async (fixture) => {
  const m = dataJson(fixture, 'manifest');
  const { page, seen } = await open(browser.context, fixture);
  await page.setViewportSize({ width: 1280, height: 2400 });
  const problems = new Set();
  for (const c of m.containers) {
    const d = chatDescriptor(m, c.name);
    const events = dataJson(fixture, d.name);
    const want = expectRoom(events);
    await go(page, `#/rooms/${c.name}`, `rooms/${c.name}`);
    const messages = want.rows.filter(want.isMessage);
    assert.equal(await page.textContent('#status'), `${fmt(messages.length)} messages`, c.title);
    const seenRows = await collectRows(page, chatRows);
    for (const p of await domProblems(page, mediaDir(fixture), dataFiles(fixture))) problems.add(`${c.name}: ${p}`);
    // The rows, in the room's order, oldest first.
    const order = [...seenRows.values()].sort((a, b) => a.pos - b.pos).map((r) => r.id);
    assert.deepEqual(order, want.rows.map((e) => e.event_id), `${c.title}: the rows`);
    for (const e of want.rows) {
      const row = seenRows.get(e.event_id);
      const what = `${c.title} ${e.event_id}`;
      if (!want.isMessage(e)) {
        assert.equal(row.kind, 'state', what);
        continue;
      }
      const kind = e.type === 'm.room.encrypted' ? 'encrypted' : want.redacted(e) ? 'deleted' : 'message';
      assert.equal(row.kind, kind, what);
      assert.deepEqual(row.reactions, want.reactions.get(e.event_id) || {}, `${what}: reactions`);
      if (kind === 'encrypted') continue;
      assert.equal(row.thread, (want.threads.get(e.event_id) || []).length, `${what}: thread replies`);
      if (kind === 'deleted') continue;
      const now = want.latest(e);
      assert.equal(row.edited, !!now, `${what}: edited`);
      const content = now || e.content;
      const replyTo = e.content['m.relates_to']?.['m.in_reply_to']?.event_id;
      if (['m.text', 'm.notice'].includes(content.msgtype) && !content.formatted_body && content.body) {
        assert.equal(row.text, replyTo ? stripFallback(content.body) : content.body, `${what}: the text`);
      }
      // A reply to a message the room does not hold says so, without a link.
      assert.equal(row.reply, replyTo && want.byId.has(replyTo) ? replyTo : null, `${what}: the reply`);
    }
    // The header says what the manifest counted apart.
    const mark = m.marked?.[d.name];
    const marked = await page.$eval('#context', (h) => h.querySelector('.marked')?.textContent ?? null);
    if (mark) assert.ok(marked.startsWith(`${fmt(mark.records)} events ${mark.says}`), `${c.title}: ${marked}`);
    else assert.equal(marked, null);
  }
  assert.deepEqual([...problems], []);
  await assertQuiet(assert, seen, page, 'matrix timelines');
  await page.close();
});

withFixture('matrix', 'matrix: display names come from the room\'s state, user ids otherwise, as text', async (fixture) => {
  const m = dataJson(fixture, 'manifest');
  const c = m.containers.find((x) => !x.facts.encrypted && !x.facts.direct && x.facts.membership === 'join');
  const state = dataJson(fixture, m.descriptors.find((d) => d.container === c.name && d.view.style !== 'chat').name);
  const names = new Map(state.filter((e) => e.type === 'm.room.member' && e.content.displayname).map((e) => [e.state_key, e.content.displayname]));
  const { page, seen } = await open(browser.context, fixture, `#/rooms/${c.name}`);
  await page.waitForSelector(`html[data-keepsake-view="rooms/${c.name}"]`);
  const events = dataJson(fixture, chatDescriptor(m, c.name).name);
  const shown = await page.$$eval('#list article[data-id] .msg-head', (hs) => hs.map((h) => ({
    id: h.closest('article').dataset.id,
    who: h.querySelector('.who').textContent,
    uid: h.querySelector('.uid')?.textContent ?? null,
  })));
  assert.ok(shown.length > 5);
  const byId = new Map(events.map((e) => [e.event_id, e]));
  for (const s of shown) {
    const sender = byId.get(s.id).sender;
    assert.equal(s.who, names.get(sender) || sender, s.id);
  }
  await assertQuiet(assert, seen, page, 'matrix names');
  await page.close();
});

withFixture('matrix', 'matrix: a thread opens from its root, with its replies in order, and leads back', async (fixture) => {
  const m = dataJson(fixture, 'manifest');
  const { page, seen } = await open(browser.context, fixture);
  let opened = 0;
  for (const c of m.containers) {
    const want = expectRoom(dataJson(fixture, chatDescriptor(m, c.name).name));
    const [root, replies] = [...want.threads.entries()].sort((a, b) => b[1].length - a[1].length)[0] || [];
    if (!root) continue;
    await go(page, `#/rooms/${c.name}/event/${encodeURIComponent(root)}`, `rooms/${c.name}/event/${root}`);
    const link = `#list article[data-id="${root}"] .thread-link`;
    assert.equal(await page.textContent(link), `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'} in the thread`);
    await page.click(link);
    await page.waitForSelector(`html[data-keepsake-view="rooms/${c.name}/thread/${root}"]`);
    const rows = await page.$$eval('#list article[data-id]', (as) => as.map((a) => a.dataset.id));
    assert.deepEqual(rows, [root, ...replies.map((e) => e.event_id)], `${c.title}: the thread`);
    assert.equal(await page.textContent('#status'), `${fmt(replies.length + 1)} messages`);
    await page.click('#context .room-nav a');
    await page.waitForSelector(`html[data-keepsake-view="rooms/${c.name}"]`);
    opened++;
  }
  assert.ok(opened > 0, 'some room has a thread');
  await assertQuiet(assert, seen, page, 'matrix threads');
  await page.close();
});

withFixture('matrix', 'matrix: a reply quotes its parent, and the quote leads to it', async (fixture) => {
  const m = dataJson(fixture, 'manifest');
  const c = m.containers[0];
  const want = expectRoom(dataJson(fixture, chatDescriptor(m, c.name).name));
  const replies = want.rows.filter((e) => {
    const to = e.content?.['m.relates_to']?.['m.in_reply_to']?.event_id;
    return to && want.rows.some((x) => x.event_id === to) && !want.redacted(e);
  });
  assert.ok(replies.length > 0, 'the room has replies');
  const { page, seen } = await open(browser.context, fixture);
  for (const e of [replies[0], replies[Math.floor(replies.length / 2)], replies.at(-1)]) {
    const parent = want.byId.get(e.content['m.relates_to']['m.in_reply_to'].event_id);
    await go(page, `#/rooms/${c.name}/event/${encodeURIComponent(e.event_id)}`, `rooms/${c.name}/event/${e.event_id}`);
    const quote = `#list article[data-id="${e.event_id}"] a.reply`;
    const text = await page.textContent(`${quote} .snippet`);
    const body = (want.latest(parent) || parent.content).body ?? '';
    if (!want.redacted(parent) && parent.type !== 'm.room.encrypted') assert.ok(stripFallback(body).replace(/\s+/g, ' ').trim().startsWith(text.replace(/\u2026$/, '')), `${text} quotes ${body}`);
    await page.click(quote);
    await page.waitForSelector(`html[data-keepsake-view="rooms/${c.name}/event/${parent.event_id}"]`);
    assert.equal(await page.evaluate(() => document.activeElement.dataset.id), parent.event_id, 'the parent has the focus');
  }
  await assertQuiet(assert, seen, page, 'matrix replies');
  await page.close();
});

withFixture('matrix', 'matrix: images are inline only when safe and archived; files are links with their names made plain', async (fixture) => {
  const m = dataJson(fixture, 'manifest');
  const files = new Map(dataJson(fixture, 'files').map((f) => [f.key, f]));
  const { page, seen } = await open(browser.context, fixture);
  let checked = 0;
  for (const c of m.containers) {
    for (const e of dataJson(fixture, chatDescriptor(m, c.name).name)) {
      const content = e.content || {};
      if (!['m.image', 'm.file', 'm.audio', 'm.video'].includes(content.msgtype)) continue;
      await go(page, `#/rooms/${c.name}/event/${encodeURIComponent(e.event_id)}`, `rooms/${c.name}/event/${e.event_id}`);
      const row = await page.$eval(`#list article[data-id="${e.event_id}"]`, (a) => ({
        img: a.querySelector('img') ? decodeURIComponent(a.querySelector('img').getAttribute('src')) : null,
        link: a.querySelector('.file a') ? [decodeURIComponent(a.querySelector('.file a').getAttribute('href')), a.querySelector('.file a').textContent] : null,
      }));
      const f = files.get(content.url.replace('mxc://', ''));
      assert.ok(f, `${content.url} is in files.json`);
      const name = shownName(content.filename || content.body);
      if (['image/png', 'image/jpeg', 'image/gif', 'image/webp'].includes(f.content_type)) {
        assert.equal(row.img, f.archive_path, `${name} is inline`);
      } else {
        assert.equal(row.img, null, `${name} (${f.content_type}) is not inline`);
        assert.deepEqual(row.link, [f.archive_path, name], `${name} is a link`);
      }
      checked++;
    }
  }
  assert.ok(checked >= 5, `${checked} files`);
  await assertQuiet(assert, seen, page, 'matrix files');
  await page.close();
});

withFixture('matrix', 'matrix: hostile HTML, bodies and names are text or nothing; nothing runs or loads', async (fixture) => {
  const m = dataJson(fixture, 'manifest');
  const { page, seen } = await open(browser.context, fixture);
  let hostile = 0;
  for (const c of m.containers) {
    for (const e of dataJson(fixture, chatDescriptor(m, c.name).name)) {
      const html = e.content?.formatted_body;
      if (typeof html !== 'string' || !/<script|onerror|javascript:/i.test(html)) continue;
      await go(page, `#/rooms/${c.name}/event/${encodeURIComponent(e.event_id)}`, `rooms/${c.name}/event/${e.event_id}`);
      const row = await page.$eval(`#list article[data-id="${e.event_id}"]`, (a) => ({
        elements: [...a.querySelectorAll('.rich *')].map((x) => x.localName),
        links: a.querySelectorAll('.rich a').length,
        text: a.querySelector('.rich').textContent,
      }));
      for (const bad of ['script', 'img', 'iframe', 'a', 'style']) assert.ok(!row.elements.includes(bad), `<${bad}> in ${e.event_id}`);
      assert.match(row.text, /code in the original were removed|code in the original was removed/);
      assert.ok(!row.text.includes('alert('), 'the script is not shown as text either');
      for (const p of await domProblems(page, mediaDir(fixture), dataFiles(fixture))) assert.fail(`${e.event_id}: ${p}`);
      hostile++;
    }
  }
  assert.ok(hostile > 0, 'the seed has hostile formatted bodies');
  await assertQuiet(assert, seen, page, 'matrix hostile');
  await page.close();
});

withFixture('matrix', 'matrix: search and dates narrow a room\'s messages', async (fixture) => {
  const m = dataJson(fixture, 'manifest');
  const c = m.containers[0];
  const want = expectRoom(dataJson(fixture, chatDescriptor(m, c.name).name));
  const messages = want.rows.filter((e) => e.type === 'm.room.message' && !want.redacted(e));
  const { page, seen } = await open(browser.context, fixture, `#/rooms/${c.name}`);
  await page.waitForSelector(`html[data-keepsake-view="rooms/${c.name}"]`);
  const total = want.rows.filter(want.isMessage).length;
  // "(#123)": every seeded message has its number.
  const numbered = messages.filter((e) => /\(#\d+\)$/.test(e.content.body || '') && !want.latest(e)).slice(0, 200);
  for (const e of [numbered[3], numbered[90], numbered.at(-1)]) {
    const q = e.content.body.match(/\(#\d+\)$/)[0];
    const matching = messages.filter((x) => ((want.latest(x) || x.content).body || '').includes(q) ||
      (want.threads.get(x.event_id) || []).some((r) => (r.content.body || '').includes(q)));
    await page.fill('#q', q);
    await page.waitForFunction((s) => document.getElementById('status').textContent === s, `${fmt(matching.length)} of ${fmt(total)} messages matching \u201c${q}\u201d`);
    assert.ok(await page.$(`#list article[data-id="${e.event_id}"]`), `${q} is shown`);
  }
  await page.fill('#q', '');
  const day = new Date(messages[Math.floor(messages.length / 2)].origin_server_ts).toISOString().slice(0, 10);
  const onDay = want.rows.filter((e) => want.isMessage(e) && new Date(e.origin_server_ts).toISOString().slice(0, 10) === day);
  await page.fill('#from', day);
  await page.fill('#to', day);
  await page.waitForFunction((s) => document.getElementById('status').textContent.startsWith(s), `${fmt(onDay.length)} of ${fmt(total)} messages dated`);
  const rows = await page.$$eval('#list article[data-id]', (as) => as.map((a) => a.dataset.id));
  assert.deepEqual(rows, onDay.map((e) => e.event_id));
  await assertQuiet(assert, seen, page, 'matrix search');
  await page.close();
});

withFixture('matrix', 'matrix: About lists the connector, the rooms, what was counted apart and the files; the account data is readable', async (fixture) => {
  const m = dataJson(fixture, 'manifest');
  const { page, seen } = await open(browser.context, fixture, '#/about');
  const about = await page.textContent('#about');
  assert.match(about, /Read through\s*Matrix \(client-server v3\), connector \u201cmatrix\u201d/);
  assert.ok(about.includes('This platform keeps no record of exports'));
  const rooms = await page.$$eval('#about table', (ts) => ts[0].querySelectorAll('tbody tr').length);
  assert.equal(rooms, m.containers.length);
  for (const [name, mark] of Object.entries(m.marked || {})) {
    assert.ok(about.includes(`${fmt(mark.records)} records ${mark.says}`), `${name} is counted apart`);
  }
  assert.match(about, new RegExp(`In the archive\\s*${m.files.archived}`));
  await go(page, '#/account_data', 'account_data');
  assert.equal(await page.$$eval('#list article', (as) => as.length), 1);
  assert.match(await page.textContent('#list article'), /m\.direct/);
  await assertQuiet(assert, seen, page, 'matrix about');
  await page.close();
});

withFixture('matrix', 'matrix: axe-core finds no serious or critical problem in the rooms, a room, a thread and the state, in both themes', async (fixture) => {
  const m = dataJson(fixture, 'manifest');
  const c = m.containers[0];
  const want = expectRoom(dataJson(fixture, chatDescriptor(m, c.name).name));
  const root = [...want.threads.keys()][0];
  const state = m.descriptors.find((d) => d.container === c.name && d.view.style !== 'chat').name;
  const { page, seen } = await open(browser.context, fixture);
  const found = [...(await axeProblems(page, 'rooms'))];
  for (const [hash, view] of [
    [`#/rooms/${c.name}`, `rooms/${c.name}`],
    [`#/rooms/${c.name}/thread/${encodeURIComponent(root)}`, `rooms/${c.name}/thread/${root}`],
    [`#/rooms/${c.name}/${state}`, `rooms/${c.name}/${state}`],
    ['#/account_data', 'account_data'],
  ]) {
    await go(page, hash, view);
    found.push(...(await axeProblems(page, view)));
  }
  assert.deepEqual(found, []);
  await assertQuiet(assert, seen, page, 'matrix axe');
  await page.close();
});

withFixture('matrix', 'matrix: the profile\'s avatar, a file with no type, is shown as the picture it is', async (fixture) => {
  const profile = dataJson(fixture, 'profile');
  const files = dataJson(fixture, 'files');
  const key = /^mxc:\/\/(.+)$/.exec(profile.avatar_url)[1];
  const file = files.find((f) => f.key === key);
  assert.equal(file.content_type, '', 'Matrix gives an avatar no type');
  const { page, seen } = await open(browser.context, fixture);
  await page.waitForFunction(() => {
    const img = document.querySelector('#avatar img');
    return img && img.complete && img.naturalWidth > 0;
  });
  assert.equal(await page.$eval('#avatar img', (i) => i.getAttribute('src')), file.archive_path.split('/').map(encodeURIComponent).join('/'));
  await assertQuiet(assert, seen, page, 'matrix avatar');
  await page.close();
});
