/**
 * A recording SMTP upstream for tests: smtp-server on 127.0.0.1 with an ephemeral port.
 *
 *   const up = await startUpstream();
 *   up.setBehaviour((s) => (s.stage === 'rcpt' && s.address.startsWith('soft') ? reply(451, '4.2.0 try later') : 'accept'));
 *   ... deliver to 127.0.0.1:up.port ...
 *   await up.waitFor(1, 2000);       // resolves with up.received once it holds >= 1 transaction
 *   await up.down(); await up.up();  // simulate an outage; it comes back on the same port
 *   await up.close();
 *
 * Only transactions the upstream accepted at DATA are recorded in `received`, with the
 * recipients it accepted at RCPT: that is exactly what was delivered, so "delivered exactly once"
 * is a count over `received`. Everything that was attempted is in `attempts` too.
 */
import { SMTPServer } from 'smtp-server';
import type { SMTPServerSession } from 'smtp-server';

interface Received {
  /** MAIL FROM address; '' for the null sender. */
  readonly from: string;
  /** Recipients accepted at RCPT. */
  readonly to: string[];
  readonly raw: Buffer;
}

/** What the upstream is being asked to decide on. */
type Stage =
  | { readonly stage: 'mail'; readonly from: string }
  | { readonly stage: 'rcpt'; readonly from: string; readonly address: string }
  | { readonly stage: 'data'; readonly from: string; readonly to: readonly string[]; readonly raw: Buffer };

/** 'accept' or an SMTP error reply (4xx/5xx); the message may start with an enhanced code. */
export type Verdict = 'accept' | { readonly code: number; readonly message: string };
type Behaviour = (stage: Stage) => Verdict;

export function reply(code: number, message: string): Verdict {
  return { code, message };
}

const acceptAll: Behaviour = () => 'accept';

export interface StartUpstreamOptions {
  /** Initial behaviour; accept everything by default. */
  readonly behaviour?: Behaviour;
  /** Listen on this port instead of an ephemeral one. */
  readonly port?: number;
  /** Server name in the greeting. */
  readonly name?: string;
  /** Listen on this loopback address (127.0.0.x) instead of 127.0.0.1. */
  readonly host?: string;
  /** Offer STARTTLS with this certificate (or, with `secure`, speak TLS from the first byte). */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer; readonly secure?: boolean; readonly clientCa?: Buffer };
  /**
   * Offer AUTH PLAIN/LOGIN and accept these credentials, also without TLS (as a careless server
   * would), so that a test can see whether the client holds them back.
   */
  readonly auth?: { readonly user: string; readonly pass: string };
}

/** What the upstream saw of one session when MAIL FROM arrived. */
interface SessionSeen {
  /** The session ran under TLS (STARTTLS or implicit) by then. */
  readonly secure: boolean;
  /** The user the client authenticated as, or null. */
  readonly user: string | null;
  /** Subject of the client certificate the session presented, if any. */
  readonly clientCertSubject: string | null;
}

export interface RecordingUpstream {
  readonly host: string;
  readonly port: number;
  /** Accepted transactions, in order. */
  readonly received: Received[];
  /** Every transaction that reached DATA, accepted or not (with the verdict given). */
  readonly attempts: Array<Received & { readonly verdict: Verdict }>;
  /** One entry per MAIL FROM: was the session encrypted and authenticated then. */
  readonly sessions: SessionSeen[];
  /** Every AUTH attempt, with whether it came over TLS. */
  readonly auths: Array<{ readonly user: string; readonly secure: boolean }>;
  /** Every byte received on the TCP sockets (after STARTTLS: ciphertext, if any reaches here). */
  wire(): Buffer;
  setBehaviour(fn: Behaviour): void;
  /** Stop listening and drop open connections (clients see 421 / a reset, then "connection refused"). */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  /** Resolves with `received` once it holds at least n transactions; rejects after timeoutMs. */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

interface Transaction {
  from: string;
  to: string[];
}

export async function startUpstream(opts: StartUpstreamOptions = {}): Promise<RecordingUpstream> {
  let behaviour: Behaviour = opts.behaviour ?? acceptAll;
  const received: Received[] = [];
  const attempts: Array<Received & { verdict: Verdict }> = [];
  const waiters = new Set<() => void>();
  // smtp-server keeps envelope state on the session; we keep our own keyed by session id so the
  // recorded `to` holds only what we accepted.
  const transactions = new Map<string, Transaction>();
  const sessions: SessionSeen[] = [];
  const auths: Array<{ user: string; secure: boolean }> = [];
  const wire: Buffer[] = [];
  const peerCerts = new Map<string, string>();
  const host = opts.host ?? '127.0.0.1';
  const tls = opts.tls;

  const toError = (v: Exclude<Verdict, 'accept'>): Error & { responseCode: number } => Object.assign(new Error(v.message), { responseCode: v.code });

  const txFor = (session: SMTPServerSession): Transaction => {
    let tx = transactions.get(session.id);
    if (tx === undefined) {
      tx = { from: '', to: [] };
      transactions.set(session.id, tx);
    }
    return tx;
  };

  const makeServer = (): SMTPServer =>
    new SMTPServer({
      name: opts.name ?? 'upstream.test',
      authOptional: true,
      disabledCommands: [...(tls ? [] : ['STARTTLS']), ...(opts.auth ? [] : ['AUTH'])],
      ...(tls ? { key: tls.key, cert: tls.cert, secure: tls.secure ?? false } : {}),
      ...(tls?.clientCa ? { requestCert: true, rejectUnauthorized: false, ca: tls.clientCa } : {}),
      ...(opts.auth ? { authMethods: ['PLAIN', 'LOGIN'], allowInsecureAuth: true } : {}),
      onSecure(socket, session, cb) {
        const cert = (socket as import('node:tls').TLSSocket).getPeerCertificate?.();
        if (cert && typeof cert.subject === 'object' && cert.subject !== null) peerCerts.set(session.id, String(cert.subject.CN ?? ''));
        cb();
      },
      onAuth(auth, session, cb) {
        auths.push({ user: auth.username ?? '', secure: session.secure });
        const ok = opts.auth !== undefined && auth.username === opts.auth.user && auth.password === opts.auth.pass;
        cb(ok ? null : Object.assign(new Error('5.7.8 authentication failed'), { responseCode: 535 }), ok ? { user: auth.username } : undefined);
      },
      // smtp-server's own enhanced codes stay off: the test's reply text (which may start with one) goes out verbatim.
      hideENHANCEDSTATUSCODES: true,
      logger: false,
      // down() should not wait 30 s for pooled client connections to go away.
      closeTimeout: 50,
      onMailFrom(address, session, cb) {
        transactions.set(session.id, { from: address.address, to: [] });
        const peer = peerCerts.get(session.id) ?? null;
        sessions.push({ secure: session.secure, user: typeof session.user === 'string' ? session.user : null, clientCertSubject: peer });
        const v = behaviour({ stage: 'mail', from: address.address });
        cb(v === 'accept' ? null : toError(v));
      },
      onRcptTo(address, session, cb) {
        const tx = txFor(session);
        const v = behaviour({ stage: 'rcpt', from: tx.from, address: address.address });
        if (v === 'accept') tx.to.push(address.address);
        cb(v === 'accept' ? null : toError(v));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', (err: Error) => cb(err));
        stream.on('end', () => {
          const tx = txFor(session);
          transactions.delete(session.id);
          const raw = Buffer.concat(chunks);
          const v = behaviour({ stage: 'data', from: tx.from, to: [...tx.to], raw });
          const rec = { from: tx.from, to: [...tx.to], raw };
          attempts.push({ ...rec, verdict: v });
          if (v !== 'accept') return cb(toError(v));
          received.push(rec);
          for (const w of [...waiters]) w();
          cb(null, `2.0.0 Ok: queued as ${received.length}`);
        });
      },
    });

  const tap = (server: SMTPServer): SMTPServer => {
    server.server.on('connection', (socket: import('node:net').Socket) => socket.on('data', (c: Buffer) => wire.push(Buffer.from(c))));
    // a client that gives up on our certificate closes mid-handshake: smtp-server reports that as
    // a server error, which for a test upstream is an expected outcome, not a crash
    server.on('error', () => undefined);
    return server;
  };
  let server = tap(makeServer());
  let listening = false;

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        listening = true;
        const addr = server.server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });

  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (!listening) return resolve();
      listening = false;
      server.close(() => resolve());
    });

  const port = await listen(opts.port ?? 0);

  return {
    host,
    port,
    received,
    attempts,
    sessions,
    auths,
    wire: () => Buffer.concat(wire),
    setBehaviour(fn) {
      behaviour = fn;
    },
    async down() {
      await stop();
    },
    async up() {
      if (listening) return;
      server = tap(makeServer());
      await listen(port);
    },
    waitFor(n, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        if (received.length >= n) return resolve(received);
        const check = (): void => {
          if (received.length < n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(received);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`upstream received ${received.length} of ${n} transactions within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    async close() {
      await stop();
    },
  };
}
