import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AuditKey, RECIPIENT_HASH, loadAuditKey, recipientHash } from '../../src/audit/keys.js';
import { RelayError } from '../../src/errors.js';
import { makeTempDir } from '../helpers/tmpdir.js';

describe('audit key', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTempDir();
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('is created once: 32 bytes, mode 0600, the same on every load', () => {
    const k1 = loadAuditKey(tmp.path);
    const file = join(tmp.path, 'audit.key');
    expect(readFileSync(file)).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const k2 = loadAuditKey(tmp.path);
    expect(recipientHash(k2, 'a@example.com')).toBe(recipientHash(k1, 'a@example.com'));
  });

  it('hashes the trimmed, lower-cased address with HMAC-SHA256', () => {
    const k = loadAuditKey(tmp.path);
    const h = recipientHash(k, 'a@example.com');
    expect(h).toMatch(RECIPIENT_HASH);
    expect(recipientHash(k, '  A@Example.COM ')).toBe(h);
    expect(recipientHash(k, 'b@example.com')).not.toBe(h);
  });

  it('differs between installations', async () => {
    const other = await makeTempDir();
    try {
      expect(recipientHash(loadAuditKey(other.path), 'a@example.com')).not.toBe(recipientHash(loadAuditKey(tmp.path), 'a@example.com'));
    } finally {
      await other.cleanup();
    }
  });

  it('never shows up in logs', () => {
    const k = loadAuditKey(tmp.path);
    const bytes = readFileSync(join(tmp.path, 'audit.key'));
    for (const text of [JSON.stringify({ k }), inspect(k), String(k), `${k}`]) {
      expect(text).toContain('[audit key]');
      expect(text).not.toContain(bytes.toString('hex'));
      expect(text).not.toContain(bytes.toString('base64'));
    }
  });

  it.each([['a truncated key', (f: string) => writeFileSync(f, Buffer.alloc(7), { mode: 0o600 }), /is 7 bytes, expected 32: restore it from backup/]])(
    'refuses %s with AUDIT_UNAVAILABLE',
    (_name, setup, message) => {
      setup(join(tmp.path, 'audit.key'));
      let err: unknown;
      try {
        loadAuditKey(tmp.path);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RelayError);
      expect((err as RelayError).code).toBe('AUDIT_UNAVAILABLE');
      expect((err as RelayError).message).toMatch(message);
    },
  );

  it('a key left readable by others inside the private data directory is tightened to 0600 and used', () => {
    const f = join(tmp.path, 'audit.key');
    writeFileSync(f, Buffer.alloc(32, 7));
    chmodSync(f, 0o644);
    expect(loadAuditKey(tmp.path).hmac('x')).toBe(new AuditKey(Buffer.alloc(32, 7)).hmac('x'));
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('in a data directory others can enter: CONFIG_INVALID (exit 78), and no key is made', () => {
    chmodSync(tmp.path, 0o755);
    let err: unknown;
    try {
      loadAuditKey(tmp.path);
    } catch (e) {
      err = e;
    }
    expect((err as RelayError).code).toBe('CONFIG_INVALID');
    expect((err as RelayError).message).toBe(`data directory ${tmp.path} is readable by group/other (mode 0755); run: chmod 700 ${tmp.path}`);
    expect(existsSync(join(tmp.path, 'audit.key'))).toBe(false);
  });
});
