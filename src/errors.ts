/**
 * Every error the relay turns into an SMTP reply or a CLI exit is a RelayError: a code, whether it
 * is temporary, and the SMTP reply it maps to. Defined in one table so the replies are reviewable.
 *
 * Temporary or permanent is decided by one question: will the same bytes, sent again later, get a
 * different answer? A message the filter cannot read will be just as unreadable tomorrow, so a 4xx
 * would only make the sender's MTA retry for days and then bounce with a reason nobody can act on;
 * it gets a 5xx that names the part and says what to change. Only causes that go away by
 * themselves (a store or the upstream unavailable, a resource budget exhausted) are 4xx.
 *
 * Unexpected internal errors (FILTER_FAILED: a bug, not a verdict on the message) are 451: failing
 * closed with a 5xx would bounce mail because of our defect, while a 4xx keeps it safe in the
 * sender's queue until the bug is fixed. That retry is not forever: the sender's MTA gives up after
 * its queue lifetime (RFC 5321 4.5.4.1; Postfix's default is 5 days) and bounces it to the sender,
 * so nothing is lost silently, and each attempt is logged with its queue id and stack for the
 * operator.
 */

export interface ErrorSpec {
  /** SMTP basic status code sent to the client. */
  readonly smtp: number;
  /** RFC 3463 enhanced status code. */
  readonly enhanced: string;
  /** 4xx: the client keeps the message and retries; 5xx: permanent. */
  readonly temporary: boolean;
  /** Exit status for CLI commands (sysexits.h). */
  readonly exit: number;
  /** What the person who sent the message can do about it; appended to the reply and the CLI line. */
  readonly advice?: string;
}

const CANNOT_FILTER = 'the message cannot be filtered.';

export const ERRORS = {
  // content the filter cannot read: permanent (the same bytes fail the same way on every retry)
  MIME_MALFORMED: { smtp: 554, enhanced: '5.6.0', temporary: false, exit: 65, advice: `${CANNOT_FILTER} Fix the sending program, or send the content as an attachment` },
  CHARSET_UNSUPPORTED: { smtp: 554, enhanced: '5.6.3', temporary: false, exit: 65, advice: `${CANNOT_FILTER} Send the text in UTF-8 (or another common charset), or as an attachment` },
  ENCODING_BROKEN: { smtp: 554, enhanced: '5.6.0', temporary: false, exit: 65, advice: `${CANNOT_FILTER} Fix the sending program, or send the content as an attachment` },
  ENCODING_UNSUPPORTED: {
    smtp: 554,
    enhanced: '5.6.1',
    temporary: false,
    exit: 65,
    advice: `${CANNOT_FILTER} Send text parts as base64, quoted-printable, 7bit or 8bit, or the content as an attachment`,
  },
  MESSAGE_TOO_COMPLEX: { smtp: 554, enhanced: '5.6.0', temporary: false, exit: 65, advice: `${CANNOT_FILTER} Send fewer parts or less nesting, or the content as an attachment` },
  // bare CR or LF in DATA with smtp.bareLineEndings: reject (otherwise they are made CRLF)
  BARE_LINE_ENDINGS: { smtp: 550, enhanced: '5.5.2', temporary: false, exit: 65 },
  MESSAGE_TOO_BIG: { smtp: 552, enhanced: '5.3.4', temporary: false, exit: 65, advice: `${CANNOT_FILTER} Send the large text as an attachment` },
  // engine.cpuBudget spent on one message: permanent, since the same bytes cost the same again and a
  // retry would burn the budget once more on every attempt of the sender's queue (a cheap way to
  // keep the relay busy); the default budget is far above what a message of the maximum size costs
  FILTER_TIME_BUDGET: { smtp: 554, enhanced: '5.3.4', temporary: false, exit: 65, advice: `${CANNOT_FILTER} Send the large content as an attachment` },
  // a bug in the filter, not a verdict on the message: see the comment at the top
  FILTER_FAILED: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 70 },
  // stores
  CONSENT_STORE_UNAVAILABLE: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 75 },
  AUDIT_UNAVAILABLE: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 75 },
  // `audit verify` found the chain broken (or a checkpoint that does not hold): EX_DATAERR
  AUDIT_TAMPERED: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 65 },
  CAMPAIGN_STORE_UNAVAILABLE: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 75 },
  // limits.memoryBudget spent: the client retries later (RFC 3463 4.3.1 insufficient system storage)
  MEMORY_BUDGET: { smtp: 452, enhanced: '4.3.1', temporary: true, exit: 75 },
  SPOOL_WRITE_FAILED: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 74 },
  // delivery
  UPSTREAM_TEMPORARY: { smtp: 451, enhanced: '4.4.1', temporary: true, exit: 75 },
  UPSTREAM_PERMANENT: { smtp: 550, enhanced: '5.0.0', temporary: false, exit: 69 },
  // the session with the upstream, not the message (src/delivery/upstreamFailure.ts): kept and retried
  UPSTREAM_TLS_UNAVAILABLE: { smtp: 451, enhanced: '4.7.4', temporary: true, exit: 75 },
  UPSTREAM_TLS_FAILED: { smtp: 451, enhanced: '4.7.5', temporary: true, exit: 75 },
  UPSTREAM_AUTH_FAILED: { smtp: 451, enhanced: '4.7.0', temporary: true, exit: 75 },
  // policy
  RELAY_DENIED: { smtp: 554, enhanced: '5.7.1', temporary: false, exit: 77 },
  // who may send through which listener (listeners: submission / smarthost); RFC 4954 and 3207 codes
  AUTH_REQUIRED: { smtp: 530, enhanced: '5.7.0', temporary: false, exit: 77 },
  STARTTLS_REQUIRED: { smtp: 530, enhanced: '5.7.0', temporary: false, exit: 77 },
  AUTH_NEEDS_TLS: { smtp: 538, enhanced: '5.7.11', temporary: false, exit: 77 },
  AUTH_FAILED: { smtp: 535, enhanced: '5.7.8', temporary: false, exit: 77 },
  // too many failed attempts from the address or for the name: try again after the lockout
  AUTH_LOCKED: { smtp: 454, enhanced: '4.7.0', temporary: true, exit: 75 },
  // the user store could not answer during AUTH or MAIL: "temporary authentication failure"
  USER_STORE_UNAVAILABLE: { smtp: 454, enhanced: '4.7.0', temporary: true, exit: 75 },
  SENDER_NOT_ALLOWED: { smtp: 553, enhanced: '5.7.1', temporary: false, exit: 77 },
  // auth.userMessagesPerMinute / userRecipientsPerMinute spent: the client retries later
  USER_RATE_LIMIT: { smtp: 451, enhanced: '4.7.1', temporary: true, exit: 75 },
  // the recipient objected to contact (subject object; rights.doNotContact.reply is the text)
  DO_NOT_CONTACT: { smtp: 550, enhanced: '5.7.1', temporary: false, exit: 77 },
  // fair sharing of the listener (smtp.*): the client reconnects later
  CONNECTION_LIMIT: { smtp: 421, enhanced: '4.7.0', temporary: true, exit: 75 },
  SERVER_BUSY: { smtp: 421, enhanced: '4.3.2', temporary: true, exit: 75 },
  COMMAND_LIMIT: { smtp: 421, enhanced: '4.7.0', temporary: true, exit: 75 },
  TIMEOUT: { smtp: 421, enhanced: '4.4.2', temporary: true, exit: 75 },
  SHUTTING_DOWN: { smtp: 421, enhanced: '4.3.2', temporary: true, exit: 75 },
  // operator input: never a verdict on a message; if one ever reaches a client, the operator can fix it
  CONFIG_INVALID: { smtp: 451, enhanced: '4.3.5', temporary: true, exit: 78 },
  USAGE: { smtp: 501, enhanced: '5.5.4', temporary: false, exit: 64 },
  INPUT_UNREADABLE: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 66 },
  // `consent import` with bad rows (each reported with its line; nothing recorded): EX_DATAERR
  IMPORT_INVALID: { smtp: 501, enhanced: '5.5.4', temporary: false, exit: 65 },
  RULES_INVALID: { smtp: 451, enhanced: '4.3.5', temporary: true, exit: 78 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly spec: ErrorSpec;
  /** For upstream errors: the upstream's own reply code, passed through to the client. */
  readonly responseCode: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; responseCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RelayError';
    this.code = code;
    this.spec = ERRORS[code];
    this.responseCode = options?.responseCode ?? this.spec.smtp;
  }

  get temporary(): boolean {
    return this.responseCode >= 400 && this.responseCode < 500;
  }

  /** The message and, for content the filter cannot read, what the sender can do about it. */
  get reason(): string {
    const advice: string | undefined = this.spec.advice;
    return advice ? `${this.message}; ${advice}` : this.message;
  }

  /** The reply line text after the code, e.g. "5.6.0 part 1: ...; the message cannot be filtered ...". */
  smtpText(): string {
    return `${this.spec.enhanced} ${this.reason}`;
  }
}

export function isRelayError(err: unknown): err is RelayError {
  return err instanceof RelayError;
}

/** Wrap anything thrown into a RelayError of `code`, keeping RelayErrors as they are. */
export function asRelayError(err: unknown, code: ErrorCode, context: string): RelayError {
  if (isRelayError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new RelayError(code, `${context}: ${msg}`, { cause: err });
}
