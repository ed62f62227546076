/**
 * Builds raw MIME messages for tests from small pieces, CRLF throughout, so a test states the
 * shape it needs instead of carrying a fixture file. Nothing here normalises or validates: hostile
 * input is the point of some callers.
 */
import iconv from 'iconv-lite';
import { encodeBase64, encodeQP } from '../../src/mime/transfer.js';

export type Cte = '7bit' | '8bit' | 'quoted-printable' | 'base64';

/** A header block and a body, both raw. `headers` lines are joined with CRLF. */
export interface RawPart {
  readonly headers: readonly string[];
  readonly body: Buffer;
}

export const CRLF = '\r\n';

export function bytes(s: string | Buffer): Buffer {
  return typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
}

/** Serialise a part: headers, blank line, body. */
export function serialise(p: RawPart): Buffer {
  return Buffer.concat([bytes(p.headers.join(CRLF) + CRLF + CRLF), p.body]);
}

/** Encode body bytes with a transfer encoding (7bit/8bit: as they are). */
export function encodeWith(body: Buffer, cte: Cte): Buffer {
  if (cte === 'base64') return encodeBase64(body);
  if (cte === 'quoted-printable') return encodeQP(body);
  return body;
}

/** A text part: `text` is encoded to `charset` with iconv, then with `cte`. */
export function textPart(type: string, text: string, opts: { charset?: string; cte?: Cte; extra?: readonly string[] } = {}): RawPart {
  const charset = opts.charset ?? 'utf-8';
  const cte = opts.cte ?? '7bit';
  const raw = iconv.encode(text, charset);
  return {
    headers: [`Content-Type: ${type}; charset="${charset}"`, `Content-Transfer-Encoding: ${cte}`, ...(opts.extra ?? [])],
    body: encodeWith(raw, cte),
  };
}

/** An attachment with the given bytes, base64 unless told otherwise. */
export function attachment(type: string, filename: string, data: Buffer, cte: Cte = 'base64'): RawPart {
  return {
    headers: [`Content-Type: ${type}; name="${filename}"`, `Content-Disposition: attachment; filename="${filename}"`, `Content-Transfer-Encoding: ${cte}`],
    body: encodeWith(data, cte),
  };
}

/** multipart/<subtype> of `children` with `boundary`; the body ends with the closing delimiter. */
export function multipart(subtype: string, children: readonly RawPart[], boundary: string, extraHeaders: readonly string[] = []): RawPart {
  const chunks: Buffer[] = [];
  for (const c of children) chunks.push(bytes(`--${boundary}${CRLF}`), serialise(c), bytes(CRLF));
  chunks.push(bytes(`--${boundary}--${CRLF}`));
  return { headers: [`Content-Type: multipart/${subtype}; boundary="${boundary}"`, ...extraHeaders], body: Buffer.concat(chunks) };
}

/** message/rfc822 part wrapping a whole message. */
export function messagePart(inner: Buffer, cte: Cte = '7bit'): RawPart {
  return { headers: ['Content-Type: message/rfc822', `Content-Transfer-Encoding: ${cte}`], body: encodeWith(inner, cte) };
}

export const TOP_HEADERS: readonly string[] = [
  'From: "Sender" <sender@example.com>',
  'To: alice@example.org',
  'Subject: test message',
  'Date: Tue, 11 Jun 2024 14:02:11 +0000',
  'Message-ID: <test@example.com>',
  'MIME-Version: 1.0',
];

/** A whole message: top-level headers followed by the root part's headers and body. */
export function message(root: RawPart, top: readonly string[] = TOP_HEADERS): Buffer {
  return serialise({ headers: [...top, ...root.headers], body: root.body });
}

/** Small HTML pieces used across tests. */
export const PIXEL_MAILCHIMP = 'https://example.us5.list-manage.com/track/open.php?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=1978efd947&e=f1e2d3c4b5';
export const PIXEL_SENDGRID = 'https://u123.ct.sendgrid.net/wf/open?upn=aBcDeF0123456789aBcDeF';
export const PIXEL_HUBSPOT = 'https://t.hubspotemail.net/e2t/to/VWxyz123/abc';
export const LEGIT_IMAGE = 'https://cdn.example.com/brand/logo.png';

export function img(url: string, tiny = true): string {
  return tiny ? `<img src="${url}" width="1" height="1" alt="">` : `<img src="${url}" width="180" height="48" alt="logo">`;
}

/**
 * A newsletter with `n` trackers in one HTML part, alternately a SendGrid open pixel and a
 * Mailchimp click redirect, each with its own id: every one is a finding of its own.
 */
export function manyTrackers(n: number): Buffer {
  const items: string[] = [];
  for (let i = 0; i < n; i++) {
    items.push(i % 2 ? `<a href="${CLICK_MAILCHIMP}&n=${i}">item ${i}</a>` : img(`${PIXEL_SENDGRID}${i}`));
  }
  return message(textPart('text/html', `<html><body>\r\n${items.join('\r\n')}\r\n</body></html>\r\n`, { cte: '8bit' }));
}
const CLICK_MAILCHIMP = 'https://example.us5.list-manage.com/track/click?u=8a2f6c0e4d1b3a5c7e9f0a1b2&id=1978efd947&e=f1e2d3c4b5';
