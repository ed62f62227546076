/**
 * The listener: smtp-server with one handler per SMTP stage (connect, MAIL, RCPT, DATA). The
 * stages decide; this file only wires them and tracks transactions in flight for draining.
 */
import { randomBytes } from 'node:crypto';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Logger } from 'pino';
import type { ConsentStore } from '../consent/store.js';
import { RelayError, isRelayError } from '../errors.js';
import { bugReport } from '../log.js';
import { internalFailure, relayMessage, type RelayDeps } from '../pipeline/relay.js';
import type { TraceInfo } from '../pipeline/received.js';
import type { TLSSocket } from 'node:tls';
import type { SubmissionAuth } from './auth.js';
import { checkBeforeMail, checkClient, checkSecure, modeOptions, type ListenerSpec } from './listeners.js';
import type { TlsMaterial } from './tls.js';
import { messageCost, type MemoryBudget } from './budget.js';
import { measureInspected } from '../rewrite/engine.js';
import { ReceivedMessage, readMessage, type BareLineEndings } from './data.js';
import { ConnectionGuard, type FairnessLimits } from './fairness.js';
import { checkMailFrom } from './mail-from.js';
import { checkRcptTo, type DoNotContactPolicy } from './rcpt-to.js';
import { fromRelayError, smtpError, toSmtpError } from './reply.js';
import { Sessions } from './session.js';

export interface ListenerOptions {
  /** Mode, allowlist, TLS files (listeners.ts). */
  readonly spec: ListenerSpec;
  /** The certificate read at start (null: no TLS on this listener). */
  readonly tls: TlsMaterial | null;
  /** Users and abuse limits; required for submission listeners. */
  readonly auth?: SubmissionAuth;
  readonly hostname: string;
  readonly maxMessageSize: number;
  readonly bareLineEndings: BareLineEndings;
  readonly maxRecipients: number;
  readonly maxClients: number;
  /** Per-IP limits, reserve, command budget, deadlines (smtp.*); maxClients is the one above. */
  readonly fairness: Omit<FairnessLimits, 'maxClients'>;
  /** Message bytes in flight, shared by every listener (limits.memoryBudget). */
  readonly budget: MemoryBudget;
  /** How long a message waits for budget before it gets 452 4.3.1. */
  readonly memoryWaitMs: number;
  /** `<dataDir>/incoming`: large messages while they are received. */
  readonly spillDir: string;
  /** smtp-server's idle timer: no byte from the client for this long. */
  readonly idleTimeoutMs: number;
  readonly consent: ConsentStore;
  /** Recipients who objected to contact: refused at RCPT, or accepted and recorded (rights.doNotContact). */
  readonly doNotContact?: DoNotContactPolicy;
  readonly relay: RelayDeps;
  readonly logger: Logger;
}

export interface Listener {
  readonly server: SMTPServer;
  readonly spec: ListenerSpec;
  /** New certificate for new handshakes; sessions already encrypted keep theirs (SIGHUP). */
  reloadTls(tls: TlsMaterial): void;
  /** Transactions between end of DATA and our reply. */
  inFlight(): number;
  /** Refuse new transactions from now on (SIGTERM). */
  drain(): void;
}

const shuttingDown = (): Error => fromRelayError(new RelayError('SHUTTING_DOWN', 'shutting down, try again later'));

export function createListener(o: ListenerOptions): Listener {
  const sessions = new Sessions();
  let inFlight = 0;
  let draining = false;
  // the reserve must leave at least one slot to somebody
  const reserved = Math.min(o.fairness.reservedConnections, o.maxClients - 1);
  const guard = new ConnectionGuard({ ...o.fairness, reservedConnections: reserved, maxClients: o.maxClients }, o.hostname);
  const spec = o.spec;
  const auth = o.auth;
  if (spec.mode === 'submission' && !auth) throw new Error(`${spec.where}: a submission listener needs the user store`);

  const server = new SMTPServer({
    name: o.hostname,
    banner: 'consent-relay', // smtp-server puts "ESMTP" before it itself
    size: o.maxMessageSize,
    // a backstop only: ConnectionGuard counts admitted connections, and smtp-server's count also
    // holds connections being refused, which would turn the reserve away with them
    maxClients: o.maxClients * 2 + 10,
    socketTimeout: o.idleTimeoutMs,
    // who may connect, TLS and AUTH depend on the listener's mode (listeners.ts, auth.ts)
    ...modeOptions(spec, o.tls),
    ...(spec.mode === 'submission' ? auth!.serverOptions() : {}),
    hideDSN: true,
    // closing waits for transactions in flight first (main.ts); what is left then is idle
    closeTimeout: 2000,
    // advertise ENHANCEDSTATUSCODES: every reply carries one (ours are set in reply.ts)
    hideENHANCEDSTATUSCODES: false,
    logger: false,
    onConnect(session: SMTPServerSession, cb: (err?: Error | null) => void) {
      if (draining) return cb(shuttingDown());
      const denied = checkClient(spec, session.remoteAddress);
      if (denied) {
        o.logger.warn({ remote: session.remoteAddress, listener: spec.where }, 'connection refused: address not allowed on this listener');
        return cb(denied);
      }
      const full = guard.admit(session);
      if (full) o.logger.warn({ remote: session.remoteAddress, reason: full.message }, 'connection refused: limit');
      cb(full);
    },
    onSecure(socket, session, cb) {
      const refused = checkSecure(spec, socket as TLSSocket);
      if (refused) o.logger.warn({ remote: session.remoteAddress, listener: spec.where }, 'TLS session refused: no valid client certificate');
      cb(refused);
    },
    onAuth(credentials, session, cb) {
      if (!auth) return cb(fromRelayError(new RelayError('AUTH_FAILED', 'authentication is not offered here')));
      auth.authenticate(credentials, session).then(
        (r) => ('user' in r ? cb(null, { user: r.user }) : cb(r)),
        (err: unknown) => cb(toSmtpError(err, 'temporary authentication failure; try again later')),
      );
    },
    onMailFrom(from, session, cb) {
      if (draining) return cb(shuttingDown());
      sessions.reset(session.id);
      const refused = checkBeforeMail(spec, session) ?? checkMailFrom(from);
      const user = userOf(session);
      if (refused || !auth || user === null) return cb(refused);
      auth.checkSender(user, from).then(cb, (err: unknown) => cb(toSmtpError(err, 'sender check failed; try again later')));
    },
    onRcptTo(rcpt, session, cb) {
      const user = userOf(session);
      const limited = auth && user !== null ? auth.checkRecipient(user) : null;
      if (limited) return cb(limited);
      const state = sessions.get(session.id);
      checkRcptTo(rcpt, state.consent.size, o.maxRecipients, o.consent, o.doNotContact).then(
        (r) => {
          if ('error' in r) return cb(r.error);
          state.consent.set(rcpt.address, r.consent);
          if (r.objected) state.objected.add(rcpt.address);
          cb();
        },
        // a store's own error text can quote the address or its internals: the client gets our words
        (err: unknown) => cb(toSmtpError(err, 'recipient check failed; try again later')),
      );
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void) {
      inFlight++;
      guard.dataStarted(session, stream);
      const queueId = randomBytes(9).toString('base64url');
      void (async () => {
        const received = await readMessage(stream, { maxBytes: o.maxMessageSize, bareLineEndings: o.bareLineEndings, budget: o.budget, spillDir: o.spillDir });
        if (!(received instanceof ReceivedMessage)) return cb(received);
        try {
          const raw = received.segments();
          // a message in memory is small (SPILL_AT); a spilled one costs only its text parts
          const inspected = received.file ? await measureInspected(raw, o.relay.limits) : received.size;
          const cost = messageCost(inspected);
          const charged = await received.charge(cost, o.memoryWaitMs);
          if (charged !== 'ok') {
            o.logger.warn({ queueId, size: received.size, inspected, cost, budget: o.budget.total, inUse: o.budget.inUse() }, 'message refused: memory budget');
            if (charged === 'never')
              return cb(fromRelayError(new RelayError('MESSAGE_TOO_BIG', `text parts of ${inspected} bytes are more than this relay can inspect at once (limits.memoryBudget)`)));
            return cb(fromRelayError(new RelayError('MEMORY_BUDGET', 'insufficient system storage: too many messages in progress; try again later')));
          }
          const state = sessions.get(session.id);
          const recipients = session.envelope.rcptTo.map((r) => ({ address: r.address, consent: state.consent.get(r.address) ?? { opens: false, clicks: false } }));
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          try {
            // a smart host on the allowlist stands behind its senders, so they may get DSNs (pipeline/vouch.ts)
            const vouch = spec.mode === 'smarthost' ? { senderVouch: 'allowlisted' as const } : {};
            const objected = recipients.filter((r) => state.objected.has(r.address)).map((r) => r.address);
            const reply = await relayMessage(o.relay, { queueId, from, recipients, raw, trace: traceOf(session, o.hostname), ...vouch, ...(objected.length ? { objected } : {}) });
            if (reply.code >= 200 && reply.code < 300) return cb(null, `${reply.enhanced} ${reply.message} (queued as ${queueId})`);
            return cb(smtpError(reply.code, reply.enhanced, reply.message));
          } catch (err) {
            if (isRelayError(err)) return cb(fromRelayError(err));
            o.logger.error({ queueId, ...bugReport(err) }, 'unexpected failure in transaction');
            return cb(fromRelayError(internalFailure(queueId, err)));
          }
        } finally {
          await received.dispose();
        }
      })()
        .catch((err: unknown) => {
          o.logger.error({ queueId, ...bugReport(err) }, 'unexpected failure reading the message');
          cb(fromRelayError(internalFailure(queueId, err)));
        })
        .finally(() => {
          // no session reset here: onMailFrom starts the next transaction (which a pipelining
          // client may already have begun), and onClose forgets the session
          inFlight--;
          guard.dataDone(session);
        });
    },
    onClose(session: SMTPServerSession) {
      sessions.drop(session.id);
      guard.release(session);
    },
  });
  guard.attach(server);
  auth?.attach(server);
  server.on('error', (err: Error) => o.logger.error({ reason: err.message }, 'listener error'));
  return {
    server,
    spec,
    reloadTls: (tls) => server.updateSecureContext({ ...tls }),
    inFlight: () => inFlight,
    drain: () => {
      draining = true;
    },
  };
}

/** The name the session authenticated as (onAuth's `user`), or null. */
function userOf(session: SMTPServerSession): string | null {
  const user: unknown = session.user;
  return typeof user === 'string' && user ? user : null;
}

/** The session as the Received: header tells it, with the authenticated user (smtp-server's `session.user`). */
function traceOf(session: SMTPServerSession, hostname: string): TraceInfo {
  const user = userOf(session);
  return {
    helo: session.hostNameAppearsAs || '',
    clientAddress: session.remoteAddress,
    by: hostname,
    esmtp: session.openingCommand === 'EHLO',
    tls: session.secure,
    ...(user ? { auth: { user } } : {}),
    at: new Date(),
  };
}
