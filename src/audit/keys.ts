/**
 * The per-installation key behind recipient hashes (decision 8). The audit log names people only
 * by HMAC-SHA256(key, address): stable, so one person's rows can be found and their subject row
 * erased, and keyed, so that a copy of the log alone cannot be matched against a list of
 * addresses. Losing the key makes existing hashes unmatchable, so back it up with the log.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { RelayError } from '../errors.js';
import { normaliseAddress } from '../consent/address.js';
import { restrictMode } from '../store/dataDir.js';
import { ensureDataDir } from '../store/sqlite.js';

export const AUDIT_KEY_FILE = 'audit.key';
const KEY_BYTES = 32;

/**
 * The key, wrapped so that it cannot end up in a log line by accident: JSON, util.inspect and
 * string conversion all print a placeholder.
 */
export class AuditKey {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    if (bytes.length !== KEY_BYTES) throw new RangeError(`audit key must be ${KEY_BYTES} bytes`);
    this.#bytes = Buffer.from(bytes);
  }

  /** HMAC-SHA256 of `data` under this key, hex. */
  hmac(data: string): string {
    return createHmac('sha256', this.#bytes).update(data, 'utf8').digest('hex');
  }

  toJSON(): string {
    return '[audit key]';
  }

  toString(): string {
    return '[audit key]';
  }

  [inspect.custom](): string {
    return '[audit key]';
  }
}

/** Lower-case hex, 64 characters: what a recipient hash looks like. */
export const RECIPIENT_HASH = /^[0-9a-f]{64}$/;

/** The hash that stands for an address in the audit log (trimmed, lower-cased first). */
export function recipientHash(key: AuditKey, address: string): string {
  return key.hmac(normaliseAddress(address));
}

/**
 * `<dataDir>/audit.key`, created on first use (32 random bytes, mode 0600). Throws RelayError
 * AUDIT_UNAVAILABLE.
 */
export function loadAuditKey(dataDir: string): AuditKey {
  return new AuditKey(loadSecretFile(dataDir, AUDIT_KEY_FILE, 'audit key', 'recipient hashes'));
}

/**
 * A 32-byte secret in `<dataDir>/<fileName>`, created on first use (random, mode 0600). Creation
 * writes a temporary file and hard-links it into place, so two processes starting at once agree
 * on one secret and neither can read a half-written file. `protects` names what a replaced secret
 * would make unmatchable, for the error message. Throws RelayError AUDIT_UNAVAILABLE.
 */
export function loadSecretFile(dataDir: string, fileName: string, label: string, protects: string): Buffer {
  ensureDataDir(dataDir, 'AUDIT_UNAVAILABLE', 'audit log');
  const file = join(dataDir, fileName);
  // inside a private directory a too-open key was never reachable by others: tighten, then read
  restrictMode(file);
  try {
    return readKey(file, label, protects);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw keyError(err, file, label);
  }
  const tmp = join(dataDir, `.${fileName}.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(KEY_BYTES));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, file);
    } catch (err) {
      // another process created it first: use theirs
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // the directory entry must survive a crash too, or the next start makes a new key
    const dfd = openSync(dataDir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    return readKey(file, label, protects);
  } catch (err) {
    throw keyError(err, file, label);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already gone
    }
  }
}

function readKey(file: string, label: string, protects: string): Buffer {
  const bytes = readFileSync(file);
  if (bytes.length !== KEY_BYTES) {
    throw new RelayError(
      'AUDIT_UNAVAILABLE',
      `${label} ${file} is ${bytes.length} bytes, expected ${KEY_BYTES}: restore it from backup (a new key would make existing ${protects} unmatchable; to accept that, move the file aside and a new key is created)`,
    );
  }
  if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) {
    throw new RelayError('AUDIT_UNAVAILABLE', `${label} ${file} is readable by other users; run: chmod 600 ${file}`);
  }
  return bytes;
}

function keyError(err: unknown, file: string, label: string): RelayError {
  if (err instanceof RelayError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied; make it (and its directory) readable and writable by the user running consent-relay only'
      : code === 'EISDIR'
        ? 'is a directory, not a key file; remove it'
        : err instanceof Error
          ? err.message
          : String(err);
  return new RelayError('AUDIT_UNAVAILABLE', `${label} ${file}: ${why}`, { cause: err });
}
