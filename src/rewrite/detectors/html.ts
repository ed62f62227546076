/**
 * HTML (and AMP / SVG) detector: every place a client fetches a URL on open, and every link.
 *
 * Parsed with parse5, the HTML standard's tokenizer and tree builder, with source locations: what
 * we inspect is the tree a browser builds (comments ended by "--!>", bogus comments, foreign
 * content, raw-text elements, foster parenting, duplicate attributes), and each candidate carries
 * exact UTF-16 offsets into the part text; nothing is ever re-serialised.
 *
 * Some content is read a second time, as a fragment, because some client renders it where the
 * standard does not: Outlook's conditional comments (<!--[if mso]> ... <![endif]-->), the fallback
 * content of iframe / noembed / noframes and the obsolete xmp / plaintext, <select> content (dropped
 * by the old select parser, rendered by current browsers), and <noscript> as a script-enabled
 * parser ends it. A start tag is reported once, whichever reading meets it first.
 */
import { decodeHTML } from 'entities';
import { Parser, defaultTreeAdapter, type DefaultTreeAdapterMap, type Token, type TreeAdapter } from 'parse5';
import { RelayError } from '../../errors.js';
import type { Technique } from '../types.js';
import { attr, startTagOf, type AttrSpan, type StartTag } from '../html/tag.js';
import { scanCss } from '../../rewrite/css/scan.js';
import { httpUrl } from '../links.js';
import { cssCandidate } from './css.js';
import type { Candidate, DetectContext, Detector, Span } from './types.js';

type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];
type Template = DefaultTreeAdapterMap['template'];

/** Text kept per text node: link text needs 200 characters; CSS is read from the source. */
const TEXT_KEPT = 256;

/** Elements the walk reads even without attributes (their contents, not their attributes). */
const READ_WITHOUT_ATTRIBUTES = new Set(['style', 'noscript', 'template', 'iframe', 'noembed', 'noframes', 'xmp', 'plaintext', 'select']);

type SourceLocation = NonNullable<Element['sourceCodeLocation']>;

/** Stands for a location nobody reads; never written to. */
const UNREAD: SourceLocation = Object.freeze({ startLine: 0, startCol: 0, startOffset: 0, endLine: 0, endCol: 0, endOffset: 0 });

/**
 * parse5's own tree, with economies that keep a 20 MB part linear and within memory: locations are
 * kept only where the walk reads them (elements with attributes or readable contents, the text of
 * <style>), a location's end is updated in place instead of copied per token, and a text node keeps
 * only its first characters (each word arrives as its own token, appended to an ever longer string).
 */
const LEAN_TREE: TreeAdapter<DefaultTreeAdapterMap> = {
  ...defaultTreeAdapter,
  insertText(parent, text) {
    const prev = parent.childNodes[parent.childNodes.length - 1];
    if (prev && defaultTreeAdapter.isTextNode(prev)) {
      if (prev.value.length < TEXT_KEPT) prev.value += text.slice(0, TEXT_KEPT);
      return;
    }
    defaultTreeAdapter.appendChild(parent, defaultTreeAdapter.createTextNode(text.slice(0, TEXT_KEPT)));
  },
  insertTextBefore(parent, text, reference) {
    const prev = parent.childNodes[parent.childNodes.indexOf(reference) - 1];
    if (prev && defaultTreeAdapter.isTextNode(prev)) {
      if (prev.value.length < TEXT_KEPT) prev.value += text.slice(0, TEXT_KEPT);
      return;
    }
    defaultTreeAdapter.insertBefore(parent, defaultTreeAdapter.createTextNode(text.slice(0, TEXT_KEPT)), reference);
  },
  setNodeSourceCodeLocation(node, location) {
    let keep = location !== null;
    if (keep && defaultTreeAdapter.isTextNode(node)) keep = node.parentNode !== null && 'tagName' in node.parentNode && node.parentNode.tagName === 'style';
    else if (keep && defaultTreeAdapter.isElementNode(node)) keep = node.attrs.length > 0 || READ_WITHOUT_ATTRIBUTES.has(node.tagName);
    // null stays null: parse5 reads it as "implied by the parser" (no end location to set)
    node.sourceCodeLocation = location === null ? null : keep ? location : UNREAD;
  },
  updateNodeSourceCodeLocation(node, end) {
    const loc = node.sourceCodeLocation;
    if (loc === UNREAD) return;
    if (loc) Object.assign(loc, end);
    else node.sourceCodeLocation = { startLine: 0, startCol: 0, startOffset: 0, endLine: 0, endCol: 0, endOffset: 0, ...end };
  },
};

/**
 * parse5's parser, except that an element's location is not copied whole for every element: the
 * start tag's location is shared and only the offsets are the element's own (the copy was most of
 * the garbage on large parts).
 */
class LeanParser extends Parser<DefaultTreeAdapterMap> {
  override _attachElementToTree(element: Element, location: Token.LocationWithAttributes | null): void {
    super._attachElementToTree(element, null);
    if (location)
      this.treeAdapter.setNodeSourceCodeLocation(element, {
        startOffset: location.startOffset,
        endOffset: location.endOffset,
        startTag: location,
        ...(location.attrs ? { attrs: location.attrs } : {}),
      } as SourceLocation);
  }
}

function parseDocument(html: string): DefaultTreeAdapterMap['document'] {
  return LeanParser.parse(html, PARSE_OPTIONS);
}

function parseFragment(html: string): DefaultTreeAdapterMap['documentFragment'] {
  const parser = LeanParser.getFragmentParser(null, PARSE_OPTIONS);
  parser.tokenizer.write(html, true);
  return parser.getFragment();
}

/** Mail clients run no scripts: <noscript> content is markup for them (the other reading is added). */
const PARSE_OPTIONS = { sourceCodeLocationInfo: true, scriptingEnabled: false, treeAdapter: LEAN_TREE } as const;

/** Re-readings nest (a conditional comment inside one, an iframe in an iframe); deeper is refused. */
const MAX_DEPTH = 16;

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

/** Raw-text content the standard never renders but a client without the element shows as markup. */
const FALLBACK_CONTENT = new Set(['iframe', 'noembed', 'noframes', 'xmp', 'plaintext', 'select']);

const HTML_NS = 'http://www.w3.org/1999/xhtml';

export const htmlDetector: Detector = {
  id: 'html',
  contentTypes: ['text/html', 'text/x-amp-html', 'application/xhtml+xml', 'image/svg+xml'],
  detect(text: string, ctx: DetectContext): Candidate[] {
    const walk: Walk = { src: text, out: [], ctx, seen: new Set(), base: undefined, contextBudget: CONTEXT_BUDGET, hiddenBy: hiddenSelectors(text) };
    visit(walk, parseDocument(text), 0, text.length, 0);
    const base = baseHref(walk.base);
    return base ? walk.out.map((c) => ({ ...c, url: resolveAgainst(c.url, base) })) : walk.out;
  },
};

interface Walk {
  readonly src: string;
  readonly out: Candidate[];
  readonly ctx: DetectContext;
  /** Start tags already reported (absolute offsets): re-readings and reconstructed formatting elements meet them again. */
  readonly seen: Set<number>;
  /** The first <base href> of the document. */
  base: string | undefined;
  /** Tree nodes the link sentences may still visit in this part (see sentenceAround). */
  contextBudget: number;
  /** Classes and ids the part's own <style> blocks hide and never show again (see hiddenSelectors). */
  readonly hiddenBy: HiddenSelectors;
}

/** Parse [from, to) of the part as a fragment and walk it. */
function readAgain(w: Walk, from: number, to: number, depth: number, why: string): void {
  if (to <= from) return;
  // the client renders what is inside, however deep: never skip it silently
  if (depth > MAX_DEPTH) throw new RelayError('MIME_MALFORMED', `part ${w.ctx.part}: ${why} nested more than ${MAX_DEPTH} deep; cannot inspect them`);
  visit(w, parseFragment(w.src.slice(from, to)), from, to, depth);
}

/** Document order, with an explicit stack: 10k nested unclosed tags must not overflow the call stack. */
function visit(w: Walk, root: Node, offset: number, limit: number, depth: number): void {
  const { src } = w;
  const stack: Node[] = [root];
  while (stack.length) {
    const node = stack.pop()!;
    if (node.nodeName === '#comment') {
      const loc = node.sourceCodeLocation;
      if (loc && loc !== UNREAD) conditionalComment(w, offset + loc.startOffset, offset + loc.endOffset, depth);
      continue;
    }
    if (!('childNodes' in node)) continue;
    if ('tagName' in node) {
      const el = node;
      const tag = startTagOf(src, el, offset);
      if (tag && !w.seen.has(tag.start)) {
        w.seen.add(tag.start);
        // the first real <base> element counts (not one inside a comment or a style block)
        if (tag.name === 'base' && w.base === undefined) {
          const href = attr(tag, 'href');
          if (href?.value) w.base = href.value.decoded;
        }
        element(w, el, tag, offset);
        const loc = el.sourceCodeLocation!;
        if (el.namespaceURI === HTML_NS && FALLBACK_CONTENT.has(tag.name)) {
          // up to the end tag, or to where the parser closed the element without one
          const end = loc.endTag ? offset + loc.endTag.startOffset : Math.min(offset + loc.endOffset, limit);
          readAgain(w, tag.end, end, depth + 1, 'fallback contents');
        } else if (el.namespaceURI === HTML_NS && tag.name === 'noscript') {
          // a script-enabled parser ends <noscript> at the first "</noscript", even inside an attribute
          const end = loc.endTag ? offset + loc.endTag.startOffset : Math.min(offset + loc.endOffset, limit);
          const close = src.slice(tag.end, end).search(/<\/noscript/i);
          if (close >= 0) readAgain(w, tag.end + close, end, depth + 1, 'noscript contents');
        }
      }
      // template contents are inert, but a client that does not know <template> renders them
      if (el.tagName === 'template' && el.namespaceURI === HTML_NS) stack.push((el as Template).content);
    }
    for (let i = node.childNodes.length - 1; i >= 0; i--) stack.push(node.childNodes[i]!);
  }
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

/** <!--[if mso]> ... <![endif]-->: HTML parsers see a comment, Outlook renders what is inside. */
function conditionalComment(w: Walk, start: number, end: number, depth: number): void {
  const body = w.src.slice(start, end);
  if (!/^<!--\[if\b/i.test(body)) return;
  const open = body.indexOf(']>');
  if (open < 0) return;
  let close = body.toLowerCase().lastIndexOf('<![endif]');
  // no <![endif]: up to the "-->", or to the end when the comment is unterminated (its last
  // characters are then content, e.g. the ">" of a tag inside)
  if (close < 0) close = body.endsWith('-->') ? body.length - 3 : body.length;
  readAgain(w, start + open + 2, start + close, depth + 1, 'conditional comments');
}

function element(w: Walk, el: Element, tag: StartTag, offset: number): void {
  const { src, out } = w;
  const name = tag.name;
  // removing the element removes start tag to end tag when it was really closed, else the start tag
  const endTag = el.sourceCodeLocation?.endTag;
  const whole: Span = endTag ? { start: tag.start, end: offset + endTag.endOffset } : { start: tag.start, end: tag.end };
  const startTagOnly: Span = { start: tag.start, end: tag.end };

  const open = (technique: Technique, a: AttrSpan | undefined, removeAction: Candidate['removeAction'], remove: Span, extra?: Partial<Candidate>): void => {
    if (!a?.value) return;
    const url = a.value.decoded.trim();
    if (!url) return;
    // the slot lets the gate (consent.gate) point a kept remote load at the relay; nothing else rewrites an open-side URL
    out.push({ kind: 'open', technique, url, remove, removeAction, slot: { start: a.value.start, end: a.value.end, quote: a.value.quote, ampEntity: /&amp;/i.test(a.value.raw) }, ...extra });
  };
  const srcset = (a: AttrSpan | undefined, removeAction: Candidate['removeAction'], remove: Span, extra?: Partial<Candidate>): void => {
    if (!a?.value) return;
    for (const url of srcsetUrls(a.value.decoded)) out.push({ kind: 'open', technique: 'srcset', url, remove, removeAction, ...extra });
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
    const decoded = /[&\\]/.test(raw) ? scanCss(decodeCssEscapes(style.value.decoded), 0, 'declarations') : direct;
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
      const signals = sizeSignals(tag, w.hiddenBy);
      const isSvgImage = name === 'image';
      const technique: Technique = isSvgImage ? 'svg-image' : 'img';
      for (const n of ['src', 'lowsrc', 'dynsrc', 'href', 'xlink:href']) open(technique, attr(tag, n), 'remove-element', isSvgImage ? whole : startTagOnly, signals);
      const ss = attr(tag, 'srcset');
      if (ss) srcset(ss, 'remove-attribute', attrSpan(ss), signals);
      break;
    }
    case 'input':
      if (/^image$/i.test(attr(tag, 'type')?.value?.decoded ?? '')) open('input-image', attr(tag, 'src'), 'remove-element', startTagOnly, sizeSignals(tag, w.hiddenBy));
      break;
    case 'source': {
      const parent = el.parentNode && 'tagName' in el.parentNode ? el.parentNode.tagName.toLowerCase() : '';
      const technique: Technique = parent === 'picture' ? 'srcset' : 'media';
      open(technique, attr(tag, 'src'), 'remove-element', startTagOnly);
      const ss = attr(tag, 'srcset');
      if (ss?.value) for (const url of srcsetUrls(ss.value.decoded)) out.push({ kind: 'open', technique, url, remove: startTagOnly, removeAction: 'remove-element' });
      break;
    }
    case 'video':
    case 'audio':
    case 'track':
      open('media', attr(tag, 'src'), 'remove-element', name === 'track' ? startTagOnly : whole);
      if (name === 'video') open('media-poster', attr(tag, 'poster'), 'remove-attribute', attrSpan(attr(tag, 'poster') ?? { name: '', start: 0, end: 0 }));
      break;
    case 'link': {
      const rel = attr(tag, 'rel')?.value?.decoded ?? '';
      open('link-rel', attr(tag, 'href'), 'remove-element', startTagOnly, LINK_ALWAYS.test(rel) ? { alwaysTracking: true } : {});
      break;
    }
    case 'meta': {
      const equiv = attr(tag, 'http-equiv')?.value?.decoded ?? '';
      const content = attr(tag, 'content');
      if (/^refresh$/i.test(equiv.trim()) && content?.value) {
        const m = /url\s*=\s*['"]?([^'"\s]+)/i.exec(content.value.decoded);
        if (m?.[1]) out.push({ kind: 'open', technique: 'meta-refresh', url: m[1], remove: startTagOnly, removeAction: 'remove-element', alwaysTracking: true });
      }
      break;
    }
    case 'html':
      open('manifest', attr(tag, 'manifest'), 'remove-attribute', attrSpan(attr(tag, 'manifest') ?? { name: '', start: 0, end: 0 }), { alwaysTracking: true });
      break;
    case 'style': {
      // an HTML <style> is one run of raw text; in SVG and MathML its text may hold references
      // (decoded by the parser) and markup: when decoding reveals more, the element goes whole
      for (const child of el.childNodes) {
        if (!('value' in child) || !child.sourceCodeLocation || child.sourceCodeLocation === UNREAD) continue;
        const s = offset + child.sourceCodeLocation.startOffset;
        const e = offset + child.sourceCodeLocation.endOffset;
        const raw = src.slice(s, e);
        const direct = scanCss(raw, s, 'sheet');
        const decoded = el.namespaceURI !== HTML_NS && raw.includes('&') ? scanCss(decodeHTML(raw), 0, 'sheet') : direct;
        if (decoded.length > direct.length) {
          for (const ref of decoded) out.push({ kind: 'open', technique: ref.technique, url: ref.url, remove: whole, removeAction: 'remove-element' });
          continue;
        }
        for (const ref of direct) out.push(cssCandidate(ref));
      }
      break;
    }
    case 'a':
    case 'area':
    case 'v:roundrect':
    case 'v:rect':
    case 'v:oval':
    case 'v:shape': {
      const text = textOf(el);
      const context = text.trim().length <= SHORT_LINK_TEXT ? sentenceAround(w, el) : undefined;
      // originalsrc: Outlook Safe Links keeps the pre-wrapping URL here; it must not keep a tracker either
      for (const a of [attr(tag, 'href'), attr(tag, 'originalsrc')]) {
        if (!a?.value) continue;
        const url = a.value.decoded.trim();
        if (!url) continue;
        out.push({
          kind: 'click',
          technique: 'tracked-link',
          url,
          remove: attrSpan(a),
          removeAction: 'neutralise-link',
          slot: { start: a.value.start, end: a.value.end, quote: a.value.quote, ampEntity: /&amp;/i.test(a.value.raw) },
          linkText: text,
          ...(context ? { context } : {}),
        });
      }
      const ping = attr(tag, 'ping');
      if (ping?.value) {
        for (const url of ping.value.decoded.trim().split(/\s+/).filter(Boolean)) {
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
      for (const n of ['src', 'config']) open('amp', attr(tag, n), 'remove-element', whole, always ? { alwaysTracking: true } : sizeSignals(tag, w.hiddenBy));
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
        const first = t.attrs.map((n) => attr(tag, n)).find((a) => a?.value?.decoded.trim());
        open(t.technique, first, 'remove-element', whole, { alwaysTracking: true });
      }
    }
  }
}

function srcsetUrls(value: string): string[] {
  // candidates are "url [descriptor]" separated by commas; a URL itself may contain commas
  const out: string[] = [];
  // no leading \s*: retried at every position of a long whitespace run it made this quadratic
  const re = /([^\s,][^\s]*)(?:\s+[^,]*)?(?:,|$)/g;
  for (let m = re.exec(value); m !== null; m = re.exec(value)) {
    if (m[0] === '') break;
    let url = m[1]!;
    if (url.endsWith(',')) url = url.slice(0, -1);
    if (url) out.push(url);
  }
  return out;
}

/**
 * Declarations that keep an element from being seen: not displayed, invisible, transparent,
 * Outlook-hidden, pushed far off-screen, clipped to nothing or scaled to nothing.
 */
const HIDING =
  /display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$|!)|mso-hide\s*:\s*all|(?:^|[;\s])(?:left|top|right|bottom|margin-left|margin-top|text-indent)\s*:\s*-\d{3,}(?:\.\d+)?(?:px|em|rem)|clip\s*:\s*rect\(\s*0(?:px)?[\s,]+0(?:px)?[\s,]+0(?:px)?[\s,]+0(?:px)?\s*\)|transform\s*:\s*scale\(\s*0(?:\.0+)?\s*\)|(?:^|[;\s])(?:max-)?(?:width|height)\s*:\s*0(?:px|em|%)?\s*(?:;|$|!)/;
/** The opposite: a declaration that shows an element (a responsive rule undoing a hide). */
const SHOWING = /display\s*:\s*(?!none)[a-z-]+|visibility\s*:\s*visible|opacity\s*:\s*(?!0(?:\.0+)?\s*(?:;|$|!))[0-9.]+|(?:^|[;\s])(?:max-)?(?:width|height)\s*:\s*(?!0(?:px|em|%)?\s*(?:;|$|!))[0-9]/;

interface HiddenSelectors {
  readonly classes: ReadonlySet<string>;
  readonly ids: ReadonlySet<string>;
}
const NOTHING_HIDDEN: HiddenSelectors = { classes: new Set(), ids: new Set() };
/** Bounds: a part's style text read, and selectors per rule, as every scan here is bounded. */
const MAX_STYLE_TEXT = 512 * 1024;

/**
 * Classes and ids that the part's <style> blocks hide (`.px{display:none}`, `#o{opacity:0}`,
 * `img.t{width:0;height:0}`) and that no rule anywhere, @media blocks included, shows again: a
 * responsive `.mobile-only{display:none}` undone by `@media (max-width:600px){.mobile-only
 * {display:block}}` is content on phones and stays. Only simple selectors count (a class or id,
 * optionally after a tag name); a selector that also depends on context is not read.
 */
function hiddenSelectors(src: string): HiddenSelectors {
  if (!/<style/i.test(src)) return NOTHING_HIDDEN;
  const hideClass = new Set<string>();
  const hideId = new Set<string>();
  const showClass = new Set<string>();
  const showId = new Set<string>();
  let css = '';
  for (const m of src.matchAll(/<style\b[^>]*>([^<]*(?:<(?!\/style)[^<]*)*)<\/style/gi)) {
    css += `${m[1]!}\n`;
    if (css.length > MAX_STYLE_TEXT) break;
  }
  css = css.slice(0, MAX_STYLE_TEXT).replace(/\/\*[^*]*\*+(?:[^/*][^*]*\*+)*\//g, ' ');
  // rules at the top level hide for every reader; inside @media / @supports they hide only for
  // some (a responsive layout), so there only what they show again counts
  const atDepth: boolean[] = [];
  let from = 0;
  for (let i = 0; i < css.length; i++) {
    const ch = css[i];
    if (ch === '}') {
      atDepth.pop();
      from = i + 1;
    } else if (ch === ';' && atDepth.length === 0) from = i + 1;
    else if (ch === '{') {
      const prelude = css.slice(from, i).trim();
      if (prelude.startsWith('@')) {
        atDepth.push(true);
        from = i + 1;
        continue;
      }
      const close = css.indexOf('}', i);
      const end = close < 0 ? css.length : close;
      const decls = css.slice(i + 1, end).toLowerCase();
      readRule(prelude, decls, atDepth.length > 0);
      i = end;
      from = end + 1;
    }
  }
  function readRule(selectors: string, decls: string, conditional: boolean): void {
    const hides = !conditional && HIDING.test(decls);
    const shows = SHOWING.test(decls);
    if (!hides && !shows) return;
    for (const sel of selectors.split(',').slice(0, 64)) {
      const simple = /^\s*[a-z0-9]*([.#])([a-z0-9_-]+)\s*$/i.exec(sel);
      if (!simple) continue;
      const name = simple[2]!.toLowerCase();
      const [hide, show] = simple[1] === '.' ? [hideClass, showClass] : [hideId, showId];
      if (hides && !shows) hide.add(name);
      if (shows) show.add(name);
    }
  }
  for (const c of showClass) hideClass.delete(c);
  for (const i of showId) hideId.delete(i);
  return hideClass.size || hideId.size ? { classes: hideClass, ids: hideId } : NOTHING_HIDDEN;
}

/** Size and visibility signals used by the tiny/hidden image heuristics. */
function sizeSignals(tag: StartTag, hiddenBy: HiddenSelectors = NOTHING_HIDDEN): { tiny?: boolean; hidden?: boolean } {
  const num = (v: string | undefined): number | null => {
    if (v === undefined) return null;
    const m = /^(\d+(?:\.\d+)?)(px)?$/i.exec(v.trim());
    return m ? Number(m[1]) : null;
  };
  const w = num(decodedValue(attr(tag, 'width')));
  const h = num(decodedValue(attr(tag, 'height')));
  const style = decodedValue(attr(tag, 'style'))?.toLowerCase() ?? '';
  const declared = (prop: string): string | undefined => {
    // declarations split by hand: regexes with adjacent \s* groups were quadratic on long runs of blanks
    for (const decl of style.split(';')) {
      const colon = decl.indexOf(':');
      if (colon < 0) continue;
      const name = decl.slice(0, colon).trim();
      if (name === prop || name === `max-${prop}`)
        return decl
          .slice(colon + 1)
          .replace(/!important/, '')
          .trim();
    }
    return undefined;
  };
  const sw = num(declared('width'));
  const sh = num(declared('height'));
  const small = (v: number | null): boolean => v !== null && v <= 2;
  const tiny = (small(w) && (h === null || small(h))) || (small(h) && (w === null || small(w))) || (small(sw) && (sh === null || small(sh))) || (small(sh) && (sw === null || small(sw)));
  const classes = (decodedValue(attr(tag, 'class')) ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const id = decodedValue(attr(tag, 'id'))?.trim().toLowerCase();
  const hidden = HIDING.test(style) || attr(tag, 'hidden') !== undefined || classes.some((c) => hiddenBy.classes.has(c)) || (id !== undefined && hiddenBy.ids.has(id));
  return { ...(tiny ? { tiny: true } : {}), ...(hidden ? { hidden: true } : {}) };
}

/**
 * The first 200 characters of visible text (alt text counts: image-only unsubscribe buttons are
 * common). Iterative and bounded in nodes too: nested unclosed <a>s put the rest of the document
 * under each link, which made this quadratic (and deep enough to overflow the stack).
 */
/** Link texts this short may say nothing by themselves ("hier", "click here"): their sentence is kept too. */
const SHORT_LINK_TEXT = 24;
/** Nodes visited per block, and in all per part: 20,000 nested links must stay linear. */
const SENTENCE_VISITS = 2000;
const CONTEXT_BUDGET = 200_000;

/** Elements that end a sentence's reach: the sentence of a link never crosses them. */
const BLOCK = new Set([
  'p',
  'div',
  'td',
  'th',
  'li',
  'dd',
  'dt',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'center',
  'section',
  'article',
  'header',
  'footer',
  'address',
  'body',
  'table',
  'tr',
  'ul',
  'ol',
  'form',
]);
/** Inside the block, these break the text as a line would. */
const BREAK = new Set(['br', 'hr', 'p', 'div', 'td', 'th', 'li', 'tr', 'table', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6']);

/**
 * The sentence a link sits in, within its nearest block: the text before the link back to the
 * previous sentence end or line break, the link's own text, and the text after it up to the next
 * one. Bounded (nodes visited per link and per part, characters each side), as every walk over
 * the parsed tree is.
 */
function sentenceAround(w: Walk, link: Element): string | undefined {
  if (w.contextBudget <= 0) return undefined;
  let block: Node | null = link.parentNode;
  for (let up = 0; block && up < 8 && !('tagName' in block && BLOCK.has(block.tagName)); up++) block = 'parentNode' in block ? block.parentNode : null;
  if (!block || !('childNodes' in block)) return undefined;
  const before: string[] = [];
  const after: string[] = [];
  let into = before;
  let visits = Math.min(SENTENCE_VISITS, w.contextBudget);
  const LINK = Symbol('link');
  const stack: (Node | typeof LINK | '\n')[] = [block];
  while (stack.length && visits-- > 0) {
    const node = stack.pop()!;
    if (node === LINK) {
      into = after;
      continue;
    }
    if (node === '\n') {
      into.push('\n');
      if (into === after) break; // the sentence after the link ends here
      continue;
    }
    if (node === link) {
      into.push(' \u0000 ');
      stack.push(LINK);
      continue;
    }
    if (node.nodeName === '#text' && 'value' in node) {
      into.push(node.value);
      if (into === after && /[.!?|]/.test(node.value)) break;
      continue;
    }
    if (!('childNodes' in node)) continue;
    const name = 'tagName' in node ? node.tagName : '';
    if (name === 'style' || name === 'script' || name === 'head' || name === 'title') continue;
    if (BREAK.has(name)) {
      into.push('\n');
      stack.push('\n');
    }
    for (let i = node.childNodes.length - 1; i >= 0; i--) stack.push(node.childNodes[i]!);
  }
  w.contextBudget -= Math.min(SENTENCE_VISITS, w.contextBudget) - Math.max(visits, 0);
  if (into !== after) return undefined; // the budget ran out before the link was met
  const head = before
    .join('')
    .replace(/\s*\u0000\s*$/, '')
    .slice(-200);
  const tail = after.join('');
  const start = Math.max(head.lastIndexOf('\n'), ...['.', '!', '?', '|'].map((c) => head.lastIndexOf(c))) + 1;
  const endAt = tail.search(/[.!?|\n]/);
  const sentence = `${head.slice(start)} ${textOf(link)} ${tail.slice(0, endAt < 0 ? 200 : Math.min(endAt, 200))}`.replace(/\s+/g, ' ').trim();
  return sentence.length > textOf(link).trim().length ? sentence : undefined;
}

function textOf(root: Node): string {
  let left = 200;
  let visits = 5000;
  const parts: string[] = [];
  const stack: Node[] = [root];
  while (stack.length && left > 0 && visits-- > 0) {
    const node = stack.pop()!;
    if (node.nodeName === '#text' && 'value' in node) {
      const t = node.value.slice(0, left);
      left -= t.length;
      parts.push(t);
      continue;
    }
    if (!('childNodes' in node)) continue;
    if ('tagName' in node) {
      const alt = node.attrs.find((a) => a.name === 'alt' && !a.prefix);
      if (alt?.value) {
        parts.push(alt.value);
        continue;
      }
    }
    for (let i = node.childNodes.length - 1; i >= 0; i--) stack.push(node.childNodes[i]!);
  }
  return parts.join('');
}

/** CSS escapes (\\75 rl, \\(…) undone, so "u\\72 l(" is seen as the url( it is. */
function decodeCssEscapes(s: string): string {
  return s.replace(/\\([0-9a-fA-F]{1,6})\s?|\\([^\n0-9a-fA-F])/g, (_m, hex: string | undefined, ch: string | undefined) =>
    hex ? String.fromCodePoint(Math.min(parseInt(hex, 16) || 0xfffd, 0x10ffff)) : (ch ?? ''),
  );
}

function decodedValue(a: AttrSpan | undefined): string | undefined {
  return a?.value?.decoded;
}
