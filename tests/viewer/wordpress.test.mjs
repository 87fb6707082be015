// The viewer on an archive of a real WordPress (tests/export/platforms.rs
// exports the seeded site, with its hostile posts and comments: <script>,
// <img onerror>, javascript: links, iframes, RTL overrides), opened from
// file:// in headless Chromium. Sections come from the manifest's
// descriptors; bodies are WordPress's rendered HTML through the viewer's
// whitelist.

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
  scrollThrough,
} from './harness.mjs';

const fixtures = loadFixtures();
const withFixture = fixtureTests(test, assert, fixtures);
const browser = browserPerTest(fixtures);

const fmt = (n) => new Intl.NumberFormat('en-US').format(n);

// What a reader of the site reads in a piece of its HTML: the text without
// the elements the viewer drops with their content, entities decoded,
// spacing collapsed. (Good enough for the seeded site; not a parser.)
function textOf(html) {
  return html
    .replace(/<(script|style|iframe|textarea|select|button|svg|math|video|audio|object)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(+d))
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&(amp|lt|gt|quot|apos|nbsp);/g, (_, e) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' })[e])
    .replace(/\s+/g, ' ')
    .trim();
}

function spread(list, n) {
  if (list.length <= n) return list;
  return Array.from({ length: n }, (_, i) => list[Math.floor((i * list.length) / n)]);
}

// The records of every kind of body the seed makes (one of each), and a
// spread of the rest.
function sample(list, n) {
  const kinds = new Map();
  for (const r of list) {
    const key = String(r.content?.rendered ?? '').replace(/\d+/g, 'N').slice(0, 120);
    if (!kinds.has(key)) kinds.set(key, r);
  }
  return [...new Set([...kinds.values(), ...spread(list, n)])];
}

// What the viewer made of one entry: its title, status, date, the elements
// and attributes in its body, and the body's text without the viewer's own
// notes (addresses of links, removed code, missing images).
function entryRow() {
  return (id) => {
    const row = document.querySelector(`#list article[data-id="${id}"]`);
    if (!row) return null;
    const rich = row.querySelector('.rich');
    let text = '';
    if (rich) {
      const walk = document.createTreeWalker(rich, NodeFilter.SHOW_TEXT, {
        acceptNode: (n) => (n.parentElement.closest('.url, .removed, .image-alt') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
      });
      for (let n = walk.nextNode(); n; n = walk.nextNode()) text += n.data + ' ';
    }
    const inside = rich ? [...rich.querySelectorAll('*')] : [];
    return {
      title: row.querySelector('.entry-title')?.textContent ?? null,
      tag: row.querySelector('.item-head .tag')?.textContent ?? null,
      time: row.querySelector('.item-head time')?.getAttribute('datetime') ?? null,
      context: row.querySelector('.context a')?.getAttribute('href') ?? row.querySelector('.context')?.textContent ?? null,
      tags: [...new Set(inside.map((e) => e.localName))],
      attrs: [...new Set(inside.flatMap((e) => [...e.attributes].map((a) => a.name)))],
      text: text.replace(/\s+/g, ' ').trim(),
      removed: [...row.querySelectorAll('.removed')].map((e) => e.textContent).join(' '),
      focused: document.activeElement === row,
    };
  };
}

const ALLOWED_TAGS = new Set(['p', 'br', 'hr', 'div', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'code', 'kbd', 'samp', 'ul', 'ol', 'li', 'dl', 'dt', 'dd',
  'strong', 'b', 'em', 'i', 'u', 's', 'del', 'ins', 'sub', 'sup', 'mark', 'small', 'q', 'cite', 'abbr', 'table', 'caption', 'thead', 'tbody', 'tfoot',
  'tr', 'th', 'td', 'span', 'img']);
const ALLOWED_ATTRS = new Set(['dir', 'lang', 'start', 'colspan', 'rowspan', 'class', 'title', 'alt', 'src', 'loading', 'decoding']);

withFixture('wordpress', 'wordpress: the sections are the descriptors, in a reader\'s order, with the records of data/*.json', async (fixture) => {
  const manifest = dataJson(fixture, 'manifest');
  const { page, seen } = await open(browser.context, fixture);
  const tabs = await page.$$eval('#tabs a', (as) => as.map((a) => ({
    href: a.getAttribute('href'),
    label: a.firstChild.textContent,
    count: a.querySelector('.count')?.textContent ?? null,
  })));
  const expected = manifest.descriptors
    .filter((d) => d.view.style !== 'profile')
    .map((d) => ({ href: `#/${d.name}`, label: d.label, count: fmt(dataJson(fixture, d.name).length) }));
  assert.deepEqual(
    tabs.filter((t) => t.href !== '#/about').sort((a, b) => a.href.localeCompare(b.href)),
    expected.sort((a, b) => a.href.localeCompare(b.href)),
  );
  assert.deepEqual(tabs.map((t) => t.href).slice(0, 3), ['#/posts', '#/pages', '#/comments'], 'posts first, then pages and comments');
  assert.equal(tabs.at(-1).href, '#/about');
  assert.equal(await page.textContent('#status'), `${fmt(dataJson(fixture, 'posts').length)} posts`);
  // The profile card reads WordPress's user.
  const profile = dataJson(fixture, 'profile');
  assert.equal(await page.textContent('#profile-name'), profile.name);
  assert.equal(await page.textContent('#profile-login'), `@${manifest.subject.login}`);
  await assertQuiet(assert, seen, page, 'wordpress');
  await page.close();
});

withFixture('wordpress', 'wordpress: posts, pages and revisions show title, date, status and only the whitelisted markup', async (fixture) => {
  const { page, seen } = await open(browser.context, fixture);
  for (const cat of ['posts', 'pages', 'revisions']) {
    const recs = dataJson(fixture, cat);
    for (const r of sample(recs, cat === 'posts' ? 24 : 8)) {
      await go(page, `#/${cat}/${r.id}`, `${cat}/${r.id}`);
      const row = await page.evaluate(entryRow(), r.id);
      assert.ok(row, `${cat} ${r.id} is rendered`);
      assert.ok(row.focused, `${cat} ${r.id} has the focus`);
      assert.equal(row.title, textOf(r.title.rendered), `${cat} ${r.id}: title`);
      if (r.status) assert.equal(row.tag, r.status, `${cat} ${r.id}: status`);
      assert.equal(row.time, r.date, `${cat} ${r.id}: date`);
      assert.equal(row.text, textOf(r.content.rendered), `${cat} ${r.id}: the body's text`);
      for (const t of row.tags) assert.ok(ALLOWED_TAGS.has(t), `${cat} ${r.id}: <${t}> in the body`);
      for (const a of row.attrs) assert.ok(ALLOWED_ATTRS.has(a), `${cat} ${r.id}: ${a}= in the body`);
      const code = /<script|\son\w+=|javascript:/i.test(r.content.rendered);
      assert.equal(/code in the original/.test(row.removed), code, `${cat} ${r.id}: says when code was removed`);
      if (cat === 'revisions') assert.match(row.context ?? '', /^#\/(posts|pages)\/\d+$/, `revision ${r.id} links to its post`);
    }
  }
  await assertQuiet(assert, seen, page, 'wordpress entries');
  await page.close();
});

withFixture('wordpress', 'wordpress: comments say which post they are on, and the link leads there', async (fixture) => {
  const posts = new Map(dataJson(fixture, 'posts').map((p) => [p.id, p]));
  const pages = new Map(dataJson(fixture, 'pages').map((p) => [p.id, p]));
  const comments = dataJson(fixture, 'comments');
  const { page, seen } = await open(browser.context, fixture);
  let followed = false;
  for (const c of sample(comments, 30)) {
    await go(page, `#/comments/${c.id}`, `comments/${c.id}`);
    const row = await page.evaluate(entryRow(), c.id);
    assert.equal(row.tag, c.status);
    assert.equal(row.text, textOf(c.content.rendered), `comment ${c.id}: the body's text`);
    const on = posts.has(c.post) ? `#/posts/${c.post}` : pages.has(c.post) ? `#/pages/${c.post}` : null;
    if (on) assert.equal(row.context, on, `comment ${c.id} is on ${on}`);
    else assert.match(row.context, new RegExp(`#${c.post}, which is not in this archive`), `comment ${c.id}`);
    if (on && !followed) {
      const title = textOf((posts.get(c.post) || pages.get(c.post)).title.rendered);
      assert.equal(await page.textContent(`#list article[data-id="${c.id}"] .context a`), `\u201c${title}\u201d`);
      await page.click(`#list article[data-id="${c.id}"] .context a`);
      await page.waitForSelector(`html[data-keepsake-view="${on.slice(2)}"]`);
      assert.ok(await page.evaluate((id) => document.activeElement.dataset.id === String(id), c.post), 'the post has the focus');
      followed = true;
      await go(page, '#/comments', 'comments');
    }
  }
  assert.ok(followed);
  await assertQuiet(assert, seen, page, 'wordpress comments');
  await page.close();
});

withFixture('wordpress', 'wordpress: media are images when they are safe images in the archive, links otherwise', async (fixture) => {
  const media = dataJson(fixture, 'media');
  const files = new Map(dataJson(fixture, 'files').map((f) => [f.key, f]));
  const { page, seen } = await open(browser.context, fixture, '#/media');
  await page.waitForSelector('html[data-keepsake-view="media"]');
  const rows = await collectRows(page, () =>
    [...document.querySelectorAll('#list article[data-id]')].map((a) => ({
      id: a.dataset.id,
      img: a.querySelector('img') ? [decodeURIComponent(a.querySelector('img').getAttribute('src')), a.querySelector('img').alt] : null,
      link: a.querySelector('.file a') ? [decodeURIComponent(a.querySelector('.file a').getAttribute('href')), a.querySelector('.file a').textContent] : null,
    })),
  );
  assert.equal(rows.size, media.length);
  for (const m of media) {
    const f = files.get(String(m.id));
    const row = rows.get(String(m.id));
    assert.ok(f && row, `media ${m.id}`);
    if (['image/png', 'image/jpeg', 'image/gif', 'image/webp'].includes(f.content_type)) {
      assert.deepEqual(row.img, [f.archive_path, m.alt_text || f.name], `${f.name} is an inline image`);
    } else {
      assert.equal(row.img, null, `${f.name} (${f.content_type}) is not inline`);
      // Bidi and control characters in a name are shown for what they are.
      const shown = f.name.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\ufffd');
      assert.deepEqual(row.link, [f.archive_path, shown], `${f.name} is a link to the file`);
    }
  }
  await assertQuiet(assert, seen, page, 'wordpress media');
  await page.close();
});

withFixture('wordpress', 'wordpress: search finds posts by their title and text, the dates narrow every section', async (fixture) => {
  const posts = dataJson(fixture, 'posts');
  const { page, seen } = await open(browser.context, fixture, '#/posts');
  await page.waitForSelector('html[data-keepsake-view="posts"]');
  // A word only one post's title has.
  const titles = posts.map((p) => textOf(p.title.rendered).toLowerCase());
  const picked = spread(posts, 40).filter((p) => {
    const t = textOf(p.title.rendered).toLowerCase();
    return titles.filter((x) => x.includes(t)).length === 1 && posts.filter((q) => textOf(q.content.rendered).toLowerCase().includes(t)).length <= 1;
  }).slice(0, 6);
  assert.ok(picked.length > 0, 'some post has a title of its own');
  for (const p of picked) {
    const q = textOf(p.title.rendered);
    await page.fill('#q', q);
    await page.waitForFunction((s) => document.getElementById('status').textContent === s, `1 of ${fmt(posts.length)} posts matching \u201c${q}\u201d`);
    assert.ok(await page.$(`#list article[data-id="${p.id}"]`), `post ${p.id} is the match`);
  }
  await page.fill('#q', '');
  const day = posts[Math.floor(posts.length / 3)].date.slice(0, 10);
  const expected = posts.filter((p) => p.date.slice(0, 10) === day).length;
  await page.fill('#from', day);
  await page.fill('#to', day);
  await page.waitForFunction((s) => document.getElementById('status').textContent.startsWith(s), `${fmt(expected)} of`);
  const days = await page.$$eval('#list article .item-head time', (ts) => ts.map((t) => t.getAttribute('datetime').slice(0, 10)));
  assert.ok(days.length > 0 && days.every((d) => d === day), `${days}`);
  // The same range applies to comments.
  await go(page, '#/comments', 'comments');
  const comments = dataJson(fixture, 'comments').filter((c) => c.date.slice(0, 10) === day).length;
  assert.match(await page.textContent('#status'), new RegExp(`^${fmt(comments)} of`));
  await assertQuiet(assert, seen, page, 'wordpress search');
  await page.close();
});

withFixture('wordpress', 'wordpress: nothing from the site runs, loads or becomes markup, in any section', async (fixture) => {
  const { page, seen } = await open(browser.context, fixture);
  const views = await page.$$eval('#tabs a', (links) => links.map((a) => a.getAttribute('href')));
  const problems = new Set();
  for (const view of views) {
    await go(page, view, view.slice(2));
    await scrollThrough(page, async () => {
      for (const p of await domProblems(page, mediaDir(fixture), dataFiles(fixture))) problems.add(`${view}: ${p}`);
      const links = await page.$$eval('#list a[href]', (as) => as.map((a) => a.getAttribute('href')).filter((h) => !h.startsWith('#') && !h.startsWith('data/media/')));
      for (const l of links) problems.add(`${view}: a link made from the site's HTML: ${l}`);
    }, 2000);
  }
  assert.deepEqual([...problems], []);
  // The hostile page's title is text, and its script is gone.
  const hostile = dataJson(fixture, 'pages').find((p) => /<script/.test(p.title.rendered));
  assert.ok(hostile, 'the seed has a page with a script in its title');
  await go(page, `#/pages/${hostile.id}`, `pages/${hostile.id}`);
  const row = await page.evaluate(entryRow(), hostile.id);
  assert.equal(row.title, textOf(hostile.title.rendered));
  assert.ok(!row.tags.includes('script'));
  await assertQuiet(assert, seen, page, 'wordpress hostile');
  await page.close();
});

withFixture('wordpress', 'wordpress: About names the connector, says there is no platform record, and sums up the files', async (fixture) => {
  const manifest = dataJson(fixture, 'manifest');
  const { page, seen } = await open(browser.context, fixture, '#/about');
  const about = await page.textContent('#about');
  assert.match(about, /Read through\s*WordPress \(wp\/v2\), connector \u201cwordpress\u201d/);
  assert.ok(about.includes('This platform keeps no record of exports'), 'the platform_record sentence');
  assert.ok(about.includes('WordPress has no snapshots'), 'the snapshot sentence');
  const files = await page.$$eval('#about dl', (dls) => dls.at(-1).textContent);
  assert.match(files, new RegExp(`In the archive\\s*${manifest.files.archived}`));
  assert.match(files, /Listed in\s*data\/files\.json/);
  // Every category is counted, by its label.
  const rows = await page.$$eval('#about table tbody th', (ths) => ths.map((t) => t.textContent));
  for (const d of manifest.descriptors) assert.ok(rows.includes(d.label), `${d.label} in ${rows}`);
  await assertQuiet(assert, seen, page, 'wordpress about');
  await page.close();
});

withFixture('wordpress', 'wordpress: axe-core finds no serious or critical problem in its sections, in both themes', async (fixture) => {
  const { page, seen } = await open(browser.context, fixture);
  const found = [];
  for (const view of ['posts', 'comments', 'media', 'tags', 'about']) {
    await go(page, `#/${view}`, view);
    found.push(...(await axeProblems(page, view)));
  }
  assert.deepEqual(found, []);
  await assertQuiet(assert, seen, page, 'wordpress axe');
  await page.close();
});
