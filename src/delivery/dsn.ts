import { randomBytes } from 'node:crypto';

import type { Envelope, RecipientFailure } from './types.js';
import { oneLine, parseReply } from './reply.js';

/**
 * RFC 3464 delivery status notifications (bounces) for recipients the relay gave up on.
 *
 * The DSN is sent with the null envelope sender (RFC 5321 §4.5.5, RFC 3464 §2): whoever cannot
 * deliver it must not bounce it back, which is what stops bounce loops. The caller sends it to
 * `originalEnvelope.from` and must not build one for a null-sender message.
 */

export interface DsnInput {
  /** Our host name, as in Reporting-MTA and MAILER-DAEMON@<name>. */
  readonly reportingMta: string;
  readonly originalEnvelope: Envelope;
  readonly failures: readonly RecipientFailure[];
  /** The header block of the original message (body not included: RFC 3462 text/rfc822-headers). */
  readonly originalHeaders: Buffer;
  readonly arrivalDate: Date;
  /** Defaults to now; settable for reproducible output. */
  readonly date?: Date;
  /** Defaults to random; settable for reproducible output. */
  readonly boundary?: string;
}

/** The SMTP null-sender envelope for a DSN to `sender`. */
export function dsnEnvelope(sender: string): Envelope {
  return { from: '', to: [sender] };
}

export function buildDsn(input: DsnInput): Buffer {
  const mta = oneLine(input.reportingMta);
  const sender = oneLine(input.originalEnvelope.from);
  const date = input.date ?? new Date();
  const boundary = input.boundary ?? `=_dsn_${randomBytes(12).toString('hex')}`;
  const messageId = `<dsn.${date.getTime().toString(36)}.${randomBytes(6).toString('hex')}@${mta}>`;
  const temporaryOnly = input.failures.every((f) => f.temporary);

  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${mta}>`,
    `To: <${sender}>`,
    `Subject: Undelivered Mail Returned to Sender`,
    `Date: ${rfc5322Date(date)}`,
    `Message-ID: ${messageId}`,
    // RFC 3834: an automatic message; well-behaved responders will not answer it.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;`,
    `\tboundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
  ];

  const human = [
    `This is the mail system at host ${mta}.`,
    '',
    temporaryOnly ? 'Your message could not be delivered to the following recipients within the time the' : 'Your message could not be delivered to the following recipients.',
    ...(temporaryOnly ? ['relay keeps trying; it has given up.'] : []),
    '',
    ...input.failures.map((f) => `<${oneLine(f.recipient)}>: ${oneLine(f.response) || String(f.code)}`),
    '',
  ];
  const nonAscii = /[^\x00-\x7f]/.test(human.join(''));

  const status = [
    `Reporting-MTA: dns; ${mta}`,
    `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`,
    ...input.failures.flatMap((f) => [
      '',
      `Final-Recipient: rfc822; ${oneLine(f.recipient)}`,
      'Action: failed',
      `Status: ${statusOf(f)}`,
      `Diagnostic-Code: smtp; ${oneLine(f.response) || String(f.code)}`,
    ]),
    '',
  ];

  const text = (lines: string[]): string => lines.join('\r\n');
  const parts: Array<string | Buffer> = [
    text(head),
    `\r\n--${boundary}\r\n`,
    text([`Content-Type: text/plain; charset=${nonAscii ? 'utf-8' : 'us-ascii'}`, `Content-Transfer-Encoding: ${nonAscii ? '8bit' : '7bit'}`, 'Content-Description: Notification', '', ...human]),
    `\r\n--${boundary}\r\n`,
    text(['Content-Type: message/delivery-status', 'Content-Description: Delivery report', '', ...status]),
    `\r\n--${boundary}\r\n`,
    text(['Content-Type: text/rfc822-headers', 'Content-Description: Undelivered message headers', '', '']),
    headerBlock(input.originalHeaders),
    `\r\n--${boundary}--\r\n`,
  ];
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}

/**
 * RFC 3464 Status: the upstream's enhanced code when it gave one, else one derived from the reply
 * class. A recipient we gave up on after temporary failures keeps its 4.x.x status (as sendmail
 * does) so the sender can see the problem was never a permanent refusal; 4.4.7 = delivery time expired.
 */
function statusOf(f: RecipientFailure): string {
  const parsed = parseReply(f.response);
  if (parsed.enhanced !== null) return parsed.enhanced;
  if (f.temporary) return '4.4.7';
  return f.code >= 500 && f.code < 600 ? '5.0.0' : '4.4.7';
}

/** The original header block, CRLF line endings, ending with exactly one CRLF. */
function headerBlock(headers: Buffer): Buffer {
  const bytes = headers
    .toString('latin1')
    .replace(/\r?\n|\r/g, '\r\n')
    .replace(/(\r\n)+$/, '');
  return Buffer.from(`${bytes}\r\n`, 'latin1');
}

/** The header block of a raw message (everything before the first empty line). */
export function extractHeaders(raw: Buffer): Buffer {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const ends = [crlf >= 0 ? crlf + 2 : -1, lf >= 0 ? lf + 1 : -1].filter((n) => n >= 0);
  return ends.length === 0 ? raw : raw.subarray(0, Math.min(...ends));
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 date-time in UTC with a numeric zone ("GMT" is obsolete syntax). */
export function rfc5322Date(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` + `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
