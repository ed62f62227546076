/**
 * SMTP replies in one place. smtp-server turns an Error with `responseCode` into the reply line
 * and prefixes the RFC 3463 enhanced status code for that reply code (ENHANCEDSTATUSCODES is
 * advertised), so the text here is the human part only.
 */
import { isRelayError, type RelayError } from '../errors.js';

export interface SmtpError extends Error {
  responseCode: number;
}

export function smtpError(code: number, text: string): SmtpError {
  const err = new Error(text) as SmtpError;
  err.responseCode = code;
  return err;
}

export function fromRelayError(err: RelayError): SmtpError {
  return smtpError(err.responseCode, err.message);
}

export function toSmtpError(err: unknown, fallbackText: string): SmtpError {
  if (isRelayError(err)) return fromRelayError(err);
  return smtpError(451, fallbackText);
}
