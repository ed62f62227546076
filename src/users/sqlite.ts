/** The user store in `<dataDir>/users.db` (SQLite, mode 0600 like every file there). */
import type { Statement } from 'better-sqlite3';
import { RelayError } from '../errors.js';
import { guarded, openDatabase, sqliteError, type Migration, type SqliteDatabase } from '../store/sqlite.js';
import type { UserRecord, UserStore } from './store.js';

const USERS_DB_FILE = 'users.db';

const MIGRATIONS: readonly Migration[] = [
  {
    description: 'users with hashed passwords and allowed senders',
    sql: `CREATE TABLE users (
            name          TEXT PRIMARY KEY,
            senders       TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at    TEXT NOT NULL,
            updated_at    TEXT NOT NULL
          ) STRICT;`,
  },
];

interface Row {
  readonly name: string;
  readonly senders: string;
  readonly password_hash: string;
  readonly created_at: string;
  readonly updated_at: string;
}

const LABEL = 'user store';

export class SqliteUserStore implements UserStore {
  readonly file: string;
  private readonly db: SqliteDatabase;
  private readonly getStmt: Statement<[string], Row>;
  private readonly listStmt: Statement<[], Row>;

  constructor(dataDir: string) {
    this.db = openDatabase({ dataDir, fileName: USERS_DB_FILE, code: 'USER_STORE_UNAVAILABLE', label: LABEL, migrations: MIGRATIONS, busyTimeoutMs: 2000 });
    this.file = this.db.name;
    try {
      this.getStmt = this.db.prepare('SELECT * FROM users WHERE name = ?');
      this.listStmt = this.db.prepare('SELECT * FROM users ORDER BY name');
    } catch (err) {
      this.db.close();
      throw sqliteError(err, 'USER_STORE_UNAVAILABLE', LABEL, this.file);
    }
  }

  async get(name: string): Promise<UserRecord | null> {
    const row = this.run(() => this.getStmt.get(name));
    return row ? toRecord(row) : null;
  }

  async add(user: { name: string; senders: readonly string[]; passwordHash: string }): Promise<void> {
    const now = new Date().toISOString();
    const done = this.run(() => this.db.prepare('INSERT INTO users VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING').run(user.name, JSON.stringify(user.senders), user.passwordHash, now, now));
    if (done.changes === 0) throw new RelayError('USAGE', `user ${user.name} exists already; use "users passwd" to change the password or "users remove" first`);
  }

  async setPassword(name: string, passwordHash: string): Promise<boolean> {
    return this.run(() => this.db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?').run(passwordHash, new Date().toISOString(), name)).changes > 0;
  }

  async setSenders(name: string, senders: readonly string[]): Promise<boolean> {
    return this.run(() => this.db.prepare('UPDATE users SET senders = ?, updated_at = ? WHERE name = ?').run(JSON.stringify(senders), new Date().toISOString(), name)).changes > 0;
  }

  async remove(name: string): Promise<boolean> {
    return this.run(() => this.db.prepare('DELETE FROM users WHERE name = ?').run(name)).changes > 0;
  }

  async list(): Promise<UserRecord[]> {
    return this.run(() => this.listStmt.all()).map(toRecord);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private run<T>(fn: () => T): T {
    return guarded(fn, 'USER_STORE_UNAVAILABLE', LABEL, this.file);
  }
}

function toRecord(r: Row): UserRecord {
  const senders: unknown = JSON.parse(r.senders);
  return {
    name: r.name,
    senders: Array.isArray(senders) ? senders.filter((s): s is string => typeof s === 'string') : [],
    passwordHash: r.password_hash,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
