/** Loopback plumbing shared by the benchmarks that run the relay as its own process. */
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Resolves once something accepts connections on 127.0.0.1:port (10 s at most). */
export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = createConnection(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('relay did not start');
}

export interface CountingSink {
  readonly port: number;
  /** Messages received in full so far. */
  delivered(): number;
  close(): Promise<void>;
}

/** An upstream on 127.0.0.1 that accepts everything, discards it, and counts. */
export async function startCountingSink(): Promise<CountingSink> {
  let delivered = 0;
  const sink = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 0,
    onData(stream, _s, cb) {
      stream.resume();
      stream.on('end', () => {
        delivered++;
        cb();
      });
    },
  });
  sink.listen(0, '127.0.0.1');
  await once(sink.server, 'listening');
  return {
    port: (sink.server.address() as { port: number }).port,
    delivered: () => delivered,
    close: () => new Promise<void>((r) => sink.close(() => r())),
  };
}
