import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import YAML from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { makeTempDir } from '../helpers/tmpdir.js';
import { cli, oneErrorLine } from './run.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let data: string;
beforeEach(async () => {
  tmp = await makeTempDir('consent-relay-cli-');
  data = join(tmp.path, 'data');
});
afterEach(async () => {
  await tmp.cleanup();
});

describe('consent-relay consent', () => {
  it('grant, show, withdraw, list round trip in a --data-dir', () => {
    const g = cli([
      'consent',
      'grant',
      'Alice@Example.org',
      '--scope',
      'opens,clicks',
      '--source',
      'webinar signup form',
      '--evidence',
      'form #1234',
      '--until',
      '2099-01-01',
      '--by',
      'ops',
      '--data-dir',
      data,
    ]);
    expect(g.status).toBe(0);
    expect(g.err).toBe('');
    expect(g.out).toBe('granted opens,clicks for alice@example.org until 2099-01-01T00:00:00.000Z (source: webinar signup form; evidence: form #1234; recorded by ops; event #1)\n');

    const s1 = cli(['consent', 'show', 'alice@example.org', '-d', data]);
    expect(s1.status).toBe(0);
    expect(s1.out).toMatch(/^alice@example\.org: opens,clicks\n/);
    expect(s1.out).toMatch(/ {2}opens: {2}granted \S+ until 2099-01-01T00:00:00\.000Z \(event #1\)/);
    expect(s1.out).toContain('history (oldest first):');
    expect(s1.out).toMatch(/1 +\S+ +grant +opens,clicks +2099-01-01T00:00:00\.000Z +webinar signup form +cli +ops +form #1234/);

    // withdrawing needs nothing but the address
    const w = cli(['consent', 'withdraw', 'alice@example.org', '-d', data]);
    expect(w.status).toBe(0);
    expect(w.out).toMatch(/^withdrew opens,clicks for alice@example\.org \(source: withdrawal; recorded by \S.*; event #2\)\n$/);

    const s2 = cli(['consent', 'show', 'ALICE@example.org', '-d', data]);
    expect(s2.out).toMatch(/^alice@example\.org: none\n/);
    expect(s2.out).toMatch(/opens: {2}not granted \(withdrawn \S+, event #2\)/);
    expect(s2.out).toMatch(/2 +\S+ +withdraw +opens,clicks +- +withdrawal/);

    expect(cli(['consent', 'grant', 'bob@example.org', '--scope', 'clicks', '--source', 'crm', '-d', data]).status).toBe(0);
    const partial = cli(['consent', 'withdraw', 'bob@example.org', '--scope', 'opens', '--source', 'unsubscribe reply', '-d', data]);
    expect(partial.out).toMatch(/^withdrew opens for bob@example\.org \(source: unsubscribe reply;/);

    const l = cli(['consent', 'list', '-d', data]);
    expect(l.status).toBe(0);
    const lines = l.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^address +consent +since +events$/);
    expect(lines[1]).toMatch(/^alice@example\.org +none +\S+ +2$/);
    expect(lines[2]).toMatch(/^bob@example\.org +clicks +\S+ +2$/);
    expect(lines).toHaveLength(3);
  });

  it('works the same through --config pointing at a YAML file with dataDir', () => {
    const config = join(tmp.path, 'relay.yaml');
    writeFileSync(config, YAML.stringify({ dataDir: data, log: { level: 'warn' } }));
    expect(cli(['consent', 'grant', 'carol@example.net', '--scope', 'all', '--source', 'paper form', '--config', config]).status).toBe(0);
    expect(existsSync(join(data, 'consent.db'))).toBe(true);
    expect(cli(['consent', 'show', 'carol@example.net', '-c', config]).out).toMatch(/^carol@example\.net: opens,clicks\n/);
    // the same store, reached with --data-dir
    expect(cli(['consent', 'list', '-d', data]).out).toMatch(/carol@example\.net +opens,clicks/);
    expect(cli(['consent', 'withdraw', 'carol@example.net', '--scope', 'clicks', '-c', config]).status).toBe(0);
    expect(cli(['consent', 'list', '-c', config]).out).toMatch(/carol@example\.net +opens +\S+ +2/);
    // --data-dir overrides the file
    const other = join(tmp.path, 'other');
    expect(cli(['consent', 'grant', 'dave@example.com', '--scope', 'opens', '--source', 's', '-c', config, '-d', other]).status).toBe(0);
    expect(cli(['consent', 'list', '-c', config]).out).not.toContain('dave@');
    expect(cli(['consent', 'list', '-d', other]).out).toContain('dave@example.com');
  });

  it('a grant without --source is a usage error that says what to add, and records nothing', () => {
    const r = cli(['consent', 'grant', 'alice@example.org', '--scope', 'opens', '-d', data]);
    expect(r.status).toBe(64);
    expect(oneErrorLine(r)).toMatch(/^consent-relay: a grant needs --source: where the consent came from/);
    expect(r.out).toBe('');
    expect(existsSync(join(data, 'consent.db'))).toBe(false);
    expect(cli(['consent', 'grant', 'alice@example.org', '--scope', 'opens', '--source', '   ', '-d', data]).status).toBe(64);
  });

  it('a grant without --scope is a usage error', () => {
    const r = cli(['consent', 'grant', 'alice@example.org', '--source', 'form', '-d', data]);
    expect(r.status).toBe(64);
    expect(oneErrorLine(r)).toMatch(/a grant needs --scope/);
  });

  it('an unknown scope is a usage error naming the known ones', () => {
    const r = cli(['consent', 'grant', 'alice@example.org', '--scope', 'opens,tracking', '--source', 'form', '-d', data]);
    expect(r.status).toBe(64);
    expect(oneErrorLine(r)).toBe('consent-relay: unknown consent scope "tracking"; known scopes: opens, clicks, or "all"');
    const w = cli(['consent', 'withdraw', 'alice@example.org', '--scope', 'open', '-d', data]);
    expect(w.status).toBe(64);
    expect(oneErrorLine(w)).toMatch(/unknown consent scope "open" \(did you mean "opens"\?\)/);
    expect(existsSync(join(data, 'consent.db'))).toBe(false);
  });

  it('an invalid address or --until is a usage error', () => {
    const a = cli(['consent', 'grant', 'Alice <alice@example.org>', '--scope', 'opens', '--source', 'form', '-d', data]);
    expect(a.status).toBe(64);
    expect(oneErrorLine(a)).toMatch(/invalid email address/);
    const u = cli(['consent', 'grant', 'alice@example.org', '--scope', 'opens', '--source', 'form', '--until', 'next year', '-d', data]);
    expect(u.status).toBe(64);
    expect(oneErrorLine(u)).toMatch(/--until must be a date/);
    expect(existsSync(join(data, 'consent.db'))).toBe(false);
  });

  it('--until accepts a duration from now', () => {
    const r = cli(['consent', 'grant', 'alice@example.org', '--scope', 'clicks', '--source', 'form', '--until', '365d', '-d', data]);
    expect(r.status).toBe(0);
    const until = /until (\S+) /.exec(r.out)?.[1] ?? '';
    const days = (Date.parse(until) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(364.9);
    expect(days).toBeLessThan(365.1);
  });

  it('show and list on a data directory without a store: nothing recorded, and no store created', () => {
    const s = cli(['consent', 'show', 'alice@example.org', '-d', data]);
    expect(s.status).toBe(0);
    expect(s.out).toBe('alice@example.org: none\n  no consent recorded (no record means no consent)\n');
    expect(oneErrorLine(s)).toMatch(/no consent store at .*consent\.db yet/);
    const l = cli(['consent', 'list', '-d', data]);
    expect(l.status).toBe(0);
    expect(l.out).toBe('no consent recorded\n');
    expect(existsSync(data)).toBe(false);
  });

  it('a bad config file: exit 78 naming the bad key', () => {
    const config = join(tmp.path, 'bad.yaml');
    writeFileSync(config, `dataDir: ${data}\nlimits:\n  maxMimeDeep: 3\n`);
    const r = cli(['consent', 'list', '--config', config]);
    expect(r.status).toBe(78);
    expect(oneErrorLine(r)).toBe(`consent-relay: config file ${config}: unknown key limits.maxMimeDeep`);
    const wrongType = join(tmp.path, 'type.yaml');
    writeFileSync(wrongType, 'spool:\n  scanInterval: soon\n');
    const t = cli(['queue', 'list', '-c', wrongType]);
    expect(t.status).toBe(78);
    expect(oneErrorLine(t)).toMatch(/spool\.scanInterval/);
    const missing = cli(['audit', 'list', '-c', join(tmp.path, 'nope.yaml')]);
    expect(missing.status).toBe(78);
    expect(oneErrorLine(missing)).toMatch(/nope\.yaml does not exist/);
  });
});
