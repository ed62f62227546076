/**
 * SMTP replies in one place. Every reply carries an RFC 3463 enhanced status code
 * (ENHANCEDSTATUSCODES is advertised). smtp-server picks one from the reply code alone
 * (451 → 4.3.0); our replies know better (4.6.0 for MIME we cannot read, the upstream's own code
 * passed through, 5.7.1 for relaying denied), so a reply whose text starts with an enhanced code
 * is sent as it is: see `sendVerbatimEnhanced` below.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { isRelayError, type RelayError } from '../errors.js';

export interface SmtpError extends Error {
  responseCode: number;
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/** `enhanced` is the RFC 3463 code ("4.6.0"); `text` the human part. */
export function smtpError(code: number, enhanced: string, text: string): SmtpError {
  const err = new Error(`${enhanced} ${text}`) as SmtpError;
  err.responseCode = code;
  return err;
}

/** Longest reply text we send: RFC 5321 4.5.3.1.5 allows 512 octets per reply line, code included. */
const MAX_TEXT = 450;

export function fromRelayError(err: RelayError): SmtpError {
  // an upstream's reply code passed through keeps the class; our own code says why
  const enhanced = err.spec.enhanced[0] === String(err.responseCode)[0] ? err.spec.enhanced : `${String(err.responseCode)[0]}.0.0`;
  return smtpError(err.responseCode, enhanced, replyText(err.reason));
}

/**
 * One printable line: reasons can quote the message (a charset label, a Content-Type value), and a
 * CR or LF there would end our reply early or start a forged one.
 */
function replyText(text: string): string {
  const line = text
    .replace(/[^\x20-\x7e]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  return line.length <= MAX_TEXT ? line : `${line.slice(0, MAX_TEXT - 3)}...`;
}

export function toSmtpError(err: unknown, fallbackText: string): SmtpError {
  if (isRelayError(err)) return fromRelayError(err);
  return smtpError(451, '4.3.0', fallbackText);
}

interface Sender {
  send(code: number, data: unknown, context?: unknown): void;
}

/**
 * smtp-server has no per-reply way to give its enhanced code, so its connection's `send` is
 * wrapped once: a reply text that already starts with an enhanced code is sent without a second
 * one. Everything else (smtp-server's own replies) keeps smtp-server's mapping.
 */
function sendVerbatimEnhanced(): void {
  const proto = SMTPConnection.prototype as unknown as Sender & { consentRelayEnhanced?: boolean };
  if (proto.consentRelayEnhanced) return;
  const original = proto.send;
  proto.send = function send(this: Sender, code: number, data: unknown, context?: unknown): void {
    original.call(this, code, data, typeof data === 'string' && ENHANCED.test(data) ? false : context);
  };
  proto.consentRelayEnhanced = true;
}
sendVerbatimEnhanced();
