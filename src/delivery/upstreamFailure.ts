/**
 * Failures of the session with the upstream rather than of a message: STARTTLS not offered, a
 * TLS handshake or certificate that fails verification, credentials refused. They are the
 * operator's to fix, the message is fine, so each is temporary (the copy stays with the client or
 * in the spool) whatever code the upstream used, and each gets a log line that says what to change.
 * Codes follow Postfix: 4.7.4 TLS not offered, 4.7.5 TLS failed.
 */
import type { NodemailerError } from 'nodemailer';
import type { ErrorCode } from '../errors.js';

type SessionFailureKind = 'starttls-unavailable' | 'tls-failed' | 'auth-failed';

export interface SessionFailure {
  readonly kind: SessionFailureKind;
  readonly error: Extract<ErrorCode, 'UPSTREAM_TLS_UNAVAILABLE' | 'UPSTREAM_TLS_FAILED' | 'UPSTREAM_AUTH_FAILED'>;
  /** Text after the code and enhanced code in the reply: for the client and the audit log. */
  readonly reply: string;
  /** What went wrong, for the operator: a cause and what to change. No credentials, no addresses. */
  readonly detail: string;
}

/** Errors of node:tls, as codes (implicit TLS keeps them) and as words (STARTTLS keeps only those). */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_SSL|ERR_TLS|EPROTO/;
const CAUSES: ReadonlyArray<readonly [RegExp, string, string]> = [
  [/self[- ]signed/i, 'certificate not trusted (self-signed)', 'name its CA in upstream.caFile'],
  [/altname|does not match|hostname/i, 'certificate does not name the upstream', 'set upstream.serverName to the name in its certificate, or use that name in upstream.address'],
  [/expired|not yet valid/i, 'certificate expired or not yet valid', 'renew the upstream certificate'],
  [/unable to (get|verify)|local issuer|chain/i, 'certificate chain not trusted', 'name the issuing CA in upstream.caFile, or fix the chain the upstream sends'],
  [/version|protocol|cipher|handshake/i, 'TLS handshake failed (protocol or cipher)', 'the upstream must speak TLS 1.2 or later'],
];

export function sessionFailure(err: NodemailerError): SessionFailure | null {
  const message = err.message ?? '';
  if (err.code === 'EAUTH') {
    const code = typeof err.responseCode === 'number' ? ` (${err.responseCode})` : '';
    return {
      kind: 'auth-failed',
      error: 'UPSTREAM_AUTH_FAILED',
      reply: "upstream refused the relay's credentials",
      detail: `upstream AUTH failed${code}: check upstream.auth.user and the password source`,
    };
  }
  const refusedStarttls = err.code === 'ETLS' && typeof err.responseCode === 'number';
  const ehloWithoutTls = err.command === 'EHLO' && /STARTTLS/.test(message);
  if (refusedStarttls || ehloWithoutTls) {
    return {
      kind: 'starttls-unavailable',
      error: 'UPSTREAM_TLS_UNAVAILABLE',
      reply: 'upstream does not offer STARTTLS; not sending in clear text',
      detail: 'upstream does not offer STARTTLS, which upstream.tls requires: enable TLS on the upstream, or (loopback or a trusted network only) set upstream.tls: none',
    };
  }
  const original = (err as NodemailerError & { originalCode?: unknown }).originalCode;
  if (err.code === 'ETLS' || (typeof original === 'string' && TLS_CODE.test(original))) {
    const [, cause, fix] = CAUSES.find(([re]) => re.test(message)) ?? [null, 'TLS negotiation failed', 'check the upstream certificate and upstream.tls'];
    return { kind: 'tls-failed', error: 'UPSTREAM_TLS_FAILED', reply: `TLS with the upstream failed: ${cause}`, detail: `upstream TLS failed: ${cause}; ${fix}` };
  }
  return null;
}
