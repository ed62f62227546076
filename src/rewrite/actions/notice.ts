/**
 * Two edits the relay's HTTP side asks of a part, planned like every other action (an Edit at a
 * source position, nothing else moves):
 *  - the opt-in placeholder ({{consent-relay:opt-in}}) replaced by the recipient's own link;
 *  - the disclosure notice (consent.disclose): who tracks this message, and a one-click
 *    withdrawal link, inserted before </body> in HTML and at the end of plain text.
 *
 * Part text here is what the engine decoded: for ASCII-compatible charsets one char per byte
 * (Latin-1 transparency), so inserted text is written in the part's own encoding: HTML as ASCII
 * with character references, plain text as UTF-8 bytes in a UTF-8 part and as ASCII elsewhere.
 */
import { OPT_IN_PLACEHOLDER, type Edit } from '../types.js';

export function placeholderEdits(text: string, url: string | null): { found: boolean; edits: Edit[] } {
  const edits: Edit[] = [];
  let at = text.indexOf(OPT_IN_PLACEHOLDER);
  const found = at >= 0;
  while (at >= 0 && url !== null) {
    edits.push({ start: at, end: at + OPT_IN_PLACEHOLDER.length, text: url });
    at = text.indexOf(OPT_IN_PLACEHOLDER, at + OPT_IN_PLACEHOLDER.length);
  }
  return { found, edits };
}

export interface Notice {
  /** The sentence, {vendors} filled, {url} still in it. */
  readonly text: string;
  /** The link's words in HTML. */
  readonly link: string;
  readonly url: string;
  readonly lang: string;
}

export interface PartEncoding {
  readonly contentType: string;
  /** The codec hands the engine one char per byte. */
  readonly transparent: boolean;
  readonly charset: string;
}

/** The notice's edit for a text/html or text/plain part; null for any other part. */
export function noticeEdit(text: string, notice: Notice, part: PartEncoding): Edit | null {
  if (part.contentType === 'text/html') {
    const [before, after] = notice.text.split('{url}') as [string, string | undefined];
    const link = `<a href="${escapeHtml(notice.url)}">${escapeHtml(notice.link)}</a>`;
    const sentence = after === undefined ? `${escapeHtml(before)} ${link}` : `${escapeHtml(before)}${link}${escapeHtml(after)}`;
    const html = `<div lang="${escapeHtml(notice.lang)}" style="margin:16px 0 0;padding:8px;border-top:1px solid #999;font:12px/1.4 sans-serif;color:#333">${sentence}</div>\r\n`;
    const body = lastIndexOfTag(text, '</body');
    const at = body >= 0 ? body : lastIndexOfTag(text, '</html') >= 0 ? lastIndexOfTag(text, '</html') : text.length;
    return { start: at, end: at, text: html };
  }
  if (part.contentType === 'text/plain') {
    const sentence = notice.text.includes('{url}') ? notice.text.replace('{url}', notice.url) : `${notice.text} ${notice.url}`;
    const sep = text.endsWith('\r\n') || text === '' ? '\r\n' : '\r\n\r\n';
    return { start: text.length, end: text.length, text: `${sep}${plainText(sentence, part)}\r\n` };
  }
  return null;
}

function lastIndexOfTag(text: string, tag: string): number {
  const i = text.toLowerCase().lastIndexOf(tag);
  return i;
}

function escapeHtml(s: string): string {
  // ASCII only: anything else as a character reference, which every charset can carry
  return s.replace(/[&<>"']|[^\x20-\x7e]/gu, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : `&#${c.codePointAt(0)};`));
}

function plainText(s: string, part: PartEncoding): string {
  if (!part.transparent) return s;
  if (/^utf-?8$/i.test(part.charset)) return Buffer.from(s, 'utf8').toString('latin1');
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e\r\n]/g, '?');
}
