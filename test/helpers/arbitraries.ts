/**
 * fast-check arbitraries for whole messages. A message is generated as a plain spec (a tree of
 * multiparts and leaves, each leaf a list of pieces), then built into bytes by `buildMessage`,
 * which also returns what the message contains: which tracker markers must disappear without
 * consent and which URLs and texts must survive any rewrite.
 */
import fc from 'fast-check';
import { CRLF, attachment, message, multipart, textPart, type Cte, type RawPart } from './build.js';

type Charset = 'utf-8' | 'iso-8859-1' | 'windows-1252' | 'utf-16le';

/** A destination URL built from safe words: nothing in it looks like a tracker to any rule. */
interface Dest {
  readonly host: string;
  readonly path: readonly string[];
  readonly ref: string | null;
}

type Piece =
  | { readonly kind: 'text'; readonly text: string; readonly trail: string }
  | { readonly kind: 'pixel'; readonly vendor: 'mailchimp' | 'sendgrid' | 'hubspot'; readonly token: string; readonly style: 'tiny' | 'none' | 'hidden' | 'css'; readonly amp: boolean }
  | { readonly kind: 'image'; readonly word: string; readonly n: number }
  | { readonly kind: 'google'; readonly dest: Dest; readonly amp: boolean }
  | { readonly kind: 'mailchimp-click'; readonly token: string; readonly amp: boolean }
  | { readonly kind: 'ses'; readonly dest: Dest }
  | { readonly kind: 'link'; readonly dest: Dest; readonly param: 'mc_eid' | '_hsenc' | null; readonly token: string; readonly amp: boolean };

type LeafSpec =
  | { readonly kind: 'html'; readonly charset: Charset; readonly cte: Cte; readonly pieces: readonly Piece[] }
  | { readonly kind: 'plain'; readonly charset: Charset; readonly cte: Cte; readonly pieces: readonly Piece[] }
  | { readonly kind: 'file'; readonly type: string; readonly data: Uint8Array; readonly inline: boolean };

type NodeSpec = LeafSpec | { readonly kind: 'multipart'; readonly subtype: 'alternative' | 'mixed' | 'related'; readonly children: readonly NodeSpec[] };

export interface MessageSpec {
  readonly subject: readonly string[];
  readonly root: NodeSpec;
}

export interface BuiltMessage {
  readonly raw: Buffer;
  /** Substrings that mark a tracker: none may remain in decoded text without consent. */
  readonly trackerMarkers: readonly string[];
  /** Legitimate image URLs and link destinations: all must remain. */
  readonly keep: readonly string[];
  /** Text pieces, as written: all must remain. */
  readonly texts: readonly string[];
  readonly trackers: number;
}

/** Substrings only tracker URLs contain (and the per-recipient parameters). */
const TRACKER_MARKERS: readonly string[] = ['list-manage.com/track/', 'sendgrid.net/wf/open', 't.hubspotemail.net', 'google.com/url', 'awstrack.me', 'mc_eid=', '_hsenc='];

// Words that no tracker rule or beacon heuristic matches (no "open", "track", "pixel", "t", ...).
const WORDS = ['coffee', 'summer', 'guides', 'article', 'news', 'products', 'roast', 'beans', 'brew', 'spring-sale', '2024', 'origin', 'kettle', 'grinder'] as const;
const HOSTS = ['www.example.com', 'shop.example.net', 'blog.example.org', 'docs.example.io'] as const;
const LATIN1_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?()-\u00e9\u00fc\u00df\u00f1\u00f8\u00c5\u00a1\u00ab\u00bb\u00a9\u00e7\u00e0';
const UTF8_EXTRA = '\u20ac\u2014\u65e5\u672c\u8a9e\u00e6\u0142\u0107\u{1f600}';

const hex = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: min, maxLength: max });
const token = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'), minLength: 12, maxLength: 24 });

const dest: fc.Arbitrary<Dest> = fc.record({
  host: fc.constantFrom(...HOSTS),
  path: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 }),
  ref: fc.option(fc.constantFrom(...WORDS), { nil: null }),
});

function destUrl(d: Dest, withRef = true): string {
  return `https://${d.host}/${d.path.join('/')}${withRef && d.ref ? `?ref=${d.ref}` : ''}`;
}

function textArb(charset: Charset): fc.Arbitrary<string> {
  const chars = charset === 'utf-8' || charset === 'utf-16le' ? [...LATIN1_CHARS, ...UTF8_EXTRA] : [...LATIN1_CHARS];
  // at least one letter at each end so that pieces never run into each other or into a URL
  return fc.string({ unit: fc.constantFrom(...chars), minLength: 1, maxLength: 160 }).map((s) => `W${s.trim()}w`);
}

function pieceArb(charset: Charset, html: boolean): fc.Arbitrary<Piece> {
  const amp = fc.boolean();
  const common: fc.Arbitrary<Piece>[] = [
    // trailing blanks: quoted-printable must protect them when the part is re-encoded
    fc.record({ kind: fc.constant('text' as const), text: textArb(charset), trail: fc.constantFrom('', '', ' ', '\t', '   ') }),
    fc.record({ kind: fc.constant('google' as const), dest, amp }),
    fc.record({ kind: fc.constant('mailchimp-click' as const), token: hex(10, 10), amp }),
    fc.record({ kind: fc.constant('ses' as const), dest: dest.map((d) => ({ ...d, ref: null })) }),
    fc.record({ kind: fc.constant('link' as const), dest, param: fc.constantFrom('mc_eid' as const, '_hsenc' as const, null), token, amp }),
  ];
  if (!html) return fc.oneof(...common);
  return fc.oneof(
    ...common,
    fc.record({
      kind: fc.constant('pixel' as const),
      vendor: fc.constantFrom('mailchimp' as const, 'sendgrid' as const, 'hubspot' as const),
      token,
      style: fc.constantFrom('tiny' as const, 'none' as const, 'hidden' as const, 'css' as const),
      amp,
    }),
    fc.record({ kind: fc.constant('image' as const), word: fc.constantFrom(...WORDS), n: fc.nat(999) }),
  );
}

const cte = fc.constantFrom<Cte>('7bit', '8bit', 'quoted-printable', 'base64');
const charset = fc.constantFrom<Charset>('utf-8', 'utf-8', 'iso-8859-1', 'windows-1252', 'utf-16le');

const textLeaf = (kind: 'html' | 'plain'): fc.Arbitrary<LeafSpec> =>
  fc
    .tuple(charset, cte)
    // UTF-16 text is full of NULs and bare LF/CR bytes: only base64 carries it
    .map(([cs, enc]): [Charset, Cte] => [cs, cs === 'utf-16le' ? 'base64' : enc])
    .chain(([cs, enc]) => fc.array(pieceArb(cs, kind === 'html'), { minLength: 0, maxLength: 12 }).map((pieces): LeafSpec => ({ kind, charset: cs, cte: enc, pieces })));

const fileLeaf: fc.Arbitrary<LeafSpec> = fc.record({
  kind: fc.constant('file' as const),
  type: fc.constantFrom('application/pdf', 'image/png', 'application/octet-stream', 'image/gif'),
  data: fc.uint8Array({ minLength: 0, maxLength: 3000 }),
  inline: fc.boolean(),
});

const leaf: fc.Arbitrary<LeafSpec> = fc.oneof({ arbitrary: textLeaf('html'), weight: 3 }, { arbitrary: textLeaf('plain'), weight: 2 }, { arbitrary: fileLeaf, weight: 1 });

const nodeArb: fc.Arbitrary<NodeSpec> = fc.letrec<{ node: NodeSpec }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({
      kind: fc.constant('multipart' as const),
      subtype: fc.constantFrom('alternative' as const, 'mixed' as const, 'related' as const),
      children: fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
    }),
  ),
})).node;

export const messageArb: fc.Arbitrary<MessageSpec> = fc.record({
  subject: fc.array(fc.constantFrom(...WORDS, 'caf\u00e9', 'Gr\u00fc\u00dfe'), { minLength: 1, maxLength: 6 }),
  root: nodeArb,
});

/** Builds the bytes and the expectations. Deterministic for a given spec. */
export function buildMessage(spec: MessageSpec): BuiltMessage {
  const keep: string[] = [];
  const texts: string[] = [];
  let trackers = 0;
  let boundaries = 0;

  const renderPiece = (p: Piece, html: boolean): string => {
    const a = (s: string, amp: boolean): string => (html && amp ? s.replace(/&/g, '&amp;') : s);
    switch (p.kind) {
      case 'text':
        texts.push(html ? `<p>${p.text}</p>${p.trail}` : `${p.text}${p.trail}${CRLF}`);
        return html ? `<p>${p.text}</p>${p.trail}` : `${p.text}${p.trail}${CRLF}`;
      case 'image': {
        const url = `https://cdn.example.com/images/${p.word}-${p.n}.jpg`;
        keep.push(url);
        return `<img src="${url}" width="600" height="300" alt="${p.word}">`;
      }
      case 'pixel': {
        trackers++;
        const url =
          p.vendor === 'mailchimp'
            ? `https://example.us5.list-manage.com/track/open.php?u=${p.token}&id=1978efd947&e=${p.token.slice(0, 10)}`
            : p.vendor === 'sendgrid'
              ? `https://u123.ct.sendgrid.net/wf/open?upn=${p.token}`
              : `https://t.hubspotemail.net/e2t/to/${p.token}/abc`;
        if (p.style === 'css') {
          keep.push('color:#333;');
          return `<div style="color:#333;background-image:url('${a(url, p.amp)}');padding:0">x</div>`;
        }
        const attrs = p.style === 'tiny' ? ' width="1" height="1" alt=""' : p.style === 'hidden' ? ' style="display:none"' : '';
        return `<img src="${a(url, p.amp)}"${attrs}>`;
      }
      case 'google': {
        trackers++;
        const d = destUrl(p.dest);
        keep.push(d);
        const url = `https://www.google.com/url?q=${encodeURIComponent(d)}&sa=D&source=editors&usg=AOvVaw0${p.dest.path.length}x`;
        return html ? `<a href="${a(url, p.amp)}">${p.dest.path[0]}</a>` : `See ${url}${CRLF}`;
      }
      case 'mailchimp-click': {
        trackers++;
        const url = `https://example.us5.list-manage.com/track/click?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=${p.token}&e=f1e2d3c4b5`;
        return html ? `<a href="${a(url, p.amp)}">Shop now</a>` : `Shop: ${url}${CRLF}`;
      }
      case 'ses': {
        trackers++;
        const d = destUrl(p.dest, false);
        keep.push(d);
        const url = `https://q8x2k5m1.r.us-east-1.awstrack.me/L0/${d.replace(/\//g, '%2F')}/1/0100018f3a8b7c2d-5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9-000000/Vt3yJ0sDKp9mQe1bXh2aLr4N5oA=367`;
        return html ? `<a href="${url}">${p.dest.path[0]}</a>` : `Read ${url}${CRLF}`;
      }
      case 'link': {
        const d = destUrl(p.dest);
        keep.push(d);
        if (p.param) trackers++;
        const url = p.param ? `${d}${p.dest.ref ? '&' : '?'}${p.param}=${p.token}` : d;
        return html ? `<a href="${a(url, p.amp)}">${p.dest.path[0]}</a>` : `Link ${url}${CRLF}`;
      }
    }
  };

  const build = (n: NodeSpec): RawPart => {
    switch (n.kind) {
      case 'multipart': {
        // fixed width so that no boundary is a prefix of another
        const b = `=_b${String(boundaries++).padStart(3, '0')}_q7`;
        return multipart(n.subtype, n.children.map(build), b);
      }
      case 'file': {
        const ext = n.type.split('/')[1] ?? 'bin';
        const p = attachment(n.type, `file-${boundaries}.${ext}`, Buffer.from(n.data));
        return n.inline
          ? { headers: [...p.headers.filter((h) => !h.startsWith('Content-Disposition')), `Content-ID: <img${boundaries}@example.com>`, 'Content-Disposition: inline'], body: p.body }
          : p;
      }
      case 'html': {
        const body = n.pieces.map((p) => renderPiece(p, true)).join(CRLF);
        return textPart('text/html', `<!DOCTYPE html>${CRLF}<html><body>${CRLF}${body}${CRLF}</body></html>${CRLF}`, { charset: n.charset, cte: n.cte });
      }
      case 'plain':
        return textPart('text/plain', n.pieces.map((p) => renderPiece(p, false)).join(''), { charset: n.charset, cte: n.cte });
    }
  };

  const root = build(spec.root);
  const top = [
    'From: "Sender" <sender@example.com>',
    'To: alice@example.org',
    `Subject: =?utf-8?B?${Buffer.from(spec.subject.join(' ')).toString('base64')}?=`,
    'Date: Tue, 11 Jun 2024 14:02:11 +0000',
    'Message-ID: <prop@example.com>',
    'MIME-Version: 1.0',
  ];
  return { raw: message(root, top), trackerMarkers: TRACKER_MARKERS, keep, texts, trackers };
}
