/**
 * Every error the relay turns into an SMTP reply or a CLI exit is a RelayError: a code, whether it
 * is temporary, and the SMTP reply it maps to. Defined in one table so the replies are reviewable.
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
}

export const ERRORS = {
  // input that cannot be filtered: fail closed, the sender retries (or a human looks)
  MIME_MALFORMED: { smtp: 451, enhanced: '4.6.0', temporary: true, exit: 65 },
  CHARSET_UNSUPPORTED: { smtp: 451, enhanced: '4.6.3', temporary: true, exit: 65 },
  ENCODING_BROKEN: { smtp: 451, enhanced: '4.6.0', temporary: true, exit: 65 },
  MESSAGE_TOO_COMPLEX: { smtp: 554, enhanced: '5.6.0', temporary: false, exit: 65 },
  // bare CR or LF in DATA with smtp.bareLineEndings: reject (otherwise they are made CRLF)
  BARE_LINE_ENDINGS: { smtp: 550, enhanced: '5.5.2', temporary: false, exit: 65 },
  MESSAGE_TOO_BIG: { smtp: 552, enhanced: '5.3.4', temporary: false, exit: 65 },
  FILTER_FAILED: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 70 },
  // stores
  CONSENT_STORE_UNAVAILABLE: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 75 },
  AUDIT_UNAVAILABLE: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 75 },
  SPOOL_WRITE_FAILED: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 74 },
  // delivery
  UPSTREAM_TEMPORARY: { smtp: 451, enhanced: '4.4.1', temporary: true, exit: 75 },
  UPSTREAM_PERMANENT: { smtp: 550, enhanced: '5.0.0', temporary: false, exit: 69 },
  // policy
  RELAY_DENIED: { smtp: 554, enhanced: '5.7.1', temporary: false, exit: 77 },
  SHUTTING_DOWN: { smtp: 421, enhanced: '4.3.2', temporary: true, exit: 75 },
  // operator input
  CONFIG_INVALID: { smtp: 451, enhanced: '4.3.5', temporary: true, exit: 78 },
  USAGE: { smtp: 501, enhanced: '5.5.4', temporary: false, exit: 64 },
  INPUT_UNREADABLE: { smtp: 451, enhanced: '4.3.0', temporary: true, exit: 66 },
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

  /** The reply line text after the code, e.g. "4.6.0 message could not be filtered: ...". */
  smtpText(): string {
    return `${this.spec.enhanced} ${this.message}`;
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
