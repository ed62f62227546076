/** Small I/O helpers shared by the commands. */
import { readFileSync } from 'node:fs';
import { RelayError } from '../errors.js';

export async function readInput(file: string): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new RelayError('INPUT_UNREADABLE', `cannot read ${file}: ${why}`);
  }
}

/** Write to stdout and wait until it is flushed (large outputs to a pipe). */
export function writeStdout(data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
