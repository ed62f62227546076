/**
 * A raw SMTP client on a socket, for what nodemailer will not send: bare CR/LF in DATA (nodemailer
 * makes them CRLF), a chosen source address (127.0.0.2), or a client that dawdles.
 */
import { connect, type Socket } from 'node:net';

export interface SmtpReply {
  readonly code: number;
  readonly text: string;
}

export class RawSmtp {
  private buf = '';
  private readonly waiting: Array<(r: SmtpReply) => void> = [];
  private readonly replies: SmtpReply[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      for (;;) {
        // a reply ends with a line "ddd text" (a space, not a dash, after the code)
        const m = /^(?:\d{3}-[^\n]*\n)*(\d{3})(?: [^\n]*)?\r?\n/.exec(this.buf);
        if (!m) break;
        this.buf = this.buf.slice(m[0].length);
        const r = { code: Number(m[1]), text: m[0].trim() };
        const w = this.waiting.shift();
        if (w) w(r);
        else this.replies.push(r);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w({ code: 0, text: 'connection closed' });
    });
    socket.on('error', () => undefined);
  }

  static open(port: number, localAddress?: string): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) }, () => resolve(new RawSmtp(s)));
      s.once('error', reject);
    });
  }

  /** The next reply from the server (0 when the connection closed first). */
  reply(): Promise<SmtpReply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.closed) return Promise.resolve({ code: 0, text: 'connection closed' });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  async command(line: string): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * One transaction with `data` sent exactly as given (dot-stuffed where smtp-server un-stuffs: at
 * the start and after every LF), then ".\r\n". Resolves with the reply to the end of data, or the first failure.
 */
export async function rawSend(port: number, from: string, to: readonly string[], data: Buffer, localAddress?: string): Promise<SmtpReply> {
  const c = await RawSmtp.open(port, localAddress);
  try {
    const greeting = await c.reply();
    if (greeting.code !== 220) return greeting;
    for (const line of ['EHLO client.test', `MAIL FROM:<${from}>`, ...to.map((t) => `RCPT TO:<${t}>`)]) {
      const r = await c.command(line);
      if (r.code >= 400) return r;
    }
    const go = await c.command('DATA');
    if (go.code !== 354) return go;
    // smtp-server removes a stuffed dot after any LF (bare or not), so that is where we add one
    const stuffed = Buffer.from(data.toString('latin1').replace(/(^|\n)\./g, '$1..'), 'latin1');
    const end = stuffed.subarray(-2).toString('latin1') === '\r\n' ? '.\r\n' : '\r\n.\r\n';
    c.write(Buffer.concat([stuffed, Buffer.from(end)]));
    const r = await c.reply();
    await c.command('QUIT');
    return r;
  } finally {
    c.close();
  }
}
