import nodemailer from 'nodemailer';
import type { Mail, NodemailerError, SMTPPoolOptions, SMTPPoolSentMessageInfo } from 'nodemailer';

import { ERRORS } from '../errors.js';
import { segmentsStream } from '../segments.js';
import type { Copy, CopyOutcome, RecipientFailure } from './types.js';
import { isTemporaryCode, oneLine } from './reply.js';
import { sessionFailure, type SessionFailure } from './upstreamFailure.js';
import { resolveUpstreamSecurity, type UpstreamSecurity } from './upstreamTls.js';

/**
 * Where copies go. `send` never rejects: whatever happened (rejected recipients, a refused
 * connection, a timeout) comes back as a CopyOutcome in which every recipient of the copy is
 * either accepted or failed, so the callers have one shape to decide on.
 */
export interface Upstream {
  send(copy: Copy): Promise<CopyOutcome>;
  /** Close pooled connections; deliveries already in progress are allowed to finish. */
  close(): Promise<void>;
}

export interface SmtpUpstreamOptions {
  readonly host: string;
  readonly port: number;
  /**
   * Transport, trust and credentials (upstreamTls.ts). Default: what `upstream.tls: auto` gives
   * for `host` without credentials (plain text on a loopback literal, verified STARTTLS elsewhere).
   */
  readonly security?: UpstreamSecurity;
  /** Name sent in EHLO/HELO. */
  readonly name?: string;
  readonly maxConnections?: number;
  readonly connectionTimeoutMs?: number;
  readonly greetingTimeoutMs?: number;
  readonly socketTimeoutMs?: number;
  /**
   * How often nodemailer's pool puts a message back on its queue when the connection closed while
   * sending. 1 by default: it covers an upstream that closed an idle pooled connection just as we
   * used it; more would keep the SMTP client waiting while our own spool retries anyway.
   */
  readonly maxRequeues?: number;
  /** Told when TLS or AUTH with the upstream failed (the operational log line); never given secrets. */
  readonly onSessionFailure?: (failure: SessionFailure) => void;
}

/** Reply used for failures that carry no SMTP reply (refused, reset, timed out, DNS). */
export const UNREACHABLE_CODE = 451;
export const UNREACHABLE_ENHANCED = '4.4.1';

export class SmtpUpstream implements Upstream {
  private readonly transport: Mail<SMTPPoolSentMessageInfo, SMTPPoolOptions>;

  private readonly onSessionFailure: (failure: SessionFailure) => void;

  constructor(options: SmtpUpstreamOptions) {
    const security = options.security ?? resolveUpstreamSecurity({ host: options.host, tls: 'auto', allowPlaintext: false });
    const poolOptions: SMTPPoolOptions & { pool: true } = {
      pool: true,
      host: options.host,
      port: options.port,
      maxConnections: options.maxConnections ?? 5,
      maxRequeues: options.maxRequeues ?? 1,
      connectionTimeout: options.connectionTimeoutMs ?? 30_000,
      greetingTimeout: options.greetingTimeoutMs ?? 30_000,
      socketTimeout: options.socketTimeoutMs ?? 120_000,
      logger: false,
      debug: false,
      ...transportOptions(security),
    };
    if (options.name !== undefined) poolOptions.name = options.name;
    if (security.auth !== undefined) poolOptions.auth = { user: security.auth.user, pass: security.auth.pass };
    this.transport = nodemailer.createTransport(poolOptions);
    this.onSessionFailure = options.onSessionFailure ?? (() => undefined);
  }

  async send(copy: Copy): Promise<CopyOutcome> {
    const to = [...copy.envelope.to];
    if (to.length === 0) return { accepted: [], failed: [], response: '' };
    try {
      const info = await this.transport.sendMail({
        // `false` is nodemailer's spelling of the null sender (MAIL FROM:<>).
        envelope: { from: copy.envelope.from === '' ? false : copy.envelope.from, to },
        // a copy held as segments is streamed: a large attachment is read from its file as it is sent.
        // If the pool has to requeue a copy whose stream was already read, nodemailer fails it
        // (ESTREAM) rather than send it short, and the copy fails temporarily like any lost connection
        raw: Buffer.isBuffer(copy.raw) ? copy.raw : segmentsStream(copy.raw),
      });
      return outcomeFromInfo(to, info);
    } catch (err) {
      const failure = sessionFailure(err as NodemailerError);
      if (failure !== null) this.onSessionFailure(failure);
      return outcomeFromError(to, err as NodemailerError);
    }
  }

  async close(): Promise<void> {
    // Returns at once; the pool lets a connection finish the message it is sending before it
    // closes. Callers that must not cut a delivery short stop their senders first (SpoolWorker.stop).
    this.transport.close();
  }
}

/** The parts of nodemailer's SentMessageInfo we rely on. */
interface SentInfo {
  accepted?: Array<string | { address: string }>;
  rejected?: Array<string | { address: string }>;
  rejectedErrors?: NodemailerError[];
  response?: string;
}

function address(a: string | { address: string }): string {
  return typeof a === 'string' ? a : a.address;
}

function key(addr: string): string {
  return addr.toLowerCase();
}

/**
 * Accepted only means listed in `info.accepted`. A recipient that nodemailer rejected, or that
 * shows up in neither list (it should not happen, but the reply is the only proof of delivery),
 * is a failure: treating it as delivered would lose mail silently.
 */
function outcomeFromInfo(to: readonly string[], info: SentInfo): CopyOutcome {
  const response = oneLine(info.response ?? '');
  const acceptedKeys = new Set((info.accepted ?? []).map((a) => key(address(a))));
  const errorsByRecipient = new Map<string, NodemailerError>();
  for (const e of info.rejectedErrors ?? []) {
    if (e.recipient !== undefined) errorsByRecipient.set(key(e.recipient), e);
  }
  const accepted: string[] = [];
  const failed: RecipientFailure[] = [];
  for (const rcpt of to) {
    const k = key(rcpt);
    const e = errorsByRecipient.get(k);
    if (e !== undefined) failed.push(failureFromError(rcpt, e));
    else if (acceptedKeys.has(k)) accepted.push(rcpt);
    else {
      failed.push({
        recipient: rcpt,
        code: UNREACHABLE_CODE,
        response: `${UNREACHABLE_CODE} ${UNREACHABLE_ENHANCED} upstream did not confirm this recipient`,
        temporary: true,
      });
    }
  }
  return { accepted, failed, response };
}

/**
 * A thrown error fails the whole copy. When every RCPT was refused nodemailer throws, but still
 * carries the per-recipient replies in `rejectedErrors`: use them, a 550 for one recipient and a
 * 450 for another must not be flattened into one verdict.
 */
function outcomeFromError(to: readonly string[], err: NodemailerError): CopyOutcome {
  const whole = failureFromError('', err);
  const perRecipient = new Map<string, NodemailerError>();
  for (const e of err.rejectedErrors ?? []) {
    if (e.recipient !== undefined) perRecipient.set(key(e.recipient), e);
  }
  const failed = to.map((rcpt) => {
    const e = perRecipient.get(key(rcpt));
    return e !== undefined ? failureFromError(rcpt, e) : { ...whole, recipient: rcpt };
  });
  return { accepted: [], failed, response: whole.response };
}

function failureFromError(recipient: string, err: NodemailerError): RecipientFailure {
  // TLS and AUTH failures say nothing about the message: whatever code the upstream used (a 502
  // to a STARTTLS it does not know, a 535 to our password), the copy is kept and retried
  const session = sessionFailure(err);
  if (session !== null) {
    const spec = ERRORS[session.error];
    return { recipient, code: spec.smtp, response: `${spec.smtp} ${spec.enhanced} ${session.reply}`, temporary: true };
  }
  const code = err.responseCode;
  if (typeof code === 'number' && code >= 400 && code < 600) {
    const response = oneLine(err.response ?? `${code} ${err.message}`);
    return { recipient, code, response, temporary: isTemporaryCode(code) };
  }
  // No SMTP reply: refused, reset, timed out, TLS failure. The upstream never said no, so retry.
  const reason = oneLine(`${err.code ?? 'ERROR'} ${err.message}`);
  return {
    recipient,
    code: UNREACHABLE_CODE,
    response: `${UNREACHABLE_CODE} ${UNREACHABLE_ENHANCED} upstream unreachable: ${reason}`,
    temporary: true,
  };
}

/** nodemailer's spelling of an UpstreamSecurity. */
function transportOptions(security: UpstreamSecurity): Pick<SMTPPoolOptions, 'secure' | 'requireTLS' | 'ignoreTLS' | 'tls'> {
  if (security.transport === 'plain') return { secure: false, requireTLS: false, ignoreTLS: true };
  const tls = { ...security.tls };
  return security.transport === 'implicit' ? { secure: true, requireTLS: false, ignoreTLS: false, tls } : { secure: false, requireTLS: true, ignoreTLS: false, tls };
}
