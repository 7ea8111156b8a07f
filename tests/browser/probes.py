"""JavaScript the browser suite runs in the page to read it in one round trip each: the
facts a page's checks need, the colours of every visible text and the backgrounds under
it, and the state of each link before and after a Tab (the focus ring and what is around
it). Plain strings for selenium's execute_script / execute_async_script.
"""

# Everything about a loaded page the checks need, in one round trip.
JS_FACTS = """
const norm = s => (s || '').replace(/\\s+/g, ' ').trim();
const h1s = [...document.querySelectorAll('h1')];
const links = [...document.querySelectorAll('a[href]')];
const hiddenText = el => [...el.querySelectorAll('.visually-hidden, [aria-hidden="true"]')]
  .reduce((s, h) => s + h.textContent, '');
return {
  url: location.href,
  lang: document.documentElement.getAttribute('lang'),
  title: document.title,
  h1: h1s.map(h => norm(h.textContent)),
  visits: (document.getElementById('visits') || {}).textContent || null,
  grouped: norm((document.querySelector('.count-number') || {}).textContent || ''),
  imgsWithoutAlt: [...document.querySelectorAll('img:not([alt])')].map(i => i.getAttribute('src')),
  scripts: document.scripts.length,
  csp: window.__ktCsp || null,
  links: links.map(a => ({
    href: a.getAttribute('href'), abs: a.href, rel: a.rel,
    visibleText: norm(a.textContent.replace(hiddenText(a), '')),
    ariaLabel: a.getAttribute('aria-label'),
    hasIcon: !!a.querySelector('svg, img'),
  })),
  overflow: {
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    innerWidth: window.innerWidth,
    clientWidth: document.documentElement.clientWidth,
    wide: [...document.body.querySelectorAll('*')]
      .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
      .filter(e => !e.closest('.visually-hidden'))
      .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined ? '.' + String(e.className).split(' ').join('.') : '') + ' right=' + Math.round(e.getBoundingClientRect().right)),
  },
};
"""

# For every visible text: its colour, and the backgrounds under it (from
# elementsFromPoint, so positioned elements count where they are drawn), bottom first.
JS_TEXT_COLOURS = """
const out = [];
const seen = new Set();
const norm = s => (s || '').replace(/\\s+/g, ' ').trim();
const isClipped = el => {
  for (let a = el; a && a !== document.body; a = a.parentElement) {
    const s = getComputedStyle(a), r = a.getBoundingClientRect();
    if ((r.width <= 1 || r.height <= 1) && (s.overflow !== 'visible' || s.clipPath !== 'none' || s.clip !== 'auto')) return true;
  }
  return false;
};
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const texts = [];
while (walker.nextNode()) {
  const t = walker.currentNode;
  if (!t.nodeValue.trim()) continue;
  const el = t.parentElement;
  if (!el || seen.has(el) || el.closest('svg, script, style, template')) continue;
  seen.add(el);
  texts.push([t, el]);
}
for (const [t, el] of texts) {
  const cs = getComputedStyle(el);
  if (cs.visibility !== 'visible' || isClipped(el)) continue;
  const range = document.createRange();
  range.selectNodeContents(t);
  let rects = [...range.getClientRects()].filter(r => r.width > 1 && r.height > 1);
  if (!rects.length) continue;
  if (rects[0].bottom + window.scrollY <= 0 || rects[0].right + window.scrollX <= 0) continue; // off-screen until focused
  if (rects[0].top < 0 || rects[0].bottom > window.innerHeight || rects[0].left < 0 || rects[0].right > window.innerWidth) {
    el.scrollIntoView({block: 'center', inline: 'nearest'});
    rects = [...range.getClientRects()].filter(r => r.width > 1 && r.height > 1);
  }
  const r = rects[0];
  const x = Math.min(Math.max(r.left + r.width / 2, 0), window.innerWidth - 1);
  const y = Math.min(Math.max(r.top + r.height / 2, 0), window.innerHeight - 1);
  const stack = document.elementsFromPoint(x, y);
  let i = stack.indexOf(el);
  if (i < 0) { // the text's element may not be hit-testable (pointer-events): use ancestors
    i = stack.findIndex(s => s.contains(el));
  }
  const under = (i < 0 ? [] : stack.slice(i)).filter(s => s !== document.body && s !== document.documentElement);
  let opacity = 1;
  for (let a = el; a; a = a.parentElement) opacity *= parseFloat(getComputedStyle(a).opacity);
  out.push({
    text: norm(t.nodeValue).slice(0, 40),
    where: el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).trim().split(/\\s+/).join('.') : ''),
    color: cs.color, opacity: opacity, size: cs.fontSize, weight: cs.fontWeight,
    layers: under.reverse().map(s => {
      const ss = getComputedStyle(s);
      return {bg: ss.backgroundColor, image: ss.backgroundImage, opacity: parseFloat(ss.opacity),
              who: s.tagName.toLowerCase() + (s.className ? '.' + String(s.className).trim().split(/\\s+/).join('.') : '')};
    }),
  });
}
window.scrollTo(0, 0);
const before = getComputedStyle(document.body, '::before');
return {texts: out, gradient: before.backgroundImage,
        bodyBg: getComputedStyle(document.body).backgroundColor,
        htmlBg: getComputedStyle(document.documentElement).backgroundColor};
"""

# Focus check: the links' unfocused styles, with focus cleared and the page at the top.
JS_FOCUS_START = """
document.activeElement && document.activeElement.blur();
window.scrollTo(0, 0);
window.__ktLinks = [...document.querySelectorAll('a[href]')];
window.__ktFocused = null;
return window.__ktLinks.map(a => {
  const s = getComputedStyle(a);
  return {outlineStyle: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth) || 0,
          boxShadow: s.boxShadow,
          label: (a.getAttribute('aria-label') || a.textContent).replace(/\\s+/g, ' ').trim() || a.href};
});
"""

# After a Tab: waits until focus moved and two frames were drawn, then describes the
# focused link (index -1 when focus is on something else) and the backgrounds just
# outside it, where its ring is drawn.
JS_AFTER_TAB = """
const done = arguments[arguments.length - 1];
let frames = 0;
const wait = () => {
  if (document.activeElement === window.__ktFocused && frames++ < 30) { requestAnimationFrame(wait); return; }
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const el = document.activeElement;
    window.__ktFocused = el;
    const index = window.__ktLinks.indexOf(el);
    if (index < 0) { done({index: -1}); return; }
    const s = getComputedStyle(el), r = el.getBoundingClientRect();
    const width = parseFloat(s.outlineWidth) || 0, gap = (parseFloat(s.outlineOffset) || 0) + width / 2;
    const points = [[r.left - gap, (r.top + r.bottom) / 2], [r.right + gap, (r.top + r.bottom) / 2],
                    [(r.left + r.right) / 2, r.top - gap], [(r.left + r.right) / 2, r.bottom + gap]];
    const ring = points.filter(([x, y]) => x >= 0 && y >= 0 && x < innerWidth && y < innerHeight)
      .map(([x, y]) => document.elementsFromPoint(x, y)
        .filter(e => e !== el && !el.contains(e) && e !== document.body && e !== document.documentElement)
        .reverse().map(e => ({bg: getComputedStyle(e).backgroundColor, image: getComputedStyle(e).backgroundImage})));
    done({index: index, outlineStyle: s.outlineStyle, outlineWidth: width, outlineColor: s.outlineColor,
          boxShadow: s.boxShadow, focusVisible: el.matches(':focus-visible'),
          rect: [r.left, r.top, r.right, r.bottom], vw: innerWidth, vh: innerHeight, ring: ring,
          label: (el.getAttribute('aria-label') || el.textContent).replace(/\\s+/g, ' ').trim() || el.href});
  }));
};
wait();
"""


# The stats page as its checks need it: each chart (its <title>, the <title> of each bar
# by series, the rows of its table of numbers), each top list (heading, whether its
# table is named by it, each row's name, views and bar), the period links, and the JSON
# links in <main>.
JS_STATS = """
const norm = s => (s || '').replace(/\\s+/g, ' ').trim();
const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
  const fig = svg.closest('figure'), title = svg.querySelector(':scope > title');
  const table = fig && fig.querySelector('details.chart-numbers table');
  return {
    title: title ? norm(title.textContent) : null,
    role: svg.getAttribute('role'),
    caption: norm(((fig && fig.querySelector('figcaption')) || {}).textContent),
    series: [...svg.querySelectorAll('g.chart-bars')].map(g =>
      [...g.querySelectorAll('rect')].map(r => norm((r.querySelector('title') || {}).textContent))),
    rows: table ? [...table.tBodies].flatMap(b => [...b.rows]).map(r => [...r.cells].map(c => norm(c.textContent))) : null,
  };
});
const lists = [...document.querySelectorAll('.top-list')].map(sec => {
  const h = sec.querySelector('h2'), table = sec.querySelector('table.bars');
  return {
    heading: h ? norm(h.textContent) : null,
    named: !!(table && h && h.id && table.getAttribute('aria-labelledby') === h.id),
    empty: norm((sec.querySelector('.top-empty') || {}).textContent) || null,
    rows: table ? [...table.tBodies[0].rows].map(r => {
      const bar = r.querySelector('svg'), rect = bar && bar.querySelector('rect');
      return {name: norm(r.cells[0].textContent), views: norm(r.cells[r.cells.length - 1].textContent),
              hidden: !!bar && !!bar.closest('[aria-hidden="true"]'),
              width: rect ? parseFloat(rect.getAttribute('width')) : null};
    }) : null,
  };
});
return {
  charts: charts,
  lists: lists,
  periods: [...document.querySelectorAll('.period-link')].map(a => ({
    text: norm(a.textContent), href: a.href, current: a.getAttribute('aria-current'),
    background: getComputedStyle(a).backgroundColor})),
  json: [...document.querySelectorAll('main a[href]')].filter(a => a.pathname === '/api/stats').map(a => a.href),
};
"""
