/**
 * A stand-in upstream for trying the relay without an MTA: an SMTP server on loopback that accepts
 * every message and writes it, exactly as received, to a folder. What lands there is what the
 * relay delivered, so `diff`-ing it against what was sent shows what was removed.
 *
 * Loopback only, on purpose: this accepts mail for anyone from anyone and must never be reachable
 * from another machine.
 */
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { RelayError } from '../errors.js';

export interface SinkOptions {
  readonly host: string;
  readonly port: number;
  /** Folder the messages are written to; created (0700) if missing. */
  readonly dir: string;
  /** Called after each message is on disk. */
  readonly onMessage?: (m: SunkMessage) => void;
}

interface SunkMessage {
  /** The .eml file: the message bytes as received, nothing added. */
  readonly file: string;
  readonly bytes: number;
  readonly recipients: number;
}

export interface Sink {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

export async function startSink(options: SinkOptions): Promise<Sink> {
  if (!isLoopback(options.host)) throw new RelayError('CONFIG_INVALID', `the sink accepts mail from anyone, so it listens on loopback only, not ${options.host}; use 127.0.0.1`);
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  let seq = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 0,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        // sortable and unique within this run: time first, then a counter
        const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${String(++seq).padStart(4, '0')}.eml`;
        const file = join(options.dir, name);
        // the envelope goes in a sidecar so the .eml stays the exact bytes delivered
        const envelope = { mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcptTo: session.envelope.rcptTo.map((r) => r.address) };
        Promise.all([writeFile(file, raw, { mode: 0o600 }), writeFile(`${file}.envelope.json`, `${JSON.stringify(envelope, null, 2)}\n`, { mode: 0o600 })]).then(
          () => {
            options.onMessage?.({ file, bytes: raw.length, recipients: envelope.rcptTo.length });
            callback(null, `Ok: stored as ${name}`);
          },
          (err: unknown) => callback(Object.assign(new Error(`cannot store the message: ${(err as Error).message}`), { responseCode: 451 })),
        );
      });
    },
  });
  server.listen(options.port, options.host);
  await Promise.race([
    once(server.server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw new RelayError('CONFIG_INVALID', `the sink cannot listen on ${options.host}:${options.port}: ${(err as Error).message}`);
    }),
  ]);
  return {
    address: server.server.address() as AddressInfo,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
