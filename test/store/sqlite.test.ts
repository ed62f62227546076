import { statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { RelayError } from '../../src/errors.js';
import { openDatabase } from '../../src/store/sqlite.js';
import type { Migration, OpenDatabaseOptions } from '../../src/store/sqlite.js';
import { makeTempDir, makeUnwritableDir } from '../helpers/tmpdir.js';

const STEPS: Migration[] = [
  { description: 'one', sql: 'CREATE TABLE t (x INTEGER NOT NULL);' },
  { description: 'two', sql: 'ALTER TABLE t ADD COLUMN y TEXT;' },
];

function opts(dataDir: string, migrations: readonly Migration[] = STEPS): OpenDatabaseOptions {
  return { dataDir, fileName: 'x.db', code: 'CONSENT_STORE_UNAVAILABLE', label: 'test store', migrations, busyTimeoutMs: 50 };
}

function thrown(fn: () => unknown): RelayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError);
    return err as RelayError;
  }
  throw new Error('expected a RelayError');
}

describe('openDatabase', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    tmp = await makeTempDir();
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  it('creates a missing data directory with mode 0700 and durable settings', () => {
    const dir = join(tmp.path, 'a', 'data');
    const db = openDatabase(opts(dir));
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.pragma('busy_timeout', { simple: true })).toBe(50);
    } finally {
      db.close();
    }
  });

  it('runs each migration once, in order, and records the version', () => {
    const db1 = openDatabase(opts(tmp.path, STEPS.slice(0, 1)));
    db1.prepare('INSERT INTO t (x) VALUES (1)').run();
    expect(db1.pragma('user_version', { simple: true })).toBe(1);
    db1.close();
    const db2 = openDatabase(opts(tmp.path));
    expect(db2.pragma('user_version', { simple: true })).toBe(2);
    expect(db2.prepare('SELECT x, y FROM t').all()).toEqual([{ x: 1, y: null }]);
    db2.close();
    // reopening at the same version changes nothing
    const db3 = openDatabase(opts(tmp.path));
    expect(db3.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
    db3.close();
  });

  it('rolls back a failing migration completely', () => {
    const bad: Migration[] = [...STEPS, { description: 'bad', sql: 'CREATE TABLE u (a); SELECT * FROM missing;' }];
    const err = thrown(() => openDatabase(opts(tmp.path, bad)));
    expect(err.code).toBe('CONSENT_STORE_UNAVAILABLE');
    const db = new Database(join(tmp.path, 'x.db'));
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([]);
    db.close();
  });

  it('refuses a file written by a newer schema', () => {
    openDatabase(opts(tmp.path)).close();
    const err = thrown(() => openDatabase(opts(tmp.path, STEPS.slice(0, 1))));
    expect(err.message).toMatch(/schema version 2 .* knows only 1.*upgrade/);
  });

  const broken: [string, (dir: string) => Promise<string> | string, RegExp][] = [
    [
      'data dir is a file',
      (dir) => {
        const f = join(dir, 'data');
        writeFileSync(f, 'x');
        return f;
      },
      /not a directory/,
    ],
    [
      'data dir under a file',
      (dir) => {
        writeFileSync(join(dir, 'file'), 'x');
        return join(dir, 'file', 'data');
      },
      /not a directory/,
    ],
    [
      'data dir not writable',
      async (dir) => {
        const d = join(dir, 'ro');
        await makeUnwritableDir(d);
        return d;
      },
      /not a directory|permission denied/,
    ],
    [
      'database file is garbage',
      (dir) => {
        writeFileSync(join(dir, 'x.db'), 'this is not a database, just some text that is long enough'.repeat(20));
        return dir;
      },
      /not a valid SQLite database.*restore it from a backup/,
    ],
    [
      'database file is a directory',
      (dir) => {
        mkdirSync(join(dir, 'x.db'));
        return dir;
      },
      /cannot open .*x\.db/,
    ],
  ];
  it.each(broken)('%s → RelayError that says what to fix', async (_name, setup, message) => {
    const dir = await setup(tmp.path);
    const err = thrown(() => openDatabase(opts(dir)));
    expect(err.code).toBe('CONSENT_STORE_UNAVAILABLE');
    expect(err.temporary).toBe(true);
    expect(err.message).toMatch(/^test store unavailable: /);
    expect(err.message).toMatch(message);
  });
});
