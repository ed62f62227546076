/**
 * A look at the upstream when the relay starts, so that a newcomer whose first message gets 451
 * already knows why ("nothing answers on 127.0.0.1:25") instead of reading the spool.
 * It only warns: the upstream may come up after the relay, and the spool covers the gap.
 */
import { connect } from 'node:net';

export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Connects and, for plain SMTP, waits for the greeting (a 220 line). With implicit TLS the
 * greeting comes only after a handshake, so a TCP connection is all that is checked.
 */
export function probeUpstream(host: string, port: number, opts: { implicitTls?: boolean; timeoutMs?: number } = {}): Promise<ProbeResult> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  return new Promise((resolve) => {
    let settled = false;
    let greeting = '';
    const done = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(r);
    };
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => done({ ok: false, reason: `no greeting within ${timeoutMs} ms` }));
    socket.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }));
    socket.on('connect', () => {
      if (opts.implicitTls) done({ ok: true });
    });
    socket.on('data', (chunk: Buffer) => {
      greeting += chunk.toString('latin1');
      const eol = greeting.indexOf('\n');
      if (eol < 0 && greeting.length < 512) return;
      const line = greeting.slice(0, eol < 0 ? undefined : eol).trim();
      if (/^220[ -]/.test(line)) {
        socket.write('QUIT\r\n');
        done({ ok: true });
      } else done({ ok: false, reason: `it greeted with "${line.slice(0, 80)}" instead of 220` });
    });
    socket.on('end', () => done({ ok: false, reason: 'it closed the connection before greeting' }));
  });
}
