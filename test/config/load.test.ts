import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'cr-config-'));
function file(text: string): string {
  const p = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(p, text);
  return p;
}

describe('configuration', () => {
  it('runs on embedded defaults without a file', () => {
    const c = loadConfig();
    expect(c.listeners[0]).toEqual({ mode: 'local', address: '127.0.0.1:2525' });
    expect(c.upstream.address).toBe('127.0.0.1:25');
    expect(c.dataDir).toMatch(/data$/);
    expect(c.policy.mode).toBe('enforce');
    expect(Object.isFrozen(c.upstream)).toBe(true);
  });

  it('the shipped example is valid and equals the defaults', () => {
    const example = loadConfig(join(import.meta.dirname, '../../config/relay.example.yaml'));
    expect(example).toEqual(loadConfig());
  });

  it('parses durations and sizes', () => {
    const c = loadConfig(file('spool:\n  retryInitial: 30s\n  giveUpAfter: 2h\nlimits:\n  maxMessageSize: 10MB\n'));
    expect(c.spool.retryInitial).toBe(30_000);
    expect(c.spool.giveUpAfter).toBe(7_200_000);
    expect(c.limits.maxMessageSize).toBe(10 * 1024 * 1024);
  });

  it('flags override the file', () => {
    const c = loadConfig(file('upstream:\n  address: mx.example.com:25\n'), { upstream: '127.0.0.1:2526', listen: '127.0.0.1:0', dataDir: dir });
    expect(c.upstream.address).toBe('127.0.0.1:2526');
    expect(c.listeners[0]!.address).toBe('127.0.0.1:0');
    expect(c.dataDir).toBe(dir);
  });

  it.each([
    ['unknown top-level key', 'listne:\n  - address: 127.0.0.1:25\n', /unknown key listne/],
    ['unknown nested key', 'upstream:\n  adress: x:25\n', /unknown key upstream.adress/],
    ['bad host:port', 'upstream:\n  address: nohost\n', /upstream.address: HOST:PORT/],
    ['bad duration', 'spool:\n  retryInitial: soon\n', /spool.retryInitial/],
    ['bad mode', 'policy:\n  mode: strict\n', /policy.mode/],
    ['not YAML', 'listen: [\n', /not valid YAML/],
    ['not a mapping', '- a\n- b\n', /mapping/],
    ['a replaced upstream key', 'upstream:\n  tlsInsecure: true\n', /unknown key upstream.tlsInsecure \(replaced by upstream.caFile/],
    ['a password in the config', 'upstream:\n  auth:\n    user: u\n    pass: secret\n', /upstream.auth.pass \(replaced by upstream.auth.passwordFile or upstream.auth.passwordEnv\)/],
    ['no password source', 'upstream:\n  auth:\n    user: u\n', /upstream.auth: set exactly one of passwordFile and passwordEnv/],
    ['two password sources', 'upstream:\n  auth:\n    user: u\n    passwordFile: /x\n    passwordEnv: X\n', /upstream.auth: set exactly one/],
    ['bad tls mode', 'upstream:\n  tls: maybe\n', /upstream.tls/],
  ])('names the problem: %s', (_n, text, re) => {
    expect(() => loadConfig(file(text))).toThrow(re);
  });

  it('a missing file is a clear error', () => {
    expect(() => loadConfig(join(dir, 'nope.yaml'))).toThrow(/does not exist/);
  });
});
