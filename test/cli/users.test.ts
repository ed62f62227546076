/**
 * `consent-relay users …` as an operator runs it, and `serve` refusing listener configurations
 * that would make an open relay (exit 78, one line saying what to fix).
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/users/password.js';
import { SqliteUserStore } from '../../src/users/sqlite.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { cli, oneErrorLine } from './run.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let data: string;
beforeEach(async () => {
  tmp = await makeTempDir();
  data = join(tmp.path, 'data');
});
afterEach(async () => {
  await tmp.cleanup();
});

const PASSWORD = 'a long enough passphrase';

describe('users', () => {
  it('add, list, passwd, remove: the password comes from stdin, is stored only as a scrypt hash, 0600', async () => {
    const add = cli(['users', 'add', 'alice', '--senders', 'Alice@Example.com,@sales.example.com', '--password-stdin', '--data-dir', data], { input: `${PASSWORD}\n` });
    expect(add.status, add.err).toBe(0);
    expect(add.out).toBe('added user alice, senders alice@example.com, @sales.example.com\n');
    expect(statSync(join(data, 'users.db')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(data, 'users.db')).includes(Buffer.from(PASSWORD))).toBe(false);

    const list = cli(['users', 'list', '--data-dir', data]);
    expect(list.out).toMatch(/^user\s+senders\s+password changed\nalice\s+alice@example\.com, @sales\.example\.com\s+\d{4}-/);
    expect(list.out).not.toMatch(/scrypt/);

    let store = new SqliteUserStore(data);
    const before = (await store.get('alice'))!.passwordHash;
    await store.close();
    expect(before).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    expect(await verifyPassword(PASSWORD, before)).toBe(true);
    expect(await verifyPassword('a long enough passphrasE', before)).toBe(false);

    const passwd = cli(['users', 'passwd', 'alice', '--password-stdin', '--data-dir', data], { input: 'another long passphrase\n' });
    expect(passwd.status, passwd.err).toBe(0);
    store = new SqliteUserStore(data);
    const after = (await store.get('alice'))!.passwordHash;
    await store.close();
    expect(after).not.toBe(before);
    expect(await verifyPassword('another long passphrase', after)).toBe(true);

    expect(cli(['users', 'remove', 'alice', '--data-dir', data]).out).toBe('removed user alice\n');
    expect(cli(['users', 'list', '--data-dir', data]).out).toMatch(/^no users/);
  });

  it.each([
    ['no --senders', ['users', 'add', 'bob', '--password-stdin'], PASSWORD, /needs --senders/],
    ['a bad sender', ['users', 'add', 'bob', '--senders', 'not an address', '--password-stdin'], PASSWORD, /neither an address/],
    ['a short password', ['users', 'add', 'bob', '--senders', 'bob@example.com', '--password-stdin'], 'short', /at least 10 characters/],
    ['no terminal and no --password-stdin', ['users', 'add', 'bob', '--senders', 'bob@example.com'], PASSWORD, /--password-stdin/],
    ['a bad name', ['users', 'add', 'bob smith', '--senders', 'bob@example.com', '--password-stdin'], PASSWORD, /user name/],
    ['removing nobody', ['users', 'remove', 'carol'], '', /no user carol/],
  ])('refuses %s with exit 64 and one line', (_n, args, input, re) => {
    const r = cli([...args, '--data-dir', data], { input: `${input}\n` });
    expect(r.status).toBe(64);
    expect(oneErrorLine(r)).toMatch(re);
    expect(r.err).not.toContain(PASSWORD);
  });
});

describe('serve refuses a listener that could be an open relay (exit 78, one line)', () => {
  function config(yaml: string): string {
    const file = join(tmp.path, 'relay.yaml');
    writeFileSync(file, `dataDir: ${data}\n${yaml}`);
    return file;
  }

  it.each([
    [
      'a local listener on a public address',
      'listeners:\n  - mode: local\n    address: 0.0.0.0:2525\n',
      /listeners\[0\] \(local 0\.0\.0\.0:2525\): 0\.0\.0\.0 is not a loopback address.*mode: submission/,
    ],
    ['the old listen: on a public address', 'listen:\n  - address: 0.0.0.0:2525\n', /not a loopback address/],
    ['a smart host allowing everyone', 'listeners:\n  - mode: smarthost\n    address: 0.0.0.0:25\n    allow: [10.0.0.0/8, 0.0.0.0/0]\n', /0\.0\.0\.0\/0 allows every address \(an open relay\)/],
    ['a smart host without an allowlist', 'listeners:\n  - mode: smarthost\n    address: 0.0.0.0:25\n', /listeners\.0\.allow/],
    ['submission without TLS', 'listeners:\n  - mode: submission\n    address: 0.0.0.0:587\n', /listeners\.0\.tls/],
    [
      'a certificate that is not there',
      'listeners:\n  - mode: submission\n    address: 127.0.0.1:0\n    tls: { cert: /nonexistent/cert.pem, key: /nonexistent/key.pem }\n',
      /cannot read the certificate \/nonexistent\/cert\.pem \(ENOENT\)/,
    ],
    ['listen: beside listeners:', 'listen:\n  - address: 127.0.0.1:2525\nlisteners:\n  - mode: local\n    address: 127.0.0.1:2526\n', /both listen: and listeners: are set/],
  ])('%s', (_n, yaml, re) => {
    const r = cli(['serve', '--config', config(yaml)]);
    expect(r.status).toBe(78);
    expect(oneErrorLine(r)).toMatch(re);
  });

  it.each([
    ['--submission without a certificate', ['--submission', '127.0.0.1:0'], /--submission needs --tls-cert FILE --tls-key FILE/],
    ['--smarthost without --allow', ['--smarthost', '127.0.0.1:0'], /--smarthost needs --allow/],
  ])('%s is a usage error', (_n, args, re) => {
    const r = cli(['serve', '--data-dir', data, ...args]);
    expect(r.status).toBe(64);
    expect(oneErrorLine(r)).toMatch(re);
  });

  it('--smarthost with an --allow of everyone is refused like the config', () => {
    const r = cli(['serve', '--data-dir', data, '--smarthost', '0.0.0.0:0', '--allow', '::/0']);
    expect(r.status).toBe(78);
    expect(oneErrorLine(r)).toMatch(/::\/0 allows every address/);
  });
});
