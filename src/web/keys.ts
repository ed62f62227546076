/**
 * The signing keys of web tokens: `<dataDir>/web-keys/<kid>.key`, 32 random bytes each, mode 0600
 * in a 0700 directory. The key id carries the key's creation time (base-36 seconds) so rotation
 * and retirement need no other record: a new key is made when the newest is `rotateEvery` old,
 * and a key `retireAfter` old is deleted, so links signed with it stop verifying. Until then an
 * old key still verifies the links in mail already sent.
 *
 * Several processes share the directory (the relay, `consent invite`): a key id this process has
 * not seen is looked up on disk before a token is refused.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { RelayError } from '../errors.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, restrictMode } from '../store/dataDir.js';

export const KEY_DIR = 'web-keys';
const KEY_BYTES = 32;
const KID = /^([0-9a-z]{1,10})-([0-9a-f]{6})$/;

export interface KeyPolicy {
  readonly rotateEveryMs: number;
  readonly retireAfterMs: number;
}

/** A key that signs; never printed (JSON, inspect and String give a placeholder). */
export class SigningKey {
  readonly #bytes: Buffer;
  readonly kid: string;
  /** Creation time, ms since the epoch (from the kid). */
  readonly created: number;

  constructor(kid: string, bytes: Buffer) {
    const m = KID.exec(kid);
    if (!m || bytes.length !== KEY_BYTES) throw new RangeError('malformed signing key');
    this.kid = kid;
    this.created = parseInt(m[1]!, 36) * 1000;
    this.#bytes = Buffer.from(bytes);
  }

  mac(data: string): Buffer {
    return createHmac('sha256', this.#bytes).update(data, 'utf8').digest();
  }

  toJSON(): string {
    return `[signing key ${this.kid}]`;
  }

  toString(): string {
    return `[signing key ${this.kid}]`;
  }

  [inspect.custom](): string {
    return `[signing key ${this.kid}]`;
  }
}

export class KeyRing {
  private readonly dir: string;
  private readonly keys = new Map<string, SigningKey>();

  private constructor(
    dataDir: string,
    private readonly policy: KeyPolicy,
    private readonly now: () => number,
  ) {
    this.dir = join(dataDir, KEY_DIR);
  }

  /** Opens (creating the directory and a first key if needed), retiring and rotating as due. Throws CONFIG_INVALID. */
  static open(dataDir: string, policy: KeyPolicy, now: () => number = Date.now): KeyRing {
    const ring = new KeyRing(dataDir, policy, now);
    try {
      mkdirSync(ring.dir, { mode: PRIVATE_DIR_MODE, recursive: true });
      restrictMode(ring.dir, 'dir');
      ring.reload();
      ring.maintain();
    } catch (err) {
      if (err instanceof RelayError) throw err;
      throw new RelayError('CONFIG_INVALID', `signing keys in ${ring.dir}: ${(err as Error).message}`, { cause: err });
    }
    return ring;
  }

  /** The key new tokens are signed with; rotates first when the newest key is due. */
  current(): SigningKey {
    this.maintain();
    return this.newest()!;
  }

  /** The key with this id if it exists and is not retired (looked up on disk when unknown here). */
  get(kid: string): SigningKey | null {
    if (!KID.test(kid)) return null;
    let key = this.keys.get(kid);
    if (!key) {
      key = this.readKey(kid) ?? undefined;
      if (key) this.keys.set(kid, key);
    }
    if (!key || this.retired(key)) return null;
    return key;
  }

  /** Key ids, newest first (for tests and `--help`-level diagnostics; never the keys). */
  ids(): string[] {
    return [...this.keys.values()].sort((a, b) => b.created - a.created).map((k) => k.kid);
  }

  private maintain(): void {
    for (const k of [...this.keys.values()]) {
      if (!this.retired(k)) continue;
      this.keys.delete(k.kid);
      try {
        unlinkSync(join(this.dir, `${k.kid}.key`));
      } catch {
        // another process retired it first
      }
    }
    const newest = this.newest();
    if (!newest || this.now() - newest.created >= this.policy.rotateEveryMs) this.create();
  }

  private retired(k: SigningKey): boolean {
    return this.now() - k.created >= this.policy.retireAfterMs;
  }

  private newest(): SigningKey | null {
    let best: SigningKey | null = null;
    for (const k of this.keys.values()) if (!best || k.created > best.created) best = k;
    return best;
  }

  private reload(): void {
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.key')) continue;
      const key = this.readKey(name.slice(0, -4));
      if (key) this.keys.set(key.kid, key);
    }
  }

  private readKey(kid: string): SigningKey | null {
    const file = join(this.dir, `${kid}.key`);
    try {
      restrictMode(file);
      const bytes = readFileSync(file);
      return bytes.length === KEY_BYTES ? new SigningKey(kid, bytes) : null;
    } catch {
      return null;
    }
  }

  private create(): void {
    const kid = `${Math.floor(this.now() / 1000).toString(36)}-${randomBytes(3).toString('hex')}`;
    const file = join(this.dir, `${kid}.key`);
    const bytes = randomBytes(KEY_BYTES);
    const fd = openSync(file, 'wx', PRIVATE_FILE_MODE);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const dfd = openSync(this.dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    this.keys.set(kid, new SigningKey(kid, bytes));
  }
}
