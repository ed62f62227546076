/**
 * The HTML detector's spans: edits splice the source by these offsets, so each must cover exactly
 * the bytes of one attribute or element as parse5 tokenised them.
 */
import { describe, expect, it } from 'vitest';
import { htmlDetector } from '../../src/rewrite/detectors/html.js';
import type { Candidate } from '../../src/rewrite/detectors/types.js';

const detect = (html: string): Candidate[] => htmlDetector.detect(html, { part: '1' });
const slice = (html: string, s: { start: number; end: number }): string => html.slice(s.start, s.end);

describe('link slots and attribute spans', () => {
  it.each([
    ['double quotes', `<a class="b" href="https://t.example/c?a=1&amp;b=2">x</a>`, 'https://t.example/c?a=1&amp;b=2', '"', true, ` href="https://t.example/c?a=1&amp;b=2"`],
    ['single quotes and blanks around "="', `<a href = 'https://t.example/c'>x</a>`, 'https://t.example/c', "'", false, ` href = 'https://t.example/c'`],
    ['unquoted', `<a href=https://t.example/c?a=1&b=2>x</a>`, 'https://t.example/c?a=1&b=2', '', false, ` href=https://t.example/c?a=1&b=2`],
    ['uppercase name, "/" before it', `<A/HREF="https://t.example/c">x</A>`, 'https://t.example/c', '"', false, `HREF="https://t.example/c"`],
    ['duplicate: the first wins', `<a href="https://t.example/first" href="https://t.example/second">x</a>`, 'https://t.example/first', '"', false, ` href="https://t.example/first"`],
    ['empty value', `<a href="">x</a><a href="https://t.example/c">y</a>`, 'https://t.example/c', '"', false, ` href="https://t.example/c"`],
  ])('%s', (_name, html, raw, quote, amp, removed) => {
    const link = detect(html).find((c) => c.kind === 'click' && c.slot && slice(html, c.slot) === raw);
    expect(link, JSON.stringify(detect(html))).toBeDefined();
    expect(link!.slot!.quote).toBe(quote);
    expect(link!.slot!.ampEntity).toBe(amp);
    expect(slice(html, link!.remove)).toBe(removed);
  });

  it('decodes references in the URL as browsers do, the slot keeps the source text', () => {
    const html = `<a href="&#104;ttps&colon;//t.example/c?a=1&copy=2">x</a>`;
    const [c] = detect(html);
    expect(c!.url).toBe('https://t.example/c?a=1&copy=2');
    expect(slice(html, c!.slot!)).toBe('&#104;ttps&colon;//t.example/c?a=1&copy=2');
  });

  it('an element with a real end tag is removed whole, one without only as its start tag', () => {
    const html = `<video src="https://t.example/v.mp4"><p>fallback</p></video><iframe src="https://t.example/f">`;
    const spans = detect(html).map((c) => slice(html, c.remove));
    expect(spans).toContain(`<video src="https://t.example/v.mp4"><p>fallback</p></video>`);
    expect(spans).toContain(`<iframe src="https://t.example/f">`);
  });

  it('offsets are UTF-16 code units into the text, after surrogate pairs and CRLF', () => {
    const html = `<p>\u{1F600}\r\n\u{1F36A}</p >\r\n<img src="https://t.example/o.gif" width="1" height="1">`;
    const [c] = detect(html);
    expect(slice(html, c!.remove)).toBe(`<img src="https://t.example/o.gif" width="1" height="1">`);
  });

  it('a start tag met by two readings (a reconstructed formatting element) is reported once', () => {
    const html = `<p><a href="https://t.example/c">x<p>y</a>`;
    expect(detect(html).filter((c) => c.kind === 'click')).toHaveLength(1);
  });

  it('an unterminated start tag at the end is dropped, as browsers drop it', () => {
    expect(detect(`<p>x</p><img src="https://t.example/o.gif"`)).toEqual([]);
  });

  it('CSS in <style> is read from the source with its offsets', () => {
    const html = `<style>\r\np { color: red; }\r\n.b { background: url(https://t.example/b.gif); }</style>`;
    const [c] = detect(html);
    expect(c!.url).toBe('https://t.example/b.gif');
    expect(slice(html, c!.remove)).toBe('background: url(https://t.example/b.gif);');
  });

  it('references in an SVG <style> that hide a url( remove the whole element', () => {
    const html = `<svg><style>.b{background:&#117;rl(https://t.example/b.gif)}</style></svg>`;
    const [c] = detect(html);
    expect(c!.url).toBe('https://t.example/b.gif');
    expect(slice(html, c!.remove)).toBe(`<style>.b{background:&#117;rl(https://t.example/b.gif)}</style>`);
  });
});
