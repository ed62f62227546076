/**
 * The one way the relay opens a SQLite file (consent store, audit log): durable settings, a
 * schema migration runner, and SQLite/file-system failures translated into RelayErrors whose
 * message tells an operator what to fix. Every store failure is temporary for SMTP (451): the
 * relay fails closed and the client retries once the operator has fixed it.
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { RelayError, isRelayError } from '../errors.js';
import { PRIVATE_FILE_MODE, assertPrivateMode, restrictMode, PRIVATE_DIR_MODE } from './dataDir.js';
import type { ErrorCode } from '../errors.js';

export type SqliteDatabase = Database.Database;

/**
 * One schema step. Steps are applied in list order; `PRAGMA user_version` records how many have
 * run, so a step must never be edited or removed once released, only followed by another.
 */
export interface Migration {
  readonly description: string;
  readonly sql: string;
}

export interface OpenDatabaseOptions {
  /** Directory that holds the file; created (mode 0700) if missing. */
  readonly dataDir: string;
  /** File name inside dataDir, e.g. "consent.db". */
  readonly fileName: string;
  /** Error code for every failure of this database. */
  readonly code: ErrorCode;
  /** Human name used in messages, e.g. "consent store". */
  readonly label: string;
  readonly migrations: readonly Migration[];
  /**
   * How long a statement waits for another connection's lock before failing. At RCPT time a
   * wait longer than a few seconds is worse than a 451, so keep this small.
   */
  readonly busyTimeoutMs?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Open (creating if needed) and migrate a database. Throws RelayError `options.code`. */
export function openDatabase(options: OpenDatabaseOptions): SqliteDatabase {
  const { code, label } = options;
  ensureDataDir(options.dataDir, code, label);
  const file = join(options.dataDir, options.fileName);
  let db: SqliteDatabase | undefined;
  try {
    // SQLite would create the file 0644 whatever the umask, and gives -wal and -shm the mode of
    // the database file: so the file is made here, 0600, and left ones of ours are tightened
    closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
    for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) restrictMode(f);
    db = new Database(file);
    // busy_timeout first: the pragmas below may themselves need a lock
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))}`);
    // WAL lets SMTP lookups read while the CLI records consent; FULL syncs every commit, because
    // a consent withdrawal or an audit row that vanishes on power loss is a compliance failure
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // erasure must not leave a person's rows readable in free pages (a DELETE zeroes what it frees)
    db.pragma('secure_delete = ON');
    migrate(db, options.migrations, code, label, file);
    return db;
  } catch (err) {
    db?.close();
    throw sqliteError(err, code, label, file);
  }
}

/**
 * Bring the schema to the newest version, all steps in one IMMEDIATE transaction so that two
 * processes opening a fresh file at once do not both run step 1.
 */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[], code: ErrorCode, label: string, file: string): void {
  const run = db.transaction(() => {
    const current = Number(db.pragma('user_version', { simple: true }));
    if (current > migrations.length) {
      throw new RelayError(
        code,
        `${label} ${file} has schema version ${current} but this consent-relay knows only ${migrations.length}: it was written by a newer version; upgrade consent-relay or restore an older backup`,
      );
    }
    for (let v = current; v < migrations.length; v++) {
      db.exec(migrations[v]!.sql);
      // user_version lives in the file header and is written inside this transaction
      db.pragma(`user_version = ${v + 1}`);
    }
  });
  run.immediate();
}

/**
 * Create the data directory (0700) if missing and check that it is a writable directory that
 * only its owner can enter (see dataDir.ts; a shared one is CONFIG_INVALID, exit 78).
 */
export function ensureDataDir(dir: string, code: ErrorCode, label: string): void {
  try {
    // recursive mkdir returns the first directory it created, undefined if all existed
    if (mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE }) !== undefined) restrictMode(dir, 'dir');
  } catch (err) {
    if (isRelayError(err)) throw err;
    throw fsError(err, code, label, dir);
  }
  let mode: number;
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    mode = st.mode;
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw fsError(err, code, label, dir);
  }
  assertPrivateMode(dir, mode);
}

function fsError(err: unknown, code: ErrorCode, label: string, dir: string): RelayError {
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const why =
    errno === 'ENOTDIR' || errno === 'EEXIST'
      ? `${dir} (or a parent of it) exists but is not a directory; move the file away or set dataDir to a directory`
      : errno === 'EACCES' || errno === 'EPERM'
        ? `permission denied on ${dir}; make it writable by the user running consent-relay (e.g. chown it to that user, mode 0700)`
        : errno === 'EROFS'
          ? `${dir} is on a read-only file system; set dataDir to a writable location`
          : errno === 'ENOSPC'
            ? `no space left for ${dir}; free disk space`
            : `${dir} is unusable: ${err instanceof Error ? err.message : String(err)}`;
  return new RelayError(code, `${label} unavailable: data directory ${why}`, { cause: err });
}

/**
 * Translate a better-sqlite3 (or file-system) failure into a RelayError that names the file and
 * the fix. RelayErrors pass through unchanged.
 */
/** Run one database call; a failure becomes a RelayError of `code` naming the store and its file. */
export function guarded<T>(fn: () => T, code: ErrorCode, label: string, file: string): T {
  try {
    return fn();
  } catch (err) {
    throw sqliteError(err, code, label, file);
  }
}

export function sqliteError(err: unknown, code: ErrorCode, label: string, file: string): RelayError {
  if (isRelayError(err)) return err;
  const sqliteCode = (err as { code?: unknown } | undefined)?.code;
  const c = typeof sqliteCode === 'string' ? sqliteCode : '';
  const detail = err instanceof Error ? err.message : String(err);
  let why: string;
  if (c.startsWith('SQLITE_BUSY') || c.startsWith('SQLITE_LOCKED')) {
    why = `${file} is locked by another connection (${c}); retry shortly, and if it persists find the process holding it (a long transaction, an open sqlite3 shell, a backup tool)`;
  } else if (c.startsWith('SQLITE_CANTOPEN') || c === 'EISDIR' || c === 'EACCES' || c === 'EPERM') {
    // (the E* codes: creating the file ourselves, before SQLite, failed the same way)
    why = `cannot open ${file}; check that it is a regular file and that its directory exists and is writable by the user running consent-relay`;
  } else if (c === 'SQLITE_NOTADB' || c.startsWith('SQLITE_CORRUPT')) {
    why = `${file} is not a valid SQLite database or is damaged (${c}); move it aside and restore it from a backup`;
  } else if (c.startsWith('SQLITE_READONLY') || c.startsWith('SQLITE_PERM') || c.startsWith('SQLITE_AUTH')) {
    why = `${file} is read-only for this process (${c}); give the user running consent-relay write access to it and to its directory (the -wal and -shm files live there)`;
  } else if (c === 'SQLITE_FULL' || c === 'SQLITE_IOERR_WRITE' || c === 'SQLITE_IOERR_FSYNC') {
    why = `cannot write ${file} (${c}); check free disk space and the health of the file system`;
  } else if (c.startsWith('SQLITE_IOERR')) {
    why = `I/O error on ${file} (${c}); check the file system`;
  } else if (err instanceof TypeError && /not open/i.test(detail)) {
    why = `${file} was already closed (a programming error: the store was used after close())`;
  } else {
    why = `${file}: ${detail}`;
  }
  return new RelayError(code, `${label} unavailable: ${why}`, { cause: err });
}
