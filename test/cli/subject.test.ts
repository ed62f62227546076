import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { makeTempDir } from '../helpers/tmpdir.js';
import { cli } from './run.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let data: string;
beforeEach(async () => {
  tmp = await makeTempDir('consent-relay-cli-');
  data = join(tmp.path, 'data');
});
afterEach(async () => {
  await tmp.cleanup();
});

describe('consent-relay subject / maintenance', () => {
  it('export (text and JSON), object, erase with a receipt that names no one, export again shows nothing', () => {
    expect(cli(['consent', 'grant', 'alice@example.org', '--scope', 'clicks', '--source', 'form', '-d', data]).status).toBe(0);
    const text = cli(['subject', 'export', 'alice@example.org', '-d', data]);
    expect(text.status).toBe(0);
    expect(text.out).toContain('Data held about alice@example.org');
    expect(text.out).toContain('now: opens no, clicks yes');
    // the grant itself is an audit event about her
    expect(text.out).toMatch(/consent-changed +consent grant clicks via cli/);
    const json = JSON.parse(cli(['subject', 'export', 'alice@example.org', '--format', 'json', '-d', data]).out) as { consent: { history: unknown[] }; auditEvents: { type: string }[] };
    expect(json.consent.history).toHaveLength(1);

    const o = cli(['subject', 'object', 'alice@example.org', '--source', 'email of 2026-11-29', '-d', data]);
    expect(o.status).toBe(0);
    expect(o.out).toMatch(/do-not-contact recorded .*refuses this recipient at RCPT with 550 5\.7\.1/);

    expect(cli(['subject', 'erase', 'alice@example.org', '-d', data]).status).toBe(64);
    const e = cli(['subject', 'erase', 'alice@example.org', '--yes', '-d', data]);
    expect(e.status).toBe(0);
    expect(e.out).toMatch(/^erasure receipt E-\d{8}-[0-9a-f]{10} /);
    expect(e.out).toMatch(/consent events deleted: +2/);
    expect(e.out).toMatch(/do-not-contact kept as a hash: yes/);
    expect(e.out).not.toContain('alice');

    const after = JSON.parse(cli(['subject', 'export', 'alice@example.org', '--format', 'json', '-d', data]).out) as {
      consent: { history: unknown[] };
      auditEvents: unknown[];
      doNotContact: { address: string | null } | null;
    };
    expect(after.consent.history).toEqual([]);
    expect(after.auditEvents).toEqual([]);
    // still suppressed, by keyed hash only
    expect(after.doNotContact).toMatchObject({ address: null });
    expect(cli(['audit', 'list', '--recipient', 'alice@example.org', '-d', data]).out).toBe('no audit events\n');
    const v = cli(['audit', 'verify', '-d', data]);
    expect(v.status, v.out + v.err).toBe(0);
  });

  it('rectify moves the history; maintenance purge reports what it deleted', () => {
    expect(cli(['consent', 'grant', 'old@example.org', '--scope', 'opens', '--source', 'form', '-d', data]).status).toBe(0);
    const r = cli(['subject', 'rectify', 'old@example.org', 'new@example.org', '-d', data]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/1 consent event\(s\) and the audit history now belong to the new address/);
    expect(cli(['consent', 'show', 'new@example.org', '-d', data]).out).toMatch(/^new@example\.org: opens\n/);
    expect(cli(['consent', 'show', 'old@example.org', '-d', data]).out).toMatch(/^old@example\.org: none\n/);
    const p = cli(['maintenance', 'purge', '-d', data]);
    expect(p.status).toBe(0);
    expect(p.out).toBe('purged: 0 consent event(s), 0 audit event(s), 0 address(es) behind audit pseudonyms, 0 leftover file(s)\n');
  });
});
