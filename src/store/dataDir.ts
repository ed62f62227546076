/**
 * The data directory holds who mailed whom (consent records, the audit log's subject table, spooled
 * messages), so it is private to the user running the relay: the directory and every directory
 * the relay makes in it 0700, every file it writes 0600, whatever the umask and whatever was there
 * before.
 *
 * A directory that other users can already enter is refused, not fixed: its files may have been
 * read, and an operator who made it shared on purpose must decide, not the relay. A file of ours
 * that is too open inside a private directory was never reachable by others, so it is tightened
 * quietly. Modes are set explicitly (chmod), never left to the umask: SQLite, for one, gives a new
 * database 0644 whatever the umask, and its -wal and -shm files the database's mode.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';

import { RelayError } from '../errors.js';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** POSIX permission bits are meaningless on Windows (ACLs decide there). */
const POSIX = process.platform !== 'win32';

export interface DataDirOptions {
  /** Create the directory (0700) when it does not exist; read-only commands pass false. */
  readonly create: boolean;
}

/**
 * Check the data directory before anything is opened in it. Missing: created 0700 (with any missing
 * parents) when `create`, otherwise left alone (the caller reports there is nothing yet).
 * Group- or world-accessible: RelayError CONFIG_INVALID (exit 78) naming the fix.
 * Returns whether the directory exists now.
 */
export function checkDataDir(dir: string, options: DataDirOptions): boolean {
  let mode: number;
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) throw new RelayError('CONFIG_INVALID', `data directory ${dir} exists but is not a directory; move it away or set dataDir to a directory`);
    mode = st.mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err instanceof RelayError ? err : dirError(err, dir);
    if (!options.create) return false;
    try {
      mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
      // the umask may have taken bits away (0500 would make the directory useless to us)
      if (POSIX) chmodSync(dir, PRIVATE_DIR_MODE);
    } catch (e) {
      throw dirError(e, dir);
    }
    return true;
  }
  assertPrivateMode(dir, mode);
  return true;
}

/** The refusal for a data directory others can enter; `mode` is its permission bits. */
export function assertPrivateMode(dir: string, mode: number): void {
  if (!POSIX || (mode & 0o077) === 0) return;
  const what = mode & 0o044 ? 'readable' : mode & 0o022 ? 'writable' : 'accessible';
  throw new RelayError('CONFIG_INVALID', `data directory ${dir} is ${what} by group/other (mode ${octal(mode & 0o777)}); run: chmod 700 ${dir}`);
}

/**
 * Make an existing file of ours 0600 (or a directory 0700); a missing one is fine. A file that is
 * too open and not ours (chmod refused) is a configuration error.
 */
export function restrictMode(path: string, kind: 'file' | 'dir' = 'file'): void {
  if (!POSIX) return;
  const want = kind === 'dir' ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw dirError(err, path);
  }
  if (mode === want) return;
  try {
    chmodSync(path, want);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new RelayError(
      'CONFIG_INVALID',
      `${path} has mode ${octal(mode)} and cannot be changed to ${octal(want)} (${code ?? 'error'}); make it belong to the user running consent-relay and run: chmod ${octal(want).slice(1)} ${path}`,
      { cause: err },
    );
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

function dirError(err: unknown, dir: string): RelayError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied; make it (and its parents) accessible to the user running consent-relay'
      : code === 'ENOTDIR' || code === 'EEXIST'
        ? 'a parent of it is not a directory'
        : err instanceof Error
          ? err.message
          : String(err);
  return new RelayError('CONFIG_INVALID', `data directory ${dir} unusable: ${why}`, { cause: err });
}
