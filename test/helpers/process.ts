/** Run the built relay as a real child process, as an operator would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'consent-relay.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RelayProcess {
  readonly child: ChildProcess;
  /** stderr so far (pino JSON lines). */
  log(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Start `consent-relay serve ARGS` and wait for its "listening" line. */
export async function spawnRelay(args: string[], timeoutMs = 15_000, opts: { readonly umask?: string } = {}): Promise<RelayProcess> {
  const argv = [BIN, 'serve', ...args];
  // a umask is set by the shell that then becomes the relay, as a service manager would
  const child =
    opts.umask === undefined
      ? spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`relay did not start in ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    const check = (): void => {
      if (/consent-relay listening on/.test(stderr)) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`relay exited (${code}) before listening:\n${stderr}`));
    });
  });
  return { child, log: () => stderr, exited };
}
