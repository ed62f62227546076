import { describe, expect, it } from 'vitest';

import { parseWhen } from '../../src/cli/parse.js';
import { cli } from './run.js';

describe('help', () => {
  it('consent-relay --help lists every command, the common options and exit statuses', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    for (const cmd of ['serve', 'scan', 'consent', 'audit', 'queue']) expect(r.out).toMatch(new RegExp(`^  ${cmd} `, 'm'));
    expect(r.out).toContain('--data-dir DIR');
    expect(r.out).toContain('Exit status:');
  });

  it.each([
    [
      ['consent', '--help'],
      ['grant', 'withdraw', 'show', 'list'],
    ],
    [
      ['consent', 'grant', '--help'],
      ['--scope <scopes>', '--source <text>', '--evidence <text>', '--until <date>', '--by <name>', '--config <file>', '--data-dir <dir>'],
    ],
    [
      ['consent', 'withdraw', '--help'],
      ['--scope <scopes>', '--source <text>', 'Only ADDR is required'],
    ],
    [
      ['audit', 'list', '--help'],
      ['--since <when>', '--until <when>', '--recipient <addr>', '--sender <addr>', '--type <type>', '--limit <n>', '--format <format>', '--data-dir <dir>'],
    ],
    [
      ['queue', '--help'],
      ['list', 'retry', 'drop', 'next spool scan'],
    ],
    [
      ['scan', '--help'],
      ['--recipient <addr>', '--out <file>', '--json', 'Examples:'],
    ],
  ])('%j describes its options', (args, expected) => {
    const r = cli(args);
    expect(r.status).toBe(0);
    for (const e of expected) expect(r.out).toContain(e);
  });

  it('an unknown command or option is exit 64 with a hint', () => {
    const r = cli(['consent', 'revoke', 'a@example.org']);
    expect(r.status).toBe(64);
    expect(r.err).toMatch(/unknown command 'revoke'/);
    const o = cli(['queue', 'list', '--verbose']);
    expect(o.status).toBe(64);
    expect(o.err).toMatch(/unknown option '--verbose'/);
  });
});

describe('parseWhen', () => {
  const now = (): number => Date.parse('2026-10-15T12:00:00.000Z');
  it.each([
    ['2026-10-01', '2026-10-01T00:00:00.000Z'],
    ['2026-10-01T08:30:00Z', '2026-10-01T08:30:00.000Z'],
    ['2026-10-01T10:30:00+02:00', '2026-10-01T08:30:00.000Z'],
    ['7d', '2026-10-08T12:00:00.000Z'],
    ['12h', '2026-10-15T00:00:00.000Z'],
    ['2w', '2026-10-01T12:00:00.000Z'],
    ['30m', '2026-10-15T11:30:00.000Z'],
  ])('%s (ago) → %s', (text, iso) => {
    expect(parseWhen(text, '--since', -1, now)).toBe(iso);
  });

  it('counts forward for --until of a grant', () => {
    expect(parseWhen('1d', '--until', 1, now)).toBe('2026-10-16T12:00:00.000Z');
  });

  it.each(['yesterday', '7', 'May 3', '7 days', '', '2026-13-45'])('%j is refused', (text) => {
    expect(() => parseWhen(text, '--since', -1, now)).toThrow(/--since must be a date/);
  });
});
