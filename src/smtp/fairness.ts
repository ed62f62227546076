/**
 * Fair sharing of the listener: no client can hold every slot or hold one forever.
 *
 * - per-IP connection limit, and the last `reservedConnections` slots only for addresses that hold
 *   no connection yet: one address can never take them all;
 * - eviction: where a limit would refuse a newcomer, an idle connection (no transaction open,
 *   nothing completed for evictIdleAfter) is closed instead, since every local client shares
 *   127.0.0.1 and limits by address alone cannot keep one local process from locking out the rest;
 * - a command budget per connection;
 * - absolute deadlines, not only smtp-server's idle timer (which every byte resets): the command
 *   phase must reach the end of a message within `commandTimeout` (re-armed after each one), and
 *   DATA must keep up `minDataRate` bytes/s after a grace period, within `dataTimeout` in all.
 *
 * A connection over a deadline or its budget gets 421 and is closed.
 */
import type { SMTPServer, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { RelayError, type ErrorCode } from '../errors.js';
import { fromRelayError, type SmtpError } from './reply.js';

export interface FairnessLimits {
  /** Connections the listener serves at once (limits.maxClients). */
  readonly maxClients: number;
  readonly maxConnectionsPerIp: number;
  /** Of maxClients, slots kept for addresses that hold no connection. */
  readonly reservedConnections: number;
  readonly maxCommands: number;
  readonly commandTimeoutMs: number;
  readonly dataTimeoutMs: number;
  /** Bytes per second a DATA transfer must average after the grace period. */
  readonly minDataRate: number;
  readonly dataRateGraceMs: number;
  /** An idle connection this old (since connect or its last message) may be evicted; 0: never. */
  readonly evictIdleAfterMs: number;
}

/** How often a DATA transfer's rate is looked at. */
const CHECK_MS = 250;

interface ConnState {
  readonly ip: string;
  /** When it connected or last completed a message: the age eviction looks at. */
  since: number;
  commands: number;
  commandTimer: NodeJS.Timeout | null;
  dataTimer: NodeJS.Timeout | null;
}

/** "::ffff:127.0.0.1" and "127.0.0.1" are one client. */
function ipKey(address: string): string {
  return address.replace(/^::ffff:/i, '').toLowerCase();
}

export class ConnectionGuard {
  private readonly conns = new Map<string, ConnState>();
  private readonly perIp = new Map<string, number>();
  private server: SMTPServer | null = null;

  constructor(
    private readonly limits: FairnessLimits,
    private readonly hostname: string,
  ) {}

  /** Wire to the listener: commands are counted from here on. */
  attach(server: SMTPServer): void {
    this.server = server;
    installCommandHook();
    (server as HookedServer).consentRelayOnCommand = (conn) => this.onCommand(conn);
  }

  /** In onConnect: a refusal, or null when the connection is admitted (and counted). */
  admit(session: SMTPServerSession): SmtpError | null {
    const ip = ipKey(session.remoteAddress);
    const refusal = this.refusal(ip);
    if (refusal) {
      // make room by closing an idle connection: of this address when its own limit is the reason,
      // else anyone's (the address holding most first)
      const victim = this.idleVictim(refusal === 'per-ip' ? ip : null);
      if (!victim) return this.refusalError(refusal);
      this.cut(victim, this.error('CONNECTION_LIMIT', 'idle connection closed to make room for another client; reconnect when you have mail'));
      this.forget(victim);
      const still = this.refusal(ip);
      if (still) return this.refusalError(still);
    }
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    const state: ConnState = { ip, since: Date.now(), commands: 0, commandTimer: null, dataTimer: null };
    this.conns.set(session.id, state);
    this.armCommandDeadline(session.id, state);
    return null;
  }

  /** Which limit a new connection from `ip` would hit now, if any. */
  private refusal(ip: string): 'per-ip' | 'full' | 'reserve' | null {
    const mine = this.perIp.get(ip) ?? 0;
    const total = this.conns.size;
    const l = this.limits;
    if (mine >= l.maxConnectionsPerIp) return 'per-ip';
    if (total >= l.maxClients) return 'full';
    if (mine > 0 && total >= l.maxClients - l.reservedConnections) return 'reserve';
    return null;
  }

  private refusalError(r: 'per-ip' | 'full' | 'reserve'): SmtpError {
    const l = this.limits;
    if (r === 'per-ip') return this.error('CONNECTION_LIMIT', `too many connections from your address (limit ${l.maxConnectionsPerIp}); try again later`);
    if (r === 'full') return this.error('SERVER_BUSY', `${this.hostname} has too many connections; try again later`);
    return this.error('CONNECTION_LIMIT', `the remaining connections are kept for other clients; try again later`);
  }

  /**
   * The connection to close for a newcomer: no transaction open (not between MAIL and the reply to
   * DATA), nothing completed for at least evictIdleAfter; from `ip` only when given, else from the
   * address holding most connections; the longest idle of those.
   */
  private idleVictim(ip: string | null): string | null {
    if (this.limits.evictIdleAfterMs <= 0) return null;
    const cutoff = Date.now() - this.limits.evictIdleAfterMs;
    let best: { id: string; held: number; since: number } | null = null;
    for (const conn of this.server?.connections ?? []) {
      const id = conn.session.id;
      const state = this.conns.get(id);
      if (!state || state.since > cutoff || (ip !== null && state.ip !== ip)) continue;
      // in DATA or being filtered (no command deadline armed), or a transaction open
      if (state.commandTimer === null || conn.session.envelope?.mailFrom) continue;
      const held = this.perIp.get(state.ip) ?? 0;
      if (!best || held > best.held || (held === best.held && state.since < best.since)) best = { id, held, since: state.since };
    }
    return best?.id ?? null;
  }

  /** In onClose: forget the connection (refused ones were never counted, evicted ones already forgotten). */
  release(session: SMTPServerSession): void {
    this.forget(session.id);
  }

  private forget(id: string): void {
    const state = this.conns.get(id);
    if (!state) return;
    this.clearTimers(state);
    this.conns.delete(id);
    const left = (this.perIp.get(state.ip) ?? 1) - 1;
    if (left > 0) this.perIp.set(state.ip, left);
    else this.perIp.delete(state.ip);
  }

  /** DATA started: the command deadline pauses, the transfer deadline runs. */
  dataStarted(session: SMTPServerSession, stream: SMTPServerDataStream): void {
    const state = this.conns.get(session.id);
    if (!state) return;
    this.clearTimers(state);
    const started = Date.now();
    const hardEnd = started + this.limits.dataTimeoutMs;
    // the rate clock runs only while we wait for the client: time in which the relay itself was
    // behind (bytes read but not consumed yet, the socket paused by backpressure, the event loop
    // busy with another message) is not the client's fault and is not counted
    let clientStart = started;
    let lastCheck = started;
    const socket = this.find(session.id)?._socket;
    const check = (): void => {
      state.dataTimer = null;
      if (stream.readableEnded || stream.destroyed) return;
      const now = Date.now();
      const behind = stream.readableLength > 0 || socket?.isPaused() === true || now - lastCheck > CHECK_MS * 4;
      if (behind) clientStart += now - lastCheck;
      lastCheck = now;
      const received = stream.byteLength ?? 0;
      // the client has earned grace + bytes/rate so far: a steady trickle falls behind at once
      const earned = clientStart + this.limits.dataRateGraceMs + (received / this.limits.minDataRate) * 1000;
      if (now >= hardEnd || (!behind && now >= earned)) {
        const why = now >= hardEnd ? `message not received within ${Math.round(this.limits.dataTimeoutMs / 1000)} s` : `message arriving slower than ${this.limits.minDataRate} bytes/s`;
        this.cut(session.id, this.error('TIMEOUT', `${why}; closing connection`));
        return;
      }
      state.dataTimer = setTimeout(check, Math.max(50, Math.min(CHECK_MS, hardEnd - now)));
      state.dataTimer.unref();
    };
    state.dataTimer = setTimeout(check, CHECK_MS);
    state.dataTimer.unref();
  }

  /** The reply to DATA was sent: the next command phase gets a fresh deadline. */
  dataDone(session: SMTPServerSession): void {
    const state = this.conns.get(session.id);
    if (!state) return;
    this.clearTimers(state);
    state.since = Date.now();
    this.armCommandDeadline(session.id, state);
  }

  /** Admitted connections now (for tests and the log). */
  connections(): number {
    return this.conns.size;
  }

  private onCommand(conn: SMTPConnection): boolean {
    const state = this.conns.get(conn.session.id);
    if (!state) return true;
    state.commands++;
    if (state.commands <= this.limits.maxCommands) return true;
    this.cut(conn.session.id, this.error('COMMAND_LIMIT', `too many commands on one connection (limit ${this.limits.maxCommands}); reconnect to continue`), conn);
    return false;
  }

  private armCommandDeadline(id: string, state: ConnState): void {
    state.commandTimer = setTimeout(() => {
      state.commandTimer = null;
      this.cut(id, this.error('TIMEOUT', `no message completed within ${Math.round(this.limits.commandTimeoutMs / 1000)} s; closing connection`));
    }, this.limits.commandTimeoutMs);
    state.commandTimer.unref();
  }

  private clearTimers(state: ConnState): void {
    if (state.commandTimer) clearTimeout(state.commandTimer);
    if (state.dataTimer) clearTimeout(state.dataTimer);
    state.commandTimer = null;
    state.dataTimer = null;
  }

  /** 421 and close. The socket is destroyed shortly after, even if the client never closes its side. */
  private cut(id: string, err: SmtpError, known?: SMTPConnection): void {
    const conn = known ?? this.find(id);
    const state = this.conns.get(id);
    if (state) this.clearTimers(state);
    if (!conn) return;
    conn.send(421, err.message);
    conn.close();
    const socket = conn._socket;
    setTimeout(() => socket.destroy(), 500).unref();
  }

  private find(id: string): SMTPConnection | undefined {
    for (const c of this.server?.connections ?? []) if (c.session.id === id) return c;
    return undefined;
  }

  private error(code: ErrorCode, text: string): SmtpError {
    return fromRelayError(new RelayError(code, text));
  }
}

type HookedServer = SMTPServer & { consentRelayOnCommand?: (conn: SMTPConnection) => boolean };

interface CommandProto {
  _onCommand(this: SMTPConnection, command: Buffer, callback?: () => void): void;
  consentRelayCommands?: boolean;
}

/**
 * smtp-server has no hook per command, so its connection's command dispatcher is wrapped once
 * (as reply.ts wraps `send`): a server with a hook may refuse the command, which then is not run.
 */
function installCommandHook(): void {
  const proto = SMTPConnection.prototype as unknown as CommandProto;
  if (proto.consentRelayCommands) return;
  const original = proto._onCommand;
  proto._onCommand = function onCommand(this: SMTPConnection, command: Buffer, callback?: () => void): void {
    const hook = (this._server as HookedServer).consentRelayOnCommand;
    if (hook && !hook(this)) return;
    original.call(this, command, callback);
  };
  proto.consentRelayCommands = true;
}
