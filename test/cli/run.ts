/**
 * Runs the built CLI (bin/consent-relay.js → dist/src/cli/main.js) as a child process, the way
 * users run it. dist/ is built by test/global-setup.ts before the suite.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'consent-relay.js');
export const GOLDEN = join(ROOT, 'fixtures', 'golden');

export interface RunResult {
  readonly status: number | null;
  readonly stdout: Buffer;
  readonly out: string;
  readonly err: string;
}

export function cli(args: readonly string[], options: { input?: Buffer | string; cwd?: string; timeoutMs?: number } = {}): RunResult {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) throw new Error('dist/ is not built; run npx tsc -p tsconfig.build.json');
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    input: options.input ?? '',
    timeout: options.timeoutMs ?? 20_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1' },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
}

/** Exactly one line on stderr, in the "consent-relay: …" form. */
export function oneErrorLine(r: RunResult): string {
  const lines = r.err.split('\n').filter(Boolean);
  if (lines.length !== 1 || !lines[0]!.startsWith('consent-relay: ')) throw new Error(`expected one "consent-relay: …" line on stderr, got:\n${r.err}`);
  return lines[0]!;
}
