// The message formatting (examples/web/js/markdown.js): what is formatted, and that nothing a sender
// writes becomes markup or a link other than http(s). parse() is pure; render() is run against a
// minimal document that records what was built (only elements, text nodes and the properties set).
import test from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseInline, render, safeHref } from '../../../examples/web/js/markdown.js';

test('plain text stays one text node, newlines and all', () => {
  assert.deepEqual(parse('hello\nworld'), [{ type: 'para', children: [{ type: 'text', text: 'hello\nworld' }] }]);
  assert.deepEqual(parseInline('2 * 3 * 4 = 24'), [{ type: 'text', text: '2 * 3 * 4 = 24' }]);
  assert.deepEqual(parseInline('a ` lone backtick'), [{ type: 'text', text: 'a ` lone backtick' }]);
});

test('code, emphasis, strong', () => {
  assert.deepEqual(parseInline('run `make *all*` now'), [
    { type: 'text', text: 'run ' }, { type: 'code', text: 'make *all*' }, { type: 'text', text: ' now' }]);
  assert.deepEqual(parseInline('*soon* and **now**'), [
    { type: 'em', children: [{ type: 'text', text: 'soon' }] }, { type: 'text', text: ' and ' },
    { type: 'strong', children: [{ type: 'text', text: 'now' }] }]);
  assert.deepEqual(parseInline('**bold *and em* too**'), [{ type: 'strong', children: [
    { type: 'text', text: 'bold ' }, { type: 'em', children: [{ type: 'text', text: 'and em' }] }, { type: 'text', text: ' too' }] }]);
  assert.deepEqual(parseInline('inline ```x = 1``` here')[1], { type: 'code', text: 'x = 1' });
});

test('code blocks and quotes are blocks', () => {
  assert.deepEqual(parse('look:\n```js\nlet a = `b`;\n**not bold**\n```\ndone'), [
    { type: 'para', children: [{ type: 'text', text: 'look:' }] },
    { type: 'pre', text: 'let a = `b`;\n**not bold**' },
    { type: 'para', children: [{ type: 'text', text: 'done' }] }]);
  assert.deepEqual(parse('```one line```'), [{ type: 'pre', text: 'one line' }]);
  assert.deepEqual(parse('```\nnever closed'), [{ type: 'pre', text: 'never closed' }]);
  assert.deepEqual(parse('> quoted *a*\n> b\nreply'), [
    { type: 'quote', children: [{ type: 'text', text: 'quoted ' }, { type: 'em', children: [{ type: 'text', text: 'a' }] },
      { type: 'text', text: '\nb' }] },
    { type: 'para', children: [{ type: 'text', text: 'reply' }] }]);
});

test('links: bare http(s) URLs and [text](url), trailing punctuation left out', () => {
  assert.deepEqual(parseInline('see https://example.org/a?b=1.'), [
    { type: 'text', text: 'see ' }, { type: 'link', href: 'https://example.org/a?b=1', text: 'https://example.org/a?b=1' },
    { type: 'text', text: '.' }]);
  assert.deepEqual(parseInline('[the docs](http://example.org/docs)'), [
    { type: 'link', href: 'http://example.org/docs', text: 'the docs' }]);
});

test('nothing but http and https becomes a link', () => {
  for (const text of ['javascript:alert(1)', '[click](javascript:alert(1))', '[x](data:text/html,<b>)',
    '[x](JaVaScRiPt:alert(1))', '[x](//evil.example/)', '[x](vbscript:msgbox)', 'file:///etc/passwd',
    'xhttps://example.org']) {
    const links = JSON.stringify(parse(text)).includes('"link"');
    assert.equal(links, false, text);
  }
  assert.equal(safeHref('javascript:alert(1)'), null);
  assert.equal(safeHref('https://example.org'), 'https://example.org/');
});

/** A document that builds plain objects: enough to see what render() makes. */
function fakeDocument() {
  const node = (tag) => ({ tag, children: [], props: {}, textContent: '',
    append(...kids) { this.children.push(...kids); } });
  const doc = {
    createElement: (tag) => {
      const n = node(tag);
      return new Proxy(n, { set(target, key, value) {
        if (key === 'textContent' || key === 'children') target[key] = value; else target.props[key] = value;
        return true;
      } });
    },
    createTextNode: (text) => ({ tag: '#text', text }),
  };
  return doc;
}

function flat(n) {
  if (n.tag === '#text') return n.text;
  return `<${n.tag}${Object.entries(n.props).map(([k, v]) => ` ${k}=${v}`).join('')}>${n.textContent}${n.children.map(flat).join('')}</${n.tag}>`;
}

test('render builds elements and text nodes only; HTML in a body stays text', () => {
  const doc = fakeDocument();
  const parent = doc.createElement('div');
  render(doc, parent, '<img src=x onerror=alert(1)> **hi** [a](https://example.org) `<b>`');
  assert.equal(flat(parent), '<div><img src=x onerror=alert(1)> <strong>hi</strong> '
    + '<a href=https://example.org/ target=_blank rel=noopener noreferrer>a</a> <code><b></code></div>');
  // the only elements made are the formatting's own
  const tags = new Set();
  const walk = (n) => { if (n.tag !== '#text') { tags.add(n.tag); n.children.forEach(walk); } };
  walk(parent);
  assert.deepEqual([...tags].sort(), ['a', 'code', 'div', 'strong']);
  const blocks = doc.createElement('div');
  render(doc, blocks, '> <i>q</i>\n```\n<b>\n```\nafter');
  assert.equal(flat(blocks), '<div><blockquote><i>q</i></blockquote><pre><code><b></code></pre><p>after</p></div>');
});

test('mentions are marked only where the event names them', () => {
  const names = { names: ['cy', 'bo'], me: 'cy' };
  assert.deepEqual(parseInline('@cy and @bo. not @bobo, ada@cy, @dee', names), [
    { type: 'mention', text: '@cy', name: 'cy' }, { type: 'text', text: ' and ' },
    { type: 'mention', text: '@bo', name: 'bo' }, { type: 'text', text: '. not @bobo, ada@cy, @dee' }]);
  assert.deepEqual(parseInline('@cy', {}), [{ type: 'text', text: '@cy' }], 'no mentions listed: plain text');
  assert.deepEqual(parseInline('@here now', { all: true }), [{ type: 'mention', text: '@here', name: 'here' }, { type: 'text', text: ' now' }]);
  assert.deepEqual(parseInline('@here', { names: ['here'] }).length, 1);
  assert.deepEqual(parseInline('**@cy**', names), [{ type: 'strong', children: [{ type: 'mention', text: '@cy', name: 'cy' }] }]);
  const doc = fakeDocument();
  const parent = doc.createElement('div');
  render(doc, parent, '@bo @cy <b>', names);
  assert.equal(flat(parent), '<div><span className=mention-name>@bo</span> <span className=mention-name to-me>@cy</span> <b></div>');
});
