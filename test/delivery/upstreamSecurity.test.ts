/**
 * The decision table of `upstream.tls` (src/delivery/upstreamTls.ts): which settings give TLS,
 * which are refused at start because they would put mail or a password on the wire in clear, and
 * where the password comes from. Pure: files and environment are handed in.
 */
import { describe, expect, it } from 'vitest';

import { isLoopbackLiteral, resolveUpstreamSecurity, type SecretSources, type UpstreamSecurityConfig } from '../../src/delivery/upstreamTls.js';

const files: Record<string, string> = { '/etc/cr/pass': 's3cret\nignored second line\n', '/etc/cr/ca.pem': 'CA PEM', '/etc/cr/empty': '\n' };
function io(env: NodeJS.ProcessEnv = {}, mode = 0o600): SecretSources {
  return {
    readFile: (p) => {
      const v = files[p];
      if (v === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return Buffer.from(v);
    },
    modeOf: () => mode,
    env,
  };
}
const base: UpstreamSecurityConfig = { host: 'smtp.example.com', tls: 'auto', allowPlaintext: false };
const decide = (cfg: Partial<UpstreamSecurityConfig>, env: NodeJS.ProcessEnv = {}, mode = 0o600) => resolveUpstreamSecurity({ ...base, ...cfg }, io(env, mode));

describe('upstream.tls', () => {
  it.each([
    ['auto, a host name', { host: 'smtp.example.com' }, 'starttls'],
    ['auto, localhost (a name: remote)', { host: 'localhost' }, 'starttls'],
    ['auto, a LAN address', { host: '10.0.0.5' }, 'starttls'],
    ['auto, 127.0.0.1', { host: '127.0.0.1' }, 'plain'],
    ['auto, 127.0.0.53', { host: '127.0.0.53' }, 'plain'],
    ['auto, ::1', { host: '::1' }, 'plain'],
    ['auto, 127.0.0.1 with credentials', { host: '127.0.0.1', auth: { user: 'u', passwordEnv: 'P' } }, 'starttls'],
    ['starttls on loopback', { host: '127.0.0.1', tls: 'starttls' as const }, 'starttls'],
    ['implicit', { tls: 'implicit' as const }, 'implicit'],
    ['none on loopback', { host: '127.0.0.1', tls: 'none' as const }, 'plain'],
    ['none elsewhere, explicitly allowed', { tls: 'none' as const, allowPlaintext: true }, 'plain'],
  ])('%s → %s', (_n, cfg, transport) => {
    expect(decide(cfg, { P: 'x' }).transport).toBe(transport);
  });

  it('verifies with TLS 1.2 at least, the system CAs unless caFile, and the configured name', () => {
    const s = decide({ caFile: '/etc/cr/ca.pem', serverName: 'mx.example.com' });
    expect(s.tls).toEqual({ minVersion: 'TLSv1.2', rejectUnauthorized: true, servername: 'mx.example.com', ca: Buffer.from('CA PEM') });
    expect(s.summary).toBe('STARTTLS required, certificate verified for mx.example.com (CA from upstream.caFile)');
    expect(decide({}).tls).toEqual({ minVersion: 'TLSv1.2', rejectUnauthorized: true });
  });

  it.each([
    ['plain text to a remote host', { tls: 'none' as const }, /upstream.tls: none would send mail to smtp.example.com in clear text.*allowPlaintext: true/],
    [
      'a password in clear even when plain text is allowed',
      { tls: 'none' as const, allowPlaintext: true, auth: { user: 'u', passwordEnv: 'P' } },
      /would send the password to smtp.example.com in clear text/,
    ],
    ['allowPlaintext without tls: none', { allowPlaintext: true }, /allowPlaintext only applies to upstream.tls: none/],
    ['a CA file for a plain-text upstream', { host: '127.0.0.1', caFile: '/etc/cr/ca.pem' }, /need TLS/],
    ['an unreadable CA file', { caFile: '/etc/cr/missing.pem' }, /upstream.caFile \/etc\/cr\/missing.pem cannot be read \(ENOENT\)/],
    ['an unset password variable', { auth: { user: 'u', passwordEnv: 'NOPE' } }, /environment variable NOPE is not set or empty/],
    ['an empty password file', { auth: { user: 'u', passwordFile: '/etc/cr/empty' } }, /passwordFile \/etc\/cr\/empty is empty/],
  ])('refuses to start: %s (exit 78)', (_n, cfg, re) => {
    let err: unknown;
    try {
      decide(cfg, { P: 'x' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', spec: { exit: 78 } });
    expect((err as Error).message).toMatch(re);
  });

  it('warns at start when plain text to a remote upstream is allowed', () => {
    expect(decide({ tls: 'none', allowPlaintext: true }).warnings).toEqual(['upstream.allowPlaintext: mail to smtp.example.com leaves in clear text, readable and changeable by anyone on the path']);
  });
});

describe('upstream credentials', () => {
  it('reads the first line of the password file, and warns when others can read it', () => {
    const s = decide({ auth: { user: 'relay', passwordFile: '/etc/cr/pass' } }, {}, 0o644);
    expect(s.auth).toEqual({ user: 'relay', pass: 's3cret' });
    expect(s.warnings).toEqual(['upstream.auth.passwordFile /etc/cr/pass can be read by group/other (mode 0644); run: chmod 600 /etc/cr/pass']);
    expect(decide({ auth: { user: 'relay', passwordFile: '/etc/cr/pass' } }).warnings).toEqual([]);
  });

  it('reads the password from the environment; no message or summary carries it', () => {
    const s = decide({ auth: { user: 'relay', passwordEnv: 'UP' } }, { UP: 'from-env' });
    expect(s.auth?.pass).toBe('from-env');
    expect(`${s.summary} ${s.warnings.join(' ')}`).not.toContain('from-env');
  });
});

describe('isLoopbackLiteral', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', false],
    ['128.0.0.1', false],
    ['::2', false],
    ['relay.internal', false],
  ])('%s → %s', (host, want) => expect(isLoopbackLiteral(host)).toBe(want));
});
