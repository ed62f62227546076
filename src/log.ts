/**
 * Operational logs: structured (pino), ids and counts, no message bodies and no raw addresses at
 * info level.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { name: 'consent-relay' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['address', 'from', 'to', 'recipient', 'sender', '*.address', '*.recipient'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * An unexpected error as the operator needs it to find the bug: its class and where it was thrown.
 * Not its message: a library's message can quote the input (a URL with a token, an address).
 */
export function bugReport(err: unknown): { error: string; stack: string } {
  if (!(err instanceof Error)) return { error: typeof err, stack: '' };
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  return {
    error: err.name,
    stack: frames
      .slice(0, 12)
      .map((l) => l.trim())
      .join(' | '),
  };
}
