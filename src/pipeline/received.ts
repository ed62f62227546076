/**
 * The `Received:` trace header (RFC 5321 4.4, RFC 5322 3.6.7) every copy carries when it leaves:
 * which client handed the message over (its HELO name and IP), which relay took it, how, and
 * under which queue id, so the upstream and the recipient can trace the hop.
 *
 *   Received: from client.example ([127.0.0.1])
 *   	by relay.example (consent-relay) with ESMTP id 3kq7TtPbGxV0
 *   	for <alice@example.org>; Mon, 30 Nov 2026 02:05:00 +0000
 *
 * It is prepended to the received bytes before the engine runs, so the bytes the engine returns,
 * which are exactly the bytes delivered, carry it (the engine never edits header blocks).
 * Everything that comes from the client is reduced to what the syntax allows, so a HELO string
 * cannot end the header early and forge another.
 */
import { rfc5322Date } from '../delivery/dsn.js';

/** What the listener knew about the client when DATA ended. */
export interface TraceInfo {
  /** The HELO/EHLO argument exactly as the client sent it (untrusted). */
  readonly helo: string;
  /** The client's IP address as the socket reports it. */
  readonly clientAddress: string;
  /** Our own name on the listener that took the message (config `hostname`). */
  readonly by: string;
  /** EHLO (ESMTP) or plain HELO (SMTP). */
  readonly esmtp: boolean;
  /** The session ran under TLS. */
  readonly tls: boolean;
  /**
   * Set when the session authenticated (submission listeners): the protocol says so (ESMTPA,
   * RFC 3848) and the login is named, as Postfix's smtpd_sasl_authenticated_header does, so that
   * a message can be traced to the account that sent it (a stolen password shows up there).
   */
  readonly auth?: { readonly user: string };
  /** When the message was received: one date for every copy of the transaction. */
  readonly at: Date;
}

/**
 * The complete header field, folded, ending in CRLF. `recipient` is the copy's only envelope
 * recipient, or null when the copy has several: naming one of them to the others would disclose
 * Bcc recipients, so, as most MTAs do, `for` appears only on single-recipient copies.
 */
export function receivedHeader(trace: TraceInfo, queueId: string, recipient: string | null): string {
  const literal = addressLiteral(trace.clientAddress);
  const from = `from ${heloName(trace.helo)}${literal ? ` (${literal})` : ''}${trace.auth ? `\r\n\t(Authenticated sender: ${domainOrUnknown(trace.auth.user)})` : ''}`;
  const by = `by ${domainOrUnknown(trace.by)} (consent-relay) with ${protocol(trace)} id ${atom(queueId)}`;
  const forClause = recipient !== null && isPlainPath(recipient) ? `\r\n\tfor <${recipient}>` : '';
  return `Received: ${from}\r\n\t${by}${forClause}; ${rfc5322Date(trace.at)}\r\n`;
}

/** RFC 3848 protocol names: ESMTP, ESMTPS (TLS), ESMTPA (authenticated), ESMTPSA; SMTP for HELO. */
export function protocol(trace: Pick<TraceInfo, 'esmtp' | 'tls' | 'auth'>): string {
  if (!trace.esmtp) return 'SMTP';
  return `ESMTP${trace.tls ? 'S' : ''}${trace.auth ? 'A' : ''}`;
}

const LITERAL = /^\[(?:IPv6:)?[0-9A-Fa-f:.]{2,45}\]$/;

/**
 * The HELO name: kept as given when it is a host name or an address literal; otherwise every
 * character outside letters, digits, '.', '-' and '_' becomes '?' (Windows machine names carry
 * '_'), which keeps the header one structured line whatever the client sent.
 */
export function heloName(helo: string): string {
  const h = helo.trim();
  if (LITERAL.test(h)) return h;
  return domainOrUnknown(h);
}

function domainOrUnknown(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '?').slice(0, 255);
  return cleaned || 'unknown';
}

/** The client's IP as an RFC 5321 address literal, or '' if the socket gave none we can write. */
export function addressLiteral(ip: string): string {
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (v4) return `[${v4[1]}]`;
  if (/^[0-9A-Fa-f:.]{2,45}$/.test(ip) && ip.includes(':')) return `[IPv6:${ip}]`;
  return '';
}

function atom(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '') || 'unknown';
}

/** An address we can write inside <...> in a header as it is: printable ASCII, no specials that end it. */
function isPlainPath(addr: string): boolean {
  return addr.length <= 320 && /^[\x21-\x7e]+@[\x21-\x7e]+$/.test(addr) && !/[<>()\\,;"]/.test(addr);
}
