/**
 * Reading a password for `users add|passwd`: from standard input (--password-stdin: the first
 * line, for scripts) or from the terminal without echo, asked twice. Never from argv, where every
 * user of the machine could read it in the process list.
 */
import { RelayError } from '../errors.js';

const MIN_LENGTH = 10;
const MAX_BYTES = 1024;

export async function readPassword(opts: { stdin: boolean; prompt: string }): Promise<string> {
  let password: string;
  if (opts.stdin) {
    password = await firstLine();
  } else {
    if (!process.stdin.isTTY) throw new RelayError('USAGE', 'no terminal to ask for the password on; pipe it in with --password-stdin');
    password = await ask(`${opts.prompt}: `);
    const again = await ask('Again: ');
    if (again !== password) throw new RelayError('USAGE', 'the two passwords differ; nothing was changed');
  }
  if ([...password].length < MIN_LENGTH) throw new RelayError('USAGE', `the password must have at least ${MIN_LENGTH} characters; nothing was changed`);
  if (Buffer.byteLength(password) > MAX_BYTES) throw new RelayError('USAGE', `the password is longer than ${MAX_BYTES} bytes; nothing was changed`);
  // a NUL cannot travel in AUTH PLAIN, and control characters are typing accidents
  if (/[\x00-\x1f\x7f]/.test(password)) throw new RelayError('USAGE', 'the password contains control characters; nothing was changed');
  return password;
}

async function firstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    size += (c as Buffer).length;
    if (size > MAX_BYTES * 4) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text.split(/\r?\n/, 1)[0] ?? '';
}

/** One line from the terminal in raw mode, echoing nothing. */
function ask(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let line = '';
    const done = (err: Error | null): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done(null);
          return;
        }
        if (ch === '\u0003') {
          done(new RelayError('USAGE', 'interrupted; nothing was changed'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') line = [...line].slice(0, -1).join('');
        else line += ch;
      }
    };
    stdin.on('data', onData);
  });
}
