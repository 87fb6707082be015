// ---------------------------------------------------------------- platform HTML
//
// WordPress keeps a post as the HTML its site rendered (content.rendered);
// a Matrix message may carry formatted_body HTML. Both are untrusted, and
// both are shown here only through richText(), which:
//
// - parses the text with DOMParser into an inert document: scripting is off
//   in it, it has no browsing context, so nothing in it runs or loads (an
//   <img onerror> there neither fetches nor fires);
// - builds a new tree for the page from it with createElement and
//   createTextNode, keeping only a whitelist of elements (paragraphs, line
//   breaks, headings, emphasis, quotes, lists, code, simple tables) and of
//   attributes (dir, lang, a list's start, a cell's span), each value
//   checked; no node of the parsed document is ever inserted, and no style,
//   class, id or on* attribute is ever copied;
// - drops scripts, styles, forms and the like with their content, and puts a
//   short note where a frame, a video or another embedded object was;
// - keeps a link's text and shows where it pointed as text, without making
//   it a link: a page opened from file:// never sends its reader to a site
//   chosen by whoever wrote a comment, and the address stays readable;
// - keeps an image only when it is a file of this archive (ctx.image finds
//   it in data/files.json) of a safe image type, and shows its alternative
//   text instead otherwise.

var htmlParser = new DOMParser();

// Elements kept, and what they become (headings sit under the page's own).
var KEEP = table({
  p: 'p', br: 'br', hr: 'hr', div: 'div', section: 'div', article: 'div', aside: 'div', header: 'div', footer: 'div',
  h1: 'h4', h2: 'h4', h3: 'h5', h4: 'h6', h5: 'h6', h6: 'h6',
  blockquote: 'blockquote', pre: 'pre', code: 'code', kbd: 'kbd', samp: 'samp',
  ul: 'ul', ol: 'ol', li: 'li', dl: 'dl', dt: 'dt', dd: 'dd',
  strong: 'strong', b: 'b', em: 'em', i: 'i', u: 'u', s: 's', strike: 's', del: 'del', ins: 'ins',
  sub: 'sub', sup: 'sup', mark: 'mark', small: 'small', q: 'q', cite: 'cite', abbr: 'abbr',
  table: 'table', caption: 'caption', thead: 'thead', tbody: 'tbody', tfoot: 'tfoot', tr: 'tr', th: 'th', td: 'td',
  figure: 'div', figcaption: 'p'
});
// Dropped with everything in them.
var DROP = table({
  script: 1, style: 1, template: 1, head: 1, title: 1, meta: 1, link: 1, base: 1, noembed: 1, noframes: 1,
  textarea: 1, select: 1, option: 1, optgroup: 1, datalist: 1, input: 1, button: 1, svg: 1, math: 1,
  canvas: 1, map: 1, area: 1, param: 1, source: 1, track: 1, 'mx-reply': 1, 'x-style': 1, 'x-base': 1
});
// Replaced by a note saying that something was embedded here.
var EMBEDDED = table({ iframe: 1, frame: 1, frameset: 1, object: 1, embed: 1, applet: 1, video: 1, audio: 1, portal: 1 });
// Where the direction of the text should follow the text.
var AUTO_DIR = table({ p: 1, li: 1, h4: 1, h5: 1, h6: 1, blockquote: 1, td: 1, th: 1, dd: 1, dt: 1, div: 1, caption: 1 });
var BLOCKS = /^(p|div|section|article|aside|header|footer|h[1-6]|blockquote|pre|ul|ol|li|dl|dt|dd|table|tr|caption|figure|figcaption|hr)$/;

var MAX_DEPTH = 48;
var MAX_NODES = 20000;

// Chromium checks the page's CSP against event handler attributes, style
// attributes, and style and base elements as the parser creates them, even
// in a DOMParser document where nothing could run: it blocks them and logs
// a violation for each. So these are renamed in the text first (onerror ->
// x-onerror, style -> x-style, base -> x-base); the whitelist drops them
// either way.
// This only keeps the console quiet: what is safe is decided by the
// rebuilding below, not by this rewriting.
var TAG = /<(\/?)([A-Za-z][^\s/>]*)((?:"[^"]*"|'[^']*'|[^>"'])*)>/g;
var NOISY_ATTR = /"[^"]*"|'[^']*'|(^|[\s/])(on|style\b)/gi;

function defuse(html) {
  return html.replace(TAG, function (all, close, name, attrs) {
    var tag = /^(style|base)$/i.test(name) ? 'x-' + name : name;
    return '<' + close + tag + attrs.replace(NOISY_ATTR, function (m, before, attr) {
      return attr ? before + 'x-' + attr : m;
    }) + '>';
  });
}

function parseHtml(html) {
  return htmlParser.parseFromString(defuse(str(html)), 'text/html');
}

// platform HTML -> a <div class="rich"> of whitelisted elements.
// ctx: { image(src, className) -> an entry of data/files.json or null }.
function richText(html, ctx) {
  var out = el('div', 'rich');
  out.dir = 'auto';
  var doc = parseHtml(html);
  var run = { ctx: ctx || {}, nodes: 0, code: 0 };
  copyChildren(doc.body, out, run, 0);
  if (run.code) {
    out.appendChild(el('p', 'removed', run.code === 1
      ? 'A piece of code in the original was removed; it never ran here.'
      : count(run.code) + ' pieces of code in the original were removed; none ran here.'));
  }
  return out;
}

function copyChildren(src, out, run, depth) {
  for (var n = src.firstChild; n; n = n.nextSibling) {
    if (++run.nodes > MAX_NODES) return;
    if (n.nodeType === 3) {
      out.appendChild(document.createTextNode(n.data));
    } else if (n.nodeType === 1) {
      copyElement(n, out, run, depth + 1);
    }
  }
}

function copyElement(n, out, run, depth) {
  var tag = n.localName;
  countHandlers(n, run);
  if (DROP[tag]) {
    if (tag === 'script') run.code++;
    return;
  }
  if (depth > MAX_DEPTH) {
    out.appendChild(document.createTextNode(n.textContent));
    return;
  }
  if (EMBEDDED[tag]) {
    out.appendChild(embeddedNote(n));
    return;
  }
  if (tag === 'a') {
    out.appendChild(anchor(n, run, depth));
    return;
  }
  if (tag === 'img') {
    out.appendChild(image(n, run.ctx));
    return;
  }
  var as = KEEP[tag] || null;
  if (!as) {
    // Anything else (span, font, details, …) keeps its content only.
    copyChildren(n, out, run, depth);
    return;
  }
  var e = document.createElement(as);
  var dir = str(n.getAttribute('dir')).toLowerCase();
  if (dir === 'ltr' || dir === 'rtl' || dir === 'auto') e.dir = dir;
  else if (AUTO_DIR[as]) e.dir = 'auto';
  var lang = str(n.getAttribute('lang'));
  if (/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/.test(lang)) e.lang = lang;
  if (as === 'ol') {
    var start = parseInt(str(n.getAttribute('start')), 10);
    if (start > -1e6 && start < 1e6) e.start = start;
  }
  if (as === 'td' || as === 'th') {
    ['colSpan', 'rowSpan'].forEach(function (p) {
      var v = parseInt(str(n.getAttribute(p.toLowerCase())), 10);
      if (v > 1 && v <= 100) e[p] = v;
    });
  }
  if (as !== 'br' && as !== 'hr') copyChildren(n, e, run, depth);
  out.appendChild(e);
}

// on* attributes are never copied; they are counted, so the note can say
// that code was removed.
function countHandlers(n, run) {
  var attrs = n.attributes;
  for (var i = 0; i < attrs.length; i++) {
    if (/^(x-)?on./i.test(attrs[i].name)) run.code++;
  }
}

function embeddedNote(n) {
  var what = n.localName === 'video' ? 'A video' : n.localName === 'audio' ? 'A sound' : 'Embedded content';
  var note = el('span', 'removed', what + ' from outside the archive is not shown here');
  var url = webUrl(n.getAttribute('src') || n.getAttribute('data') || '');
  if (url) {
    note.appendChild(document.createTextNode(': '));
    note.appendChild(urlText(url.href));
  }
  note.appendChild(document.createTextNode('.'));
  return note;
}

function urlText(href) {
  var u = el('span', 'url', href.length > 90 ? href.slice(0, 87) + '\u2026' : href);
  u.dir = 'ltr';
  if (href.length > 90) u.title = href;
  return u;
}

// A link: its text, then where it pointed, as text. Matrix mentions
// (https://matrix.to/#/@user:server) are names, shown as such.
function anchor(n, run, depth) {
  var href = str(n.getAttribute('href')).trim();
  var box = el('span', 'ext');
  var text = el('span', 'ext-text');
  copyChildren(n, text, run, depth);
  box.appendChild(text);
  var url = webUrl(href);
  if (url && url.hostname === 'matrix.to') {
    text.className = 'pill';
    return box;
  }
  if (/^\s*(javascript|vbscript|data):/i.test(href)) {
    run.code++;
    return box;
  }
  var shown = url ? url.href : /^mailto:[^\s]+$/i.test(href) ? href : '';
  var plain = text.textContent.trim();
  if (shown && plain !== shown && plain !== href && plain + '/' !== shown) box.appendChild(urlText(shown));
  return box;
}

function image(n, ctx) {
  var alt = str(n.getAttribute('alt')).trim();
  var file = ctx.image ? ctx.image(str(n.getAttribute('src')).trim(), str(n.getAttribute('class'))) : null;
  var href = file && !file.missing ? mediaHref(file.archive_path) : null;
  if (href && INLINE_IMAGES[contentType(file)]) {
    var img = el('img', 'inline-image');
    img.alt = alt;
    img.loading = 'lazy';
    img.decoding = 'async';
    img.src = href;
    return img;
  }
  return el('span', 'image-alt', alt ? 'Image: ' + alt : 'An image that is not in the archive');
}

// platform HTML -> its text (what a reader of the page would have read),
// for titles and for search. Blocks and line breaks become line breaks.
function htmlText(html) {
  var s = str(html);
  if (s.indexOf('<') < 0 && s.indexOf('&') < 0) return s;
  var parts = [];
  var budget = { nodes: 0 };
  collectText(parseHtml(s).body, parts, budget, 0);
  return parts.join('');
}

function collectText(src, parts, budget, depth) {
  for (var n = src.firstChild; n; n = n.nextSibling) {
    if (++budget.nodes > MAX_NODES) return;
    if (n.nodeType === 3) {
      parts.push(n.data);
    } else if (n.nodeType === 1) {
      var tag = n.localName;
      if (DROP[tag] || EMBEDDED[tag]) continue;
      if (tag === 'br') {
        parts.push('\n');
        continue;
      }
      if (tag === 'img') {
        var alt = str(n.getAttribute('alt'));
        if (alt) parts.push(alt);
        continue;
      }
      if (depth < MAX_DEPTH) collectText(n, parts, budget, depth + 1);
      if (BLOCKS.test(tag)) parts.push('\n');
    }
  }
}

// A title (WordPress's title.rendered is HTML): its text on one line.
function titleText(html) {
  return htmlText(html).replace(/\s+/g, ' ').trim();
}
