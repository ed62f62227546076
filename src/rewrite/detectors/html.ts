/**
 * HTML (and AMP / SVG) detector: every place a client fetches a URL on open, and every link.
 *
 * Parsed with cheerio in htmlparser2 mode with source positions and entities left alone, so each
 * candidate carries exact offsets into the original text; nothing is ever re-serialised.
 * Outlook conditional comments (<!--[if mso]> ... <![endif]-->) are parsed too: HTML parsers see
 * a comment, Outlook renders the VML inside.
 */
import { load } from 'cheerio';
import { RelayError } from '../../errors.js';
import type { AnyNode, Element } from 'domhandler';
import type { Technique } from '../types.js';
import { decodeEntities } from '../html/entities.js';
import { attr, parseStartTag, type AttrSpan, type StartTag } from '../html/tag.js';
import { scanCss } from '../../rewrite/css/scan.js';
import { httpUrl } from '../links.js';
import type { Candidate, DetectContext, Detector, Span } from './types.js';

const PARSE_OPTIONS = {
  xml: { xmlMode: false, decodeEntities: false, withStartIndices: true, withEndIndices: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
} as const;

/** link rel values that only prefetch or advertise: never needed to render a mail. */
const LINK_ALWAYS = /\b(prefetch|dns-prefetch|preconnect|prerender|preload|modulepreload|alternate|search|pingback|import|manifest)\b/i;

/** Elements whose very presence with a URL is a remote load no legitimate mail needs. */
const ELEMENT_TECHNIQUE: Readonly<Record<string, { technique: Technique; attrs: readonly string[] }>> = {
  iframe: { technique: 'iframe', attrs: ['src', 'srcdoc'] },
  frame: { technique: 'iframe', attrs: ['src'] },
  object: { technique: 'object', attrs: ['data', 'codebase'] },
  embed: { technique: 'embed', attrs: ['src'] },
  applet: { technique: 'applet', attrs: ['codebase', 'code', 'archive'] },
  script: { technique: 'script', attrs: ['src'] },
  bgsound: { technique: 'bgsound', attrs: ['src'] },
};

const VOID = new Set(['img', 'input', 'source', 'embed', 'link', 'meta', 'bgsound', 'track', 'param', 'br', 'hr', 'area', 'base', 'col', 'wbr', 'frame', 'keygen']);

export const htmlDetector: Detector = {
  id: 'html',
  contentTypes: ['text/html', 'text/x-amp-html', 'application/xhtml+xml', 'image/svg+xml'],
  detect(text: string, ctx: DetectContext): Candidate[] {
    const out: Candidate[] = [];
    const found: DocumentState = {};
    scanFragment(text, 0, text.length, out, ctx, 0, found);
    const base = baseHref(found.base);
    return base ? out.map((c) => ({ ...c, url: resolveAgainst(c.url, base) })) : out;
  },
};

/** What the walk learns about the document as a whole: the first <base href>. */
interface DocumentState {
  base?: string;
}

function scanFragment(src: string, from: number, to: number, out: Candidate[], ctx: DetectContext, depth: number, doc: DocumentState): void {
  const fragment = from === 0 && to === src.length ? src : src.slice(from, to);
  const $ = load(fragment, PARSE_OPTIONS);
  const root = $.root()[0];
  if (!root) return;
  // document order, with an explicit stack: unclosed tags nest, and 10k nested <font>s must not
  // overflow the call stack
  const stack: { node: AnyNode; foreign: boolean }[] = [{ node: root, foreign: false }];
  while (stack.length) {
    const { node, foreign } = stack.pop()!;
    if (node.type === 'comment' || node.type === 'cdata' || node.type === 'directive') {
      const start = from + (node.startIndex ?? 0);
      const end = from + (node.endIndex ?? 0) + 1;
      if (depth < 16) reparseHidden(src, start, end, out, ctx, depth, doc);
      if (node.type === 'comment') conditionalComment(src, start, end, out, ctx, depth, doc);
      continue;
    }
    if (node.type === 'tag' || node.type === 'script' || node.type === 'style') {
      const el = node as Element;
      // the first real <base> element counts (not one inside a comment or a style block)
      if (el.name === 'base' && doc.base === undefined && el.attribs['href'] !== undefined) doc.base = decodeEntities(el.attribs['href']);
      element(src, el, from, out);
      // in SVG and MathML, <style>/<title>/<textarea> hold markup, not text: an <img> in there
      // is parsed (and breaks out into HTML) by browsers, while htmlparser2 sees text
      if (foreign && RAW_TEXT_IN_HTML.has(el.name) && el.startIndex !== null && el.endIndex !== null && depth < 16) {
        const tag = parseStartTag(src, from + el.startIndex);
        const close = src.toLowerCase().lastIndexOf(`</${el.name}`, from + el.endIndex + 1);
        if (close > tag.end) scanFragment(src, tag.end, close, out, ctx, depth + 1, doc);
      }
      const inForeign = foreign || el.name === 'svg' || el.name === 'math';
      for (let i = el.children.length - 1; i >= 0; i--) stack.push({ node: el.children[i]!, foreign: inForeign });
      continue;
    }
    if ('children' in node) for (let i = node.children.length - 1; i >= 0; i--) stack.push({ node: node.children[i]!, foreign });
  }
}

const RAW_TEXT_IN_HTML = new Set(['style', 'title', 'textarea', 'xmp', 'noscript', 'noembed', 'noframes', 'iframe']);

/**
 * Browsers end a comment earlier than htmlparser2 in two cases: "--!>" closes "<!--", and a bogus
 * comment ("<![CDATA[ ...", "<!x ...", "<? ...") ends at its first ">". Whatever htmlparser2 kept
 * in the comment after that point is live markup for the client, so it is parsed too.
 */
function reparseHidden(src: string, start: number, end: number, out: Candidate[], ctx: DetectContext, depth: number, doc: DocumentState): void {
  const raw = src.slice(start, end);
  let browserEnd: number;
  if (raw.startsWith('<!--')) {
    const bang = raw.indexOf('--!>', 4);
    if (bang < 0) return;
    const dash = raw.indexOf('-->', 4);
    if (dash >= 0 && dash < bang) return;
    browserEnd = bang + 4;
  } else {
    const gt = raw.indexOf('>');
    if (gt < 0) return;
    browserEnd = gt + 1;
  }
  if (start + browserEnd < end) scanFragment(src, start + browserEnd, end, out, ctx, depth + 1, doc);
}

/**
 * <base href="https://tracker.example/u/123/"> makes every relative src and href remote: the
 * "base games" of tracking. Candidates are classified by the URL the client would really fetch.
 */
function baseHref(raw: string | undefined): URL | null {
  return raw === undefined ? null : httpUrl(raw);
}

function resolveAgainst(url: string, base: URL): string {
  // absolute, scheme-bearing (cid:, data:, mailto:) and fragment-only references are not affected
  if (!url || /^([a-z][a-z0-9+.-]*:|#)/i.test(url)) return url;
  try {
    return new URL(url, base).href;
  } catch {
    return url;
  }
}

/** <!--[if mso]> ... <![endif]-->: parse what Outlook would render. */
function conditionalComment(src: string, start: number, end: number, out: Candidate[], ctx: DetectContext, depth: number, doc: DocumentState): void {
  // Outlook renders what is inside, however deep: never skip it silently
  if (depth > 16) throw new RelayError('MIME_MALFORMED', `part ${ctx.part}: conditional comments nested more than 16 deep; cannot inspect them`);
  const body = src.slice(start, end);
  if (!/^<!--\[if\b/i.test(body)) return;
  const open = body.indexOf(']>');
  if (open < 0) return;
  let close = body.toLowerCase().lastIndexOf('<![endif]');
  // no <![endif]: up to the "-->", or to the end when the comment is unterminated (its last
  // characters are then content, e.g. the ">" of a tag inside)
  if (close < 0) close = body.endsWith('-->') ? body.length - 3 : body.length;
  const innerFrom = start + open + 2;
  const innerTo = start + close;
  if (innerTo > innerFrom) scanFragment(src, innerFrom, innerTo, out, ctx, depth + 1, doc);
}

function element(src: string, el: Element, base: number, out: Candidate[]): void {
  const start = base + (el.startIndex ?? 0);
  if (src[start] !== '<') return;
  const tag = parseStartTag(src, start);
  const name = el.name.toLowerCase();
  const whole = elementSpan(src, el, base, tag, name);
  const startTagOnly: Span = { start: tag.start, end: tag.end };

  const open = (technique: Technique, a: AttrSpan | undefined, removeAction: Candidate['removeAction'], remove: Span, extra?: Partial<Candidate>): void => {
    if (!a?.value) return;
    const url = decodeEntities(a.value.raw).trim();
    if (!url) return;
    out.push({ kind: 'open', technique, url, remove, removeAction, ...extra });
  };
  const srcset = (a: AttrSpan | undefined, removeAction: Candidate['removeAction'], remove: Span, extra?: Partial<Candidate>): void => {
    if (!a?.value) return;
    for (const url of srcsetUrls(decodeEntities(a.value.raw))) out.push({ kind: 'open', technique: 'srcset', url, remove, removeAction, ...extra });
  };
  const attrSpan = (a: AttrSpan): Span => ({ start: a.start, end: a.end });

  // background attribute and inline CSS can sit on any element
  const bg = attr(tag, 'background');
  if (bg) open('background-attr', bg, 'remove-attribute', attrSpan(bg));
  const style = attr(tag, 'style');
  if (style?.value) {
    const raw = style.value.raw;
    // the browser decodes references, then CSS escapes, before it reads the CSS: when either is
    // there, read the decoded text and remove the whole attribute if it holds a tracker
    const direct = scanCss(raw, style.value.start, 'declarations');
    const decoded = /[&\\]/.test(raw) ? scanCss(decodeCssEscapes(decodeEntities(raw)), 0, 'declarations') : direct;
    if (decoded.length <= direct.length) {
      for (const ref of direct) {
        out.push({ kind: 'open', technique: ref.technique, url: ref.url, remove: { start: ref.stmtStart, end: ref.stmtEnd }, removeAction: 'drop-declaration' });
      }
    } else {
      // decoding revealed references the raw text hides: the attribute goes as a whole
      for (const ref of decoded) {
        out.push({ kind: 'open', technique: ref.technique, url: ref.url, remove: attrSpan(style), removeAction: 'remove-attribute' });
      }
    }
  }

  switch (name) {
    case 'img':
    case 'image': {
      const signals = sizeSignals(tag);
      const isSvgImage = name === 'image';
      const technique: Technique = isSvgImage ? 'svg-image' : 'img';
      for (const n of ['src', 'lowsrc', 'dynsrc', 'href', 'xlink:href']) open(technique, attr(tag, n), 'remove-element', isSvgImage ? whole : startTagOnly, signals);
      const ss = attr(tag, 'srcset');
      if (ss) srcset(ss, 'remove-attribute', attrSpan(ss), signals);
      break;
    }
    case 'input':
      if (/^image$/i.test(decodeEntities(attr(tag, 'type')?.value?.raw ?? ''))) open('input-image', attr(tag, 'src'), 'remove-element', startTagOnly, sizeSignals(tag));
      break;
    case 'source': {
      const parent = el.parent && 'name' in el.parent ? (el.parent as Element).name.toLowerCase() : '';
      const technique: Technique = parent === 'picture' ? 'srcset' : 'media';
      open(technique, attr(tag, 'src'), 'remove-element', startTagOnly);
      const ss = attr(tag, 'srcset');
      if (ss?.value) for (const url of srcsetUrls(decodeEntities(ss.value.raw))) out.push({ kind: 'open', technique, url, remove: startTagOnly, removeAction: 'remove-element' });
      break;
    }
    case 'video':
    case 'audio':
    case 'track':
      open('media', attr(tag, 'src'), 'remove-element', name === 'track' ? startTagOnly : whole);
      if (name === 'video') open('media-poster', attr(tag, 'poster'), 'remove-attribute', attrSpan(attr(tag, 'poster') ?? { name: '', start: 0, end: 0 }));
      break;
    case 'link': {
      const rel = decodeEntities(attr(tag, 'rel')?.value?.raw ?? '');
      open('link-rel', attr(tag, 'href'), 'remove-element', startTagOnly, LINK_ALWAYS.test(rel) ? { alwaysTracking: true } : {});
      break;
    }
    case 'meta': {
      const equiv = decodeEntities(attr(tag, 'http-equiv')?.value?.raw ?? '');
      const content = attr(tag, 'content');
      if (/^refresh$/i.test(equiv.trim()) && content?.value) {
        const m = /url\s*=\s*['"]?([^'"\s]+)/i.exec(decodeEntities(content.value.raw));
        if (m?.[1]) out.push({ kind: 'open', technique: 'meta-refresh', url: m[1], remove: startTagOnly, removeAction: 'remove-element', alwaysTracking: true });
      }
      break;
    }
    case 'html':
      open('manifest', attr(tag, 'manifest'), 'remove-attribute', attrSpan(attr(tag, 'manifest') ?? { name: '', start: 0, end: 0 }), { alwaysTracking: true });
      break;
    case 'style': {
      const child = el.children[0];
      if (child && child.type === 'text' && child.startIndex !== null && child.endIndex !== null) {
        const s = base + child.startIndex;
        const e = base + child.endIndex + 1;
        for (const ref of scanCss(src.slice(s, e), s, 'sheet')) {
          out.push({ kind: 'open', technique: ref.technique, url: ref.url, remove: { start: ref.stmtStart, end: ref.stmtEnd }, removeAction: 'drop-declaration', ...(ref.printOnly ? { printOnly: true } : {}), ...(ref.quotedOnly ? { quotedOnly: true } : {}) });
        }
      }
      break;
    }
    case 'a':
    case 'area':
    case 'v:roundrect':
    case 'v:rect':
    case 'v:oval':
    case 'v:shape': {
      // originalsrc: Outlook Safe Links keeps the pre-wrapping URL here; it must not keep a tracker either
      for (const a of [attr(tag, 'href'), attr(tag, 'originalsrc')]) {
        if (!a?.value) continue;
        const url = decodeEntities(a.value.raw).trim();
        if (!url) continue;
        out.push({
          kind: 'click',
          technique: 'tracked-link',
          url,
          remove: attrSpan(a),
          removeAction: 'neutralise-link',
          slot: { start: a.value.start, end: a.value.end, quote: a.value.quote, ampEntity: /&amp;/i.test(a.value.raw) },
          linkText: textOf(el),
        });
      }
      const ping = attr(tag, 'ping');
      if (ping?.value) {
        for (const url of decodeEntities(ping.value.raw).trim().split(/\s+/).filter(Boolean)) {
          out.push({ kind: 'click', technique: 'a-ping', url, remove: attrSpan(ping), removeAction: 'remove-attribute', alwaysTracking: true });
        }
      }
      if (name.startsWith('v:')) open('vml', attr(tag, 'src'), 'remove-attribute', attrSpan(attr(tag, 'src') ?? { name: '', start: 0, end: 0 }));
      break;
    }
    case 'v:fill':
    case 'v:image':
    case 'v:imagedata':
      open('vml', attr(tag, 'src'), 'remove-element', startTagOnly);
      break;
    case 'amp-img':
    case 'amp-anim':
    case 'amp-list':
    case 'amp-analytics':
    case 'amp-pixel':
    case 'amp-iframe':
    case 'amp-video':
    case 'amp-audio': {
      const always = name === 'amp-analytics' || name === 'amp-pixel' || name === 'amp-iframe';
      for (const n of ['src', 'config']) open('amp', attr(tag, n), 'remove-element', whole, always ? { alwaysTracking: true } : sizeSignals(tag));
      break;
    }
    case 'use':
    case 'feimage':
      for (const n of ['href', 'xlink:href']) open('svg-image', attr(tag, n), 'remove-element', startTagOnly);
      break;
    default: {
      const t = ELEMENT_TECHNIQUE[name];
      if (t) {
        // one finding per element: the element goes, whichever of its URLs is the beacon
        const first = t.attrs.map((n) => attr(tag, n)).find((a) => a?.value && decodeEntities(a.value.raw).trim());
        open(t.technique, first, 'remove-element', whole, { alwaysTracking: true });
      }
    }
  }
}

/** The span that removing the element removes: start tag to end tag when it was really closed. */
function elementSpan(src: string, el: Element, base: number, tag: StartTag, name: string): Span {
  if (VOID.has(name) || el.endIndex === null) return { start: tag.start, end: tag.end };
  const end = base + el.endIndex + 1;
  // htmlparser2 closes unclosed elements at their parent's end: only trust a real end tag
  const closing = src.slice(Math.max(tag.end, end - name.length - 3), end).toLowerCase();
  if (end > tag.end && closing.startsWith('</') && closing.includes(name)) return { start: tag.start, end };
  if (src.slice(tag.end - 2, tag.end) === '/>') return { start: tag.start, end: tag.end };
  return { start: tag.start, end: tag.end };
}

function srcsetUrls(value: string): string[] {
  // candidates are "url [descriptor]" separated by commas; a URL itself may contain commas
  const out: string[] = [];
  // no leading \s*: retried at every position of a long whitespace run it made this quadratic
  const re = /([^\s,][^\s]*)(?:\s+[^,]*)?(?:,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null) {
    if (m[0] === '') break;
    let url = m[1]!;
    if (url.endsWith(',')) url = url.slice(0, -1);
    if (url) out.push(url);
  }
  return out;
}

/** Size and visibility signals used by the tiny/hidden image heuristics. */
function sizeSignals(tag: StartTag): { tiny?: boolean; hidden?: boolean } {
  const num = (v: string | undefined): number | null => {
    if (v === undefined) return null;
    const m = /^(\d+(?:\.\d+)?)(px)?$/i.exec(v.trim());
    return m ? Number(m[1]) : null;
  };
  const w = num(decodeEntitiesOpt(attr(tag, 'width')));
  const h = num(decodeEntitiesOpt(attr(tag, 'height')));
  const style = decodeEntitiesOpt(attr(tag, 'style'))?.toLowerCase() ?? '';
  const declared = (prop: string): string | undefined => {
    // declarations split by hand: regexes with adjacent \s* groups were quadratic on long runs of blanks
    for (const decl of style.split(';')) {
      const colon = decl.indexOf(':');
      if (colon < 0) continue;
      const name = decl.slice(0, colon).trim();
      if (name === prop || name === `max-${prop}`) return decl.slice(colon + 1).replace(/!important/, '').trim();
    }
    return undefined;
  };
  const sw = num(declared('width'));
  const sh = num(declared('height'));
  const small = (v: number | null): boolean => v !== null && v <= 2;
  const tiny = (small(w) && (h === null || small(h))) || (small(h) && (w === null || small(w))) || (small(sw) && (sh === null || small(sh))) || (small(sh) && (sw === null || small(sw)));
  const hidden = /display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$|!)|mso-hide\s*:\s*all/.test(style) || attr(tag, 'hidden') !== undefined;
  return { ...(tiny ? { tiny: true } : {}), ...(hidden ? { hidden: true } : {}) };
}

/**
 * The first 200 characters of visible text (alt text counts: image-only unsubscribe buttons are
 * common). Iterative and bounded in nodes too: nested unclosed <a>s put the rest of the document
 * under each link, which made this quadratic (and deep enough to overflow the stack).
 */
function textOf(root: AnyNode): string {
  let left = 200;
  let visits = 5000;
  const parts: string[] = [];
  const stack: AnyNode[] = [root];
  while (stack.length && left > 0 && visits-- > 0) {
    const node = stack.pop()!;
    if (node.type === 'text') {
      const t = (node as unknown as { data: string }).data.slice(0, left);
      left -= t.length;
      parts.push(t);
      continue;
    }
    if (node.type === 'tag' && (node as Element).attribs['alt']) {
      parts.push((node as Element).attribs['alt'] ?? '');
      continue;
    }
    if ('children' in node) for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]!);
  }
  return parts.join('');
}

/** CSS escapes (\\75 rl, \\(…) undone, so "u\\72 l(" is seen as the url( it is. */
function decodeCssEscapes(s: string): string {
  return s.replace(/\\([0-9a-fA-F]{1,6})\s?|\\([^\n0-9a-fA-F])/g, (_m, hex: string | undefined, ch: string | undefined) =>
    hex ? String.fromCodePoint(Math.min(parseInt(hex, 16) || 0xfffd, 0x10ffff)) : (ch ?? ''),
  );
}

function decodeEntitiesOpt(a: AttrSpan | undefined): string | undefined {
  return a?.value ? decodeEntities(a.value.raw) : undefined;
}
