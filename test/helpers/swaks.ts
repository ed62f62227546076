/** Debian's swaks as an attacking (or honest) SMTP client; asynchronous, so an in-process relay keeps running. */
import { execFile } from 'node:child_process';

export interface SwaksResult {
  readonly status: number;
  /** The whole transcript: "<-" server lines, "<**" server errors, "->" client lines. */
  readonly out: string;
}

export function swaks(args: readonly string[]): Promise<SwaksResult> {
  return new Promise((resolve) => {
    execFile('swaks', ['--timeout', '10', '--hide-informational', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ status, out: `${stdout}${stderr}` });
    });
  });
}

/** The server's reply lines (ok or error) in the transcript, without the arrows. */
export function serverLines(out: string): string[] {
  return out
    .split('\n')
    .filter((l) => /^\s*<(?:~|-|\*\*|~\*)/.test(l))
    .map((l) => l.replace(/^\s*<\S*\s+/, ''));
}
