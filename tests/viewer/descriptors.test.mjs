// What the viewer does with manifests it was not written for: an archive of
// format 1.0 (no descriptors) keeps the sections it always had, and a
// descriptor whose style the viewer does not know is shown as plain
// records. Both are copies of the `unicode` fixture with a rewritten
// data/js/manifest.js (written the way the engine writes it, page.mjs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { assertQuiet, browserPerTest, dataJson, fixtureTests, loadFixtures, open } from './harness.mjs';
import { buildPage, valueFile } from './page.mjs';

const fixtures = loadFixtures();
const withFixture = fixtureTests(test, assert, fixtures);
const browser = browserPerTest(fixtures);

/** A copy of `fixture` whose manifest `edit` changed. */
function withManifest(fixture, edit) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepsake-manifest-'));
  fs.cpSync(fixture.dir, dir, { recursive: true });
  const manifest = dataJson(fixture, 'manifest');
  edit(manifest);
  fs.writeFileSync(path.join(dir, 'data', 'js', 'manifest.js'), valueFile('manifest', manifest));
  fs.writeFileSync(path.join(dir, 'index.html'), buildPage());
  return { name: `${fixture.name}-edited`, dir, index: path.join(dir, 'index.html') };
}

async function tabs(page) {
  return page.$$eval('#tabs a', (as) => as.map((a) => [a.getAttribute('href'), a.firstChild.textContent]));
}

withFixture('unicode', 'an archive of format 1.0, without descriptors, keeps its sections by category name', async (fixture) => {
  const copy = withManifest(fixture, (m) => {
    for (const k of ['descriptors', 'containers', 'files', 'connector', 'marked']) delete m[k];
    m.format_version = '1.0';
  });
  try {
    const { page, seen } = await open(browser.context, copy);
    assert.deepEqual(await tabs(page), [
      ['#/posts', 'Timeline'],
      ['#/comments', 'Comments'],
      ['#/likes', 'Likes'],
      ['#/connections', 'Connections'],
      ['#/media', 'Media'],
      ['#/about', 'About this archive'],
    ]);
    assert.equal(await page.textContent('#status'), `${dataJson(fixture, 'posts').length} posts`);
    // No data/js/files.js is asked for: a 1.0 archive has none.
    assert.deepEqual(await page.$$eval('head script[src]', (s) => s.map((x) => x.getAttribute('src')).filter((x) => x.includes('files'))), []);
    assert.equal(await page.isHidden('#notice'), true);
    await assertQuiet(assert, seen, page, '1.0');
    await page.close();
  } finally {
    fs.rmSync(copy.dir, { recursive: true, force: true });
  }
});

withFixture('unicode', 'a style the viewer does not know shows each record\'s fields as text', async (fixture) => {
  const copy = withManifest(fixture, (m) => {
    const d = m.descriptors.find((x) => x.name === 'comments');
    d.view = { style: 'sparkles', title: '/post_author/login', date: '/created_at' };
    d.label = 'Remarks';
  });
  try {
    const comments = dataJson(fixture, 'comments');
    const { page, seen } = await open(browser.context, copy, '#/comments');
    await page.waitForSelector('html[data-keepsake-view="comments"]');
    assert.ok((await tabs(page)).some(([href, label]) => href === '#/comments' && label === 'Remarks'));
    assert.equal(await page.textContent('#status'), `${comments.length} remarks`);
    const first = comments.at(-1); // newest first
    const row = await page.$eval('#list article', (a) => ({
      who: a.querySelector('.item-head .who').textContent,
      fields: [...a.querySelectorAll('.fields dt')].map((d) => [d.textContent, d.nextElementSibling.textContent]),
    }));
    assert.equal(row.who, first.post_author?.login ?? String(first.id));
    assert.deepEqual(row.fields.find(([k]) => k === 'body'), ['body', first.body]);
    await assertQuiet(assert, seen, page, 'unknown style');
    await page.close();
  } finally {
    fs.rmSync(copy.dir, { recursive: true, force: true });
  }
});

withFixture('unicode', 'a date range is said to be UTC only when its bounds carry a zone', async (fixture) => {
  const cases = [
    // WordPress compares the site's own wall-clock time: no zone.
    [{ since: '2020-03-01T00:00:00', until: '2021-06-30T12:00:00' }, /from .*2020.* until .*2021.* \(the platform\u2019s own time\)\./],
    [{ since: '2020-03-01T00:00:00Z', until: null }, /since .*2020.* \(UTC\)/],
  ];
  for (const [filters, says] of cases) {
    const copy = withManifest(fixture, (m) => {
      m.filters = filters;
    });
    try {
      const { page, seen } = await open(browser.context, copy, '#/about');
      const note = await page.textContent('#range-note');
      assert.match(note, says, JSON.stringify(filters));
      await assertQuiet(assert, seen, page, 'range');
      await page.close();
    } finally {
      fs.rmSync(copy.dir, { recursive: true, force: true });
    }
  }
});
