/**
 * AUTH on submission listeners: TLS first (538 5.7.11), PLAIN and LOGIN against the user store,
 * failed attempts counted per client address and per user name (535 5.7.8, then 454 4.7.0 while
 * locked out), a command budget before AUTH, and after AUTH each user limited to their own
 * envelope senders (553 5.7.1) and to messages and recipients per minute (451 4.7.1).
 *
 * One instance serves every submission listener, so an address's failures count across ports.
 * Passwords and user names are never logged: a user name is often an address, and a password
 * typed into the name field is not unusual.
 */
import type { SMTPServer, SMTPServerAddress, SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { Logger } from 'pino';
import { RelayError, isRelayError, type ErrorCode } from '../errors.js';
import { UNKNOWN_USER_HASH, verifyPassword } from '../users/password.js';
import { senderAllowed, type UserStore } from '../users/store.js';
import { FailureCounter, PerMinute } from './limits.js';
import { fromRelayError, type SmtpError } from './reply.js';

export interface AuthLimits {
  readonly maxFailuresPerIp: number;
  readonly maxFailuresPerUser: number;
  readonly failureWindowMs: number;
  readonly lockoutMs: number;
  readonly failureDelayMs: number;
  readonly maxCommandsBeforeAuth: number;
  readonly userMessagesPerMinute: number;
  readonly userRecipientsPerMinute: number;
}

/**
 * Password checks at once. scrypt runs on libuv's thread pool (4 threads), which also does the
 * spool's and the stores' file I/O: unbounded, a login flood from many addresses would queue
 * hashes ahead of every spool write. Two at a time leave the other threads to the mail; a few
 * dozen more wait their turn, and beyond that a login gets 454 and is retried by the client.
 */
const MAX_CHECKS = 2;
const MAX_WAITING = 64;

const err = (code: ErrorCode, text: string): SmtpError => fromRelayError(new RelayError(code, text));
const ipKey = (a: string): string => a.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

export class SubmissionAuth {
  private readonly perIp: FailureCounter;
  private readonly perUser: FailureCounter;
  private readonly messages: PerMinute;
  private readonly recipients: PerMinute;
  private readonly commands = new WeakMap<SMTPConnection, number>();
  private checking = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly users: UserStore,
    private readonly limits: AuthLimits,
    private readonly logger: Logger,
  ) {
    const window = { windowMs: limits.failureWindowMs, lockoutMs: limits.lockoutMs };
    this.perIp = new FailureCounter({ ...window, maxFailures: limits.maxFailuresPerIp });
    this.perUser = new FailureCounter({ ...window, maxFailures: limits.maxFailuresPerUser });
    this.messages = new PerMinute(limits.userMessagesPerMinute);
    this.recipients = new PerMinute(limits.userRecipientsPerMinute);
  }

  /** smtp-server options for a listener that requires AUTH. */
  serverOptions(): { authOptional: false; authMethods: string[]; allowInsecureAuth: true; authRequiredMessage: string; maxAllowedUnauthenticatedCommands: false } {
    return {
      authOptional: false,
      authMethods: ['PLAIN', 'LOGIN'],
      // smtp-server's own TLS check answers with its text; ours (gate) answers from the error table
      allowInsecureAuth: true,
      authRequiredMessage: err('AUTH_REQUIRED', 'authentication required: log in (AUTH) before sending').message,
      // counted by preAuthCommand, which answers from the error table
      maxAllowedUnauthenticatedCommands: false,
    };
  }

  /** Hook the listener's connections: the AUTH gate and the command budget before AUTH. */
  attach(server: SMTPServer): void {
    installHooks();
    const hooked = server as HookedServer;
    hooked.consentRelayAuthGate = (conn) => this.gate(conn);
    hooked.consentRelayPreAuth = (conn) => this.preAuthCommand(conn);
  }

  /** Before AUTH reads any credentials: TLS, and the address not locked out. */
  gate(conn: SMTPConnection): SmtpError | null {
    if (!conn.secure) return err('AUTH_NEEDS_TLS', 'encryption required for authentication: issue STARTTLS first');
    const locked = this.perIp.lockedFor(ipKey(conn.remoteAddress));
    if (locked) return err('AUTH_LOCKED', `too many failed logins from your address; try again in ${seconds(locked)} s`);
    return null;
  }

  preAuthCommand(conn: SMTPConnection): SmtpError | null {
    // continuation lines of an AUTH exchange are not commands; after AUTH nothing is counted here
    if (conn.session.user || conn._nextHandler || conn._upgrading) return null;
    const n = (this.commands.get(conn) ?? 0) + 1;
    this.commands.set(conn, n);
    if (n <= this.limits.maxCommandsBeforeAuth) return null;
    this.logger.warn({ remote: conn.remoteAddress, commands: n }, 'connection closed: too many commands before AUTH');
    return err('COMMAND_LIMIT', `too many commands without logging in (limit ${this.limits.maxCommandsBeforeAuth})`);
  }

  /** onAuth: the user's name, or the reply for a failure (after failureDelay). */
  async authenticate(auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<{ user: string } | SmtpError> {
    const ip = ipKey(session.remoteAddress);
    const name = auth.username ?? '';
    const password = auth.password ?? '';
    // a name is locked out whether it exists or not, so the lockout tells nobody which names do
    const lockedIp = this.perIp.lockedFor(ip);
    const lockedUser = this.perUser.lockedFor(name);
    if (lockedIp || lockedUser) return err('AUTH_LOCKED', `too many failed logins; try again in ${seconds(Math.max(lockedIp, lockedUser))} s`);
    if (this.checking < MAX_CHECKS) this.checking++;
    else if (this.waiting.length >= MAX_WAITING) return err('AUTH_LOCKED', 'too many logins in progress; try again in a moment');
    // a slot is handed over by the check that finishes (checking stays as it is)
    else await new Promise<void>((r) => this.waiting.push(r));
    let ok = false;
    try {
      const user = name ? await this.users.get(name) : null;
      // an unknown name costs a hash too: timing does not tell names apart
      ok = (await verifyPassword(password, user?.passwordHash ?? UNKNOWN_USER_HASH)) && user !== null;
    } catch (e) {
      this.logger.error({ remote: ip, reason: isRelayError(e) ? e.code : 'error' }, 'AUTH: user store unavailable');
      return err('USER_STORE_UNAVAILABLE', 'temporary authentication failure; try again later');
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.checking--;
    }
    if (ok) {
      this.perUser.succeed(name);
      this.logger.info({ remote: ip, session: session.id }, 'AUTH succeeded');
      return { user: name };
    }
    const ipLock = this.perIp.fail(ip);
    const userLock = this.perUser.fail(name);
    this.logger.warn({ remote: ip, session: session.id, lockedForMs: Math.max(ipLock, userLock) || undefined }, 'AUTH failed');
    if (this.limits.failureDelayMs > 0) await new Promise((r) => setTimeout(r, this.limits.failureDelayMs));
    return err('AUTH_FAILED', 'authentication credentials invalid');
  }

  /** MAIL FROM after AUTH: the sender must be one of the user's, within the user's message rate. */
  async checkSender(userName: string, from: SMTPServerAddress): Promise<SmtpError | null> {
    let senders: readonly string[];
    try {
      senders = (await this.users.get(userName))?.senders ?? [];
    } catch {
      return err('USER_STORE_UNAVAILABLE', 'cannot check the sender now; try again later');
    }
    // the null sender is for bounces an MTA generates, never for a person's client
    if (!from.address || !senderAllowed(senders, from.address)) {
      this.logger.warn('MAIL refused: sender not allowed for the authenticated user');
      return err('SENDER_NOT_ALLOWED', 'sender address not allowed for your login; use one of the addresses configured for you');
    }
    if (!this.messages.take(userName)) return err('USER_RATE_LIMIT', `too many messages per minute from your login (limit ${this.limits.userMessagesPerMinute}); try again later`);
    return null;
  }

  checkRecipient(userName: string): SmtpError | null {
    if (this.recipients.take(userName)) return null;
    return err('USER_RATE_LIMIT', `too many recipients per minute from your login (limit ${this.limits.userRecipientsPerMinute}); try again later`);
  }
}

type HookedServer = SMTPServer & {
  consentRelayAuthGate?: (conn: SMTPConnection) => SmtpError | null;
  consentRelayPreAuth?: (conn: SMTPConnection) => SmtpError | null;
};

interface AuthProto {
  handler_AUTH(this: SMTPConnection, command: Buffer, callback: () => void): void;
  handler_EHLO(this: SMTPConnection, command: Buffer, callback: () => void): void;
  _onCommand(this: SMTPConnection, command: Buffer, callback?: () => void): void;
  consentRelayAuth?: boolean;
}

/**
 * smtp-server checks TLS before AUTH with its own reply text and counts commands before AUTH
 * with its own 421; both are wrapped once (as reply.ts wraps `send`) so that a listener with
 * hooks answers from the error table, before the client is asked for any credentials. Its EHLO
 * also offers AUTH before TLS, which invites clients to send a password in clear: on a hooked
 * listener AUTH is offered only once the session is encrypted (Postfix: smtpd_tls_auth_only).
 */
function installHooks(): void {
  const proto = SMTPConnection.prototype as unknown as AuthProto;
  if (proto.consentRelayAuth) return;
  const auth = proto.handler_AUTH;
  proto.handler_AUTH = function handlerAuth(this: SMTPConnection, command: Buffer, callback: () => void): void {
    const refusal = (this._server as HookedServer).consentRelayAuthGate?.(this);
    if (!refusal) {
      auth.call(this, command, callback);
      return;
    }
    this.send(refusal.responseCode, refusal.message);
    callback();
  };
  const ehlo = proto.handler_EHLO;
  proto.handler_EHLO = function handlerEhlo(this: SMTPConnection, command: Buffer, callback: () => void): void {
    if (this.secure || !(this._server as HookedServer).consentRelayAuthGate) {
      ehlo.call(this, command, callback);
      return;
    }
    // the reply is built and sent synchronously: filter that one send, then fall back to the prototype's
    const self = this as unknown as { send: (code: number, data: unknown, context?: unknown) => void };
    const send = self.send;
    self.send = (code, data, context) => send.call(this, code, Array.isArray(data) ? data.filter((l) => !/^AUTH /.test(String(l))) : data, context);
    try {
      ehlo.call(this, command, callback);
    } finally {
      delete (self as { send?: unknown }).send;
    }
  };
  const onCommand = proto._onCommand;
  proto._onCommand = function preAuth(this: SMTPConnection, command: Buffer, callback?: () => void): void {
    const refusal = (this._server as HookedServer).consentRelayPreAuth?.(this);
    if (!refusal) {
      onCommand.call(this, command, callback);
      return;
    }
    this.send(refusal.responseCode, refusal.message);
    this.close();
  };
  proto.consentRelayAuth = true;
}
