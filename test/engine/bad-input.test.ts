/**
 * The engine on hostile input. Every case either processes correctly (structure kept, non-text
 * parts byte-identical, trackers gone) or is refused with a RelayError whose code, SMTP reply and
 * message name the problem and the part. Never a crash, never a hang (each case has a time bound
 * through its test timeout), never output that silently lost a part.
 */
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { RelayError, type ErrorCode } from '../../src/errors.js';
import { partNumber, splitMessage } from '../../src/mime/split.js';
import { decodeBody, transferEncoding } from '../../src/mime/transfer.js';
import { rewriteMessage, type Limits, type RewriteResult } from '../../src/rewrite/engine.js';
import { loadRules } from '../../src/rewrite/rules/index.js';
import { NO_CONSENT } from '../../src/rewrite/types.js';
import {
  CRLF,
  LEGIT_IMAGE,
  PIXEL_HUBSPOT,
  PIXEL_MAILCHIMP,
  PIXEL_SENDGRID,
  TOP_HEADERS,
  attachment,
  bytes,
  encodeWith,
  img,
  message,
  messagePart,
  multipart,
  serialise,
  textPart,
  type RawPart,
} from '../helpers/build.js';
import { leaves, type Leaf } from '../helpers/mime.js';

const rules = loadRules();

const HTML = `<html><body><p>Hello caf\u00e9</p>${img(LEGIT_IMAGE, false)}${img(PIXEL_MAILCHIMP)}</body></html>`;
const html = (opts: Parameters<typeof textPart>[2] = {}, text = HTML): RawPart => textPart('text/html', text, opts);
const plain = (text = 'Hello, plain reader.\r\n'): RawPart => textPart('text/plain', text);
const PDF = Buffer.concat([bytes('%PDF-1.4\n'), Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 31 + 7) % 256)), bytes('\n%%EOF\n')]);

/** Cut `raw` just after the first occurrence of `marker` (plus `extra` bytes). */
function cutAfter(raw: Buffer, marker: string, extra = 0): Buffer {
  const at = raw.indexOf(marker);
  if (at < 0) throw new Error(`marker ${marker} not in message`);
  return raw.subarray(0, at + marker.length + extra);
}

interface Processed {
  readonly outcome: 'processed';
  /** Strings that must be gone from the decoded text parts / must still be there. */
  readonly absent?: readonly string[];
  readonly present?: readonly string[];
  readonly changed?: boolean;
  readonly check?: (r: RewriteResult, raw: Buffer) => void | Promise<void>;
}
interface Refused {
  readonly outcome: 'refused';
  readonly code: ErrorCode;
  /** SMTP reply class: 4 only when a retry of the same bytes can succeed; every content problem is 5. */
  readonly smtpClass: 4 | 5;
  /** The message must name this part ("part 1.2"), or match this pattern. */
  readonly part?: string;
  readonly message?: RegExp;
}
interface Case {
  readonly name: string;
  readonly raw: () => Buffer;
  readonly expect: Processed | Refused;
  readonly limits?: Partial<Limits>;
  /** Time bound for the whole case (building the input included). */
  readonly timeout?: number;
}

function nested(depth: number, inner: RawPart): RawPart {
  let p = inner;
  for (let d = depth; d > 0; d--) p = multipart('mixed', [p], `nest${d}`);
  return p;
}

function rfc822Chain(depth: number, innermost: RawPart): Buffer {
  let msg = message(innermost, [...TOP_HEADERS.filter((h) => !h.startsWith('Subject')), `Subject: level ${depth}`]);
  for (let d = depth - 1; d >= 0; d--) {
    msg = message(multipart('mixed', [plain(`level ${d} body\r\n`), messagePart(msg)], `fwd${d}`), [...TOP_HEADERS.filter((h) => !h.startsWith('Subject')), `Subject: level ${d}`]);
  }
  return msg;
}

const MB = 1024 * 1024;

const CASES: readonly Case[] = [
  // --- truncation -------------------------------------------------------------------------------
  {
    name: 'truncated mid-part (closing boundary missing, after the pixel)',
    raw: () => cutAfter(message(multipart('alternative', [plain(), html()], 'b1')), 'alt="">'),
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP] },
  },
  {
    // the cut leaves "multipart/alt" with no boundary: the client sent these bytes and would send
    // the same ones again, so the refusal is permanent
    name: 'truncated mid-header of the root',
    raw: () => cutAfter(message(multipart('alternative', [plain(), html()], 'b1')), 'Content-Type: multipart/alt'),
    expect: { outcome: 'refused', code: 'MIME_MALFORMED', smtpClass: 5, part: 'part 1', message: /boundary/ },
  },
  {
    name: 'truncated mid-header of a nested html part',
    raw: () => cutAfter(message(multipart('alternative', [plain(), html()], 'b1')), 'Content-Type: text/ht'),
    expect: { outcome: 'processed', changed: false },
  },
  {
    name: 'truncated mid-base64 of an html part (a dangling single base64 char)',
    raw: () => {
      const full = message(multipart('alternative', [plain(), html({ cte: 'base64' })], 'b1'));
      const body = full.indexOf('Content-Transfer-Encoding: base64\r\n\r\n') + 'Content-Transfer-Encoding: base64\r\n\r\n'.length;
      return full.subarray(0, body + 76 + 2 + 5); // one full line, then 5 chars: 5 % 4 == 1
    },
    expect: { outcome: 'refused', code: 'ENCODING_BROKEN', smtpClass: 5, part: 'part 2' },
  },
  {
    name: 'truncated mid-base64 of an html part (whole quanta, pixel inside)',
    raw: () => {
      const full = message(multipart('alternative', [plain(), html({ cte: 'base64' })], 'b1'));
      const body = full.indexOf('Content-Transfer-Encoding: base64\r\n\r\n') + 'Content-Transfer-Encoding: base64\r\n\r\n'.length;
      return full.subarray(0, body + 78 * 5 + 8); // the pixel's tag is complete in the kept bytes
    },
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP], present: ['Hello caf\u00e9', LEGIT_IMAGE] },
  },

  // --- boundaries -------------------------------------------------------------------------------
  {
    name: 'multipart without a boundary parameter',
    raw: () => message({ headers: ['Content-Type: multipart/mixed'], body: serialise(html()) }),
    expect: { outcome: 'refused', code: 'MIME_MALFORMED', smtpClass: 5, part: 'part 1', message: /boundary/ },
  },
  {
    name: 'boundary declared but never used (parts would pass unfiltered)',
    raw: () => {
      const m = multipart('mixed', [plain(), html()], 'used-boundary');
      return message({ headers: ['Content-Type: multipart/mixed; boundary="declared-boundary"'], body: m.body });
    },
    expect: { outcome: 'refused', code: 'MIME_MALFORMED', smtpClass: 5, part: 'part 1', message: /never occurs/ },
  },
  {
    name: 'wrong boundary in a nested multipart',
    raw: () => {
      const inner = multipart('alternative', [plain(), html()], 'inner-real');
      const lying: RawPart = { headers: ['Content-Type: multipart/alternative; boundary="inner-declared"'], body: inner.body };
      return message(multipart('mixed', [lying, attachment('application/pdf', 'a.pdf', PDF)], 'outer'));
    },
    expect: { outcome: 'refused', code: 'MIME_MALFORMED', smtpClass: 5, part: 'part 1', message: /never occurs/ },
  },

  // --- charsets ---------------------------------------------------------------------------------
  {
    name: 'unknown charset on an ASCII html part',
    raw: () => message({ headers: ['Content-Type: text/html; charset="x-made-up-42"', 'Content-Transfer-Encoding: 7bit'], body: bytes(HTML.replace('\u00e9', 'e')) }),
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP], present: [LEGIT_IMAGE, 'Hello cafe'] },
  },
  {
    name: 'unknown charset with UTF-16 bytes',
    raw: () => message({ headers: ['Content-Type: text/html; charset="x-made-up-42"', 'Content-Transfer-Encoding: base64'], body: bytes(iconv.encode(HTML, 'utf-16le').toString('base64')) }),
    expect: { outcome: 'refused', code: 'CHARSET_UNSUPPORTED', smtpClass: 5, part: 'part 1', message: /x-made-up-42/ },
  },
  ...(
    [
      ['utf-16le', 'utf-16le', false],
      ['utf-16be', 'utf-16be', false],
      ['utf-16', 'utf-16le', true], // what Windows writes
      ['utf-16', 'utf-16be', true],
      ['utf-16', 'utf-16be', false], // RFC 2781: no BOM means big-endian
      ['utf-16', 'utf-16le', false],
    ] as const
  ).map(
    ([label, order, bom]): Case => ({
      name: `UTF-16 html part (charset=${label}, ${order} bytes${bom ? ' with BOM' : ''}) with a tracker pixel`,
      raw: () => {
        const text = iconv.encode(HTML, order);
        const body = bom ? Buffer.concat([Buffer.from(order === 'utf-16le' ? [0xff, 0xfe] : [0xfe, 0xff]), text]) : text;
        return message(multipart('alternative', [plain(), { headers: [`Content-Type: text/html; charset="${label}"`, 'Content-Transfer-Encoding: base64'], body: encodeWith(body, 'base64') }], 'u16'));
      },
      expect: {
        outcome: 'processed',
        absent: [PIXEL_MAILCHIMP],
        present: ['Hello caf\u00e9', LEGIT_IMAGE],
        check: async (r) => {
          const part = (await leaves(r.output)).find((l) => l.contentType === 'text/html')!;
          // still UTF-16, same byte order, BOM kept or absent as it was; only the pixel went
          const expected = Buffer.concat([bom ? Buffer.from(order === 'utf-16le' ? [0xff, 0xfe] : [0xfe, 0xff]) : Buffer.alloc(0), iconv.encode(HTML.replace(img(PIXEL_MAILCHIMP), ''), order)]);
          expect(part.bytes.equals(expected), iconv.decode(part.bytes, order)).toBe(true);
        },
      },
    }),
  ),

  // --- transfer encodings -----------------------------------------------------------------------
  {
    name: 'broken base64 in an html part',
    raw: () =>
      message(
        multipart('alternative', [plain(), { headers: ['Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: base64'], body: bytes('PGh0bWw+!!not*base64<img src="x">\r\n') }], 'b64'),
      ),
    expect: { outcome: 'refused', code: 'ENCODING_BROKEN', smtpClass: 5, part: 'part 2', message: /base64/ },
  },
  {
    name: 'broken base64 in a PDF attachment (not inspected, left alone)',
    raw: () => message(multipart('mixed', [html(), { ...attachment('application/pdf', 'r.pdf', PDF), body: bytes('JVBERi0xLjQK!!broken**base64%%\r\nAAA=BBB\r\n') }], 'pdf')),
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP], present: [LEGIT_IMAGE] },
  },
  {
    name: 'broken quoted-printable (lenient)',
    raw: () =>
      message({
        headers: ['Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'],
        body: bytes(`<p>Price =ZZ 5 =\r\nand a stray = sign</p>\r\n<img src=3D"${PIXEL_MAILCHIMP}" width=3D"1" height=3D"1">\r\n<p>end=`),
      }),
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP], present: ['Price =ZZ 5 and a stray = sign'] },
  },
  {
    name: 'unknown Content-Transfer-Encoding on an html part',
    raw: () => message(multipart('alternative', [plain(), html(), { headers: ['Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: x-uuencode'], body: bytes(HTML) }], 'cte')),
    expect: { outcome: 'refused', code: 'ENCODING_UNSUPPORTED', smtpClass: 5, part: 'part 3', message: /x-uuencode/ },
  },
  {
    name: 'unknown Content-Transfer-Encoding on an attachment (left alone)',
    raw: () =>
      message(
        multipart(
          'mixed',
          [
            html(),
            {
              headers: ['Content-Type: application/octet-stream; name="a.bin"', 'Content-Disposition: attachment; filename="a.bin"', 'Content-Transfer-Encoding: x-uuencode'],
              body: bytes('begin 644 a.bin\r\n#0V%T\r\n`\r\nend\r\n'),
            },
          ],
          'cte',
        ),
      ),
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP] },
  },

  // --- headers ----------------------------------------------------------------------------------
  {
    name: '8-bit garbage and NUL bytes in headers',
    raw: () => {
      const garbage = Buffer.from([0x58, 0x2d, 0x47, 0x3a, 0x20, 0xff, 0xfe, 0x00, 0x80, 0x9f, 0x00, 0xc3, 0x28, 0x41]); // "X-G: ..."
      const subject = Buffer.concat([bytes('Subject: caf'), Buffer.from([0xe9, 0x00, 0xff]), bytes(' \x01\x7f')]);
      const top = Buffer.concat([bytes(TOP_HEADERS.filter((h) => !h.startsWith('Subject')).join(CRLF) + CRLF), subject, bytes(CRLF), garbage, bytes(CRLF)]);
      const root = multipart('alternative', [plain(), { ...html(), headers: [...html().headers, 'X-Part: \u00ff\u0000\u0080junk'] }], 'hdr');
      return Buffer.concat([top, serialise(root)]);
    },
    expect: {
      outcome: 'processed',
      absent: [PIXEL_MAILCHIMP],
      check: (r, raw) => {
        const head = (b: Buffer): Buffer => b.subarray(0, b.indexOf('\r\n\r\n'));
        expect(head(r.output).equals(head(raw)), 'top header block byte for byte').toBe(true);
        expect(r.output.includes(bytes('X-Part: \u00ff\u0000\u0080junk'))).toBe(true);
      },
    },
  },
  {
    name: 'a header block over 1 MB',
    raw: () => {
      const filler = Array.from({ length: 12_000 }, (_, i) => `X-Filler-${i}: ${'x'.repeat(90)}`);
      return message(html(), [...TOP_HEADERS, ...filler]);
    },
    expect: { outcome: 'refused', code: 'MESSAGE_TOO_COMPLEX', smtpClass: 5, message: /header/i },
  },

  // --- structure limits ------------------------------------------------------------------------
  {
    name: '200 nested multiparts',
    raw: () => message(nested(200, html())),
    expect: { outcome: 'refused', code: 'MESSAGE_TOO_COMPLEX', smtpClass: 5, message: /nesting/ },
  },
  {
    name: '30 nested multiparts (under the limit) with a pixel at the bottom',
    raw: () => message(nested(30, html())),
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP], present: [LEGIT_IMAGE] },
  },
  {
    name: '900 parts, each with a pixel',
    raw: () =>
      message(
        multipart(
          'mixed',
          Array.from({ length: 900 }, (_, i) => html({}, `<p>part ${i}</p>${img(PIXEL_SENDGRID)}`)),
          'many',
        ),
      ),
    expect: {
      outcome: 'processed',
      absent: [PIXEL_SENDGRID],
      check: (r) => expect(r.findings.length).toBe(900),
    },
    timeout: 60_000,
  },
  {
    name: '5000 parts (over the limit)',
    raw: () =>
      message(
        multipart(
          'mixed',
          Array.from({ length: 5000 }, (_, i) => plain(`part ${i}\r\n`)),
          'many',
        ),
      ),
    expect: { outcome: 'refused', code: 'MESSAGE_TOO_COMPLEX', smtpClass: 5 },
    timeout: 60_000,
  },

  // --- hostile HTML -----------------------------------------------------------------------------
  {
    name: '10,000 nested unclosed <font> tags with a pixel at the bottom',
    raw: () => message(html({}, `<html><body>${'<font size="2">'.repeat(10_000)}<p>deep</p>${img(PIXEL_MAILCHIMP)}</body></html>`)),
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP], present: ['<p>deep</p>'] },
  },
  {
    name: '20,000 nested unclosed links with a pixel at the bottom',
    raw: () => message(html({}, `${'<a href="https://shop.example.com/item">'.repeat(20_000)}${img(PIXEL_SENDGRID)}`)),
    expect: { outcome: 'processed', absent: [PIXEL_SENDGRID], present: ['https://shop.example.com/item'] },
  },
  {
    name: 'srcset of 1 MB of whitespace',
    raw: () => message(html({}, `<img srcset="${' '.repeat(MB)}" src="${LEGIT_IMAGE}">${img(PIXEL_MAILCHIMP)}`)),
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP], present: [LEGIT_IMAGE] },
  },
  {
    name: 'conditional comment nested in a conditional comment (Outlook renders the pixel)',
    raw: () => message(html({}, `<p>x</p><!--[if mso]><!--[if gte mso 9]>${img(PIXEL_HUBSPOT)}<![endif]--><![endif]-->`)),
    expect: { outcome: 'processed', absent: [PIXEL_HUBSPOT], present: ['<p>x</p>'] },
  },
  {
    name: 'conditional comments nested 20 deep (refused rather than skipped)',
    raw: () => message(html({}, `<p>x</p>${'<!--[if mso]>'.repeat(20)}${img(PIXEL_HUBSPOT)}${'<![endif]-->'.repeat(20)}`)),
    expect: { outcome: 'refused', code: 'MIME_MALFORMED', smtpClass: 5, message: /conditional comments nested/ },
  },
  {
    name: 'two Content-Type headers that disagree (a client might render the one not inspected)',
    raw: () => bytes(`From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\n\r\n${img(PIXEL_MAILCHIMP)}\r\n`),
    expect: { outcome: 'refused', code: 'MIME_MALFORMED', smtpClass: 5, message: /conflicting Content-Type/ },
  },
  {
    name: 'unterminated conditional comment at the end of the part',
    raw: () => message(html({}, `<p>x</p><!--[if mso]>${img(PIXEL_HUBSPOT)}`)),
    expect: { outcome: 'processed', absent: [PIXEL_HUBSPOT], present: ['<p>x</p>'] },
  },

  // --- size -------------------------------------------------------------------------------------
  {
    name: '20 MB html part with trackers at the start and the end',
    raw: () => {
      const para = '<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit. Caf\u00e9 na\u00efve.</p>\r\n';
      const body = `<html><body>${img(PIXEL_HUBSPOT)}\r\n${para.repeat(Math.ceil((20 * MB) / para.length))}${img(PIXEL_MAILCHIMP)}</body></html>\r\n`;
      return message(multipart('alternative', [plain(), html({ cte: 'quoted-printable' }, body)], 'big'));
    },
    expect: {
      outcome: 'processed',
      absent: [PIXEL_HUBSPOT, PIXEL_MAILCHIMP],
      check: (r) => expect(r.findings.filter((f) => f.action === 'remove-element').length).toBe(2),
    },
    timeout: 120_000,
  },
  {
    name: '20 MB single line without line breaks (8bit html)',
    raw: () => {
      const body = `<html><body>${img(PIXEL_SENDGRID)}${'<span>x</span>'.repeat(Math.ceil((20 * MB) / 14))}${img(PIXEL_MAILCHIMP)}</body></html>`;
      return message({ headers: ['Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: 8bit'], body: bytes(body) });
    },
    expect: { outcome: 'processed', absent: [PIXEL_SENDGRID, PIXEL_MAILCHIMP] },
    timeout: 120_000,
  },
  {
    name: 'text part over the inspection limit (refused, never passed unfiltered)',
    raw: () => message(html({}, `${img(PIXEL_MAILCHIMP)}${'a'.repeat(3 * MB)}`)),
    limits: { maxTextPartBytes: 1 * MB },
    expect: { outcome: 'refused', code: 'MESSAGE_TOO_BIG', smtpClass: 5, part: 'part 1' },
  },

  // --- line endings and degenerate messages ----------------------------------------------------
  {
    name: 'LF-only line endings (output is CRLF)',
    raw: () =>
      bytes(
        message(multipart('alternative', [plain(), html()], 'lf'))
          .toString('latin1')
          .replace(/\r\n/g, '\n'),
      ),
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP], present: [LEGIT_IMAGE] },
  },
  {
    name: 'empty message',
    raw: () => Buffer.alloc(0),
    expect: { outcome: 'processed', changed: false },
  },
  {
    name: 'headers only, no blank line, no body',
    raw: () => bytes(TOP_HEADERS.join(CRLF) + CRLF),
    expect: { outcome: 'processed', changed: false },
  },
  {
    name: 'headers only, html content type, empty body',
    raw: () => bytes([...TOP_HEADERS, 'Content-Type: text/html'].join(CRLF) + CRLF + CRLF),
    expect: { outcome: 'processed', changed: false },
  },
  {
    name: 'message/rfc822 nested 3 deep with a tracker at the bottom',
    raw: () => rfc822Chain(3, multipart('alternative', [plain(), html()], 'deep')),
    expect: { outcome: 'processed', absent: [PIXEL_MAILCHIMP], present: [LEGIT_IMAGE, 'level 0 body', 'level 2 body'] },
  },
];

/** Leaves that must survive any rewrite: same list, non-text parts byte for byte. */
function sameStructure(before: Leaf[], after: Leaf[]): void {
  expect(after.map((l) => `${l.part} ${l.contentType} ${l.disposition || ''}`)).toEqual(before.map((l) => `${l.part} ${l.contentType} ${l.disposition || ''}`));
  after.forEach((l, i) => {
    if (!l.contentType.startsWith('text/') && !l.contentType.startsWith('message/') && !l.contentType.startsWith('multipart/')) {
      expect(l.raw.equals(before[i]!.raw), `part ${l.part} (${l.contentType}) byte-identical`).toBe(true);
    }
  });
}

function decoded(ls: Leaf[]): string {
  return ls.map((l) => l.text ?? '').join('\n');
}

/**
 * `leaves`, tolerating parts whose transfer encoding cannot be undone (a broken attachment we
 * leave alone): such a part keeps its raw bytes and has no text.
 */
async function tolerantLeaves(raw: Buffer): Promise<Leaf[]> {
  try {
    return await leaves(raw);
  } catch {
    const chunks = await splitMessage(raw, { maxParts: 10_000, maxHeadBytes: 1 << 20 });
    const out: Leaf[] = [];
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      if (c.type !== 'node' || c.multipart) continue;
      const body: Buffer[] = [];
      while (chunks[i + 1]?.type === 'body') body.push((chunks[++i] as { value: Buffer }).value);
      const rawBody = Buffer.concat(body);
      const ct = (c.contentType || 'text/plain').toLowerCase();
      const part = partNumber(c);
      let decodedBytes: Buffer | null = null;
      try {
        decodedBytes = decodeBody(rawBody, transferEncoding(c.encoding, part), part);
      } catch {
        decodedBytes = null;
      }
      const charset = (c.charset || 'us-ascii').toLowerCase();
      const text = ct.startsWith('text/') && decodedBytes ? iconv.decode(decodedBytes, iconv.encodingExists(charset) ? charset : 'latin1') : null;
      out.push({ part, contentType: ct, disposition: c.disposition, raw: rawBody, bytes: decodedBytes ?? rawBody, text });
    }
    return out;
  }
}

describe('engine on hostile input', () => {
  for (const c of CASES) {
    it(
      c.name,
      async () => {
        const raw = c.raw();
        const run = rewriteMessage(raw, { consent: NO_CONSENT, rules, recipients: ['alice@example.org'], ...(c.limits ? { limits: c.limits } : {}) });
        if (c.expect.outcome === 'refused') {
          const e = c.expect;
          const err: unknown = await run.then(
            (r) => new Error(`expected refusal ${e.code}, got output (changed=${r.changed}, ${r.findings.length} findings)`),
            (x: unknown) => x,
          );
          expect(err, String(err)).toBeInstanceOf(RelayError);
          const re = err as RelayError;
          expect(re.code, re.message).toBe(e.code);
          expect(re.spec.temporary, 'temporary bit').toBe(e.smtpClass === 4);
          expect(Math.floor(re.responseCode / 100), 'SMTP reply class').toBe(e.smtpClass);
          expect(re.temporary).toBe(e.smtpClass === 4);
          expect(re.smtpText()).toMatch(/^[45]\.\d+\.\d+ \S/);
          if (e.part) expect(re.message).toContain(e.part);
          if (e.message) expect(re.message).toMatch(e.message);
          return;
        }
        const e = c.expect;
        let r: RewriteResult;
        try {
          r = await run;
        } catch (err) {
          throw new Error(`expected the message to be processed, got ${err instanceof RelayError ? `${err.code}: ${err.message}` : String(err)}`, { cause: err });
        }
        if (e.changed !== undefined) expect(r.changed, 'changed').toBe(e.changed);
        if (!r.changed) expect(r.output.equals(raw), 'unchanged output is the input').toBe(true);
        else expect(/(^|[^\r])\n|\r(?!\n)/.test(r.output.toString('latin1')), 'CRLF only').toBe(false);

        const before = await tolerantLeaves(raw);
        const after = await tolerantLeaves(r.output);
        sameStructure(before, after);
        const text = decoded(after);
        for (const s of e.absent ?? []) expect(text.includes(s), `"${s.slice(0, 60)}" must be gone`).toBe(false);
        for (const s of e.present ?? []) expect(text.includes(s), `"${s.slice(0, 60)}" must remain`).toBe(true);
        if (e.absent?.length) expect(r.changed, 'a tracker was removed').toBe(true);
        await e.check?.(r, raw);
      },
      c.timeout ?? 20_000,
    );
  }
});
