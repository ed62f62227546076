/**
 * Users who may authenticate on submission listeners, and the envelope senders each may use.
 * Asynchronous so that a PostgreSQL store shared by several relays can replace the SQLite one
 * (src/users/sqlite.ts) without touching the SMTP code. Passwords are stored only as hashes
 * (src/users/password.ts); the store never sees a password.
 */
import { RelayError } from '../errors.js';
import { isValidAddress } from '../smtp/mail-from.js';

export interface UserRecord {
  /** Login name, as given (matched case-sensitively, as a password is). */
  readonly name: string;
  /** Envelope senders this user may use: lower-cased addresses, or "@domain" for a whole domain. */
  readonly senders: readonly string[];
  /** Encoded scrypt hash (password.ts). */
  readonly passwordHash: string;
  /** ISO-8601 UTC. */
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface UserStore {
  get(name: string): Promise<UserRecord | null>;
  /** Throws USAGE when the name is taken. */
  add(user: { name: string; senders: readonly string[]; passwordHash: string }): Promise<void>;
  /** False when there is no such user. */
  setPassword(name: string, passwordHash: string): Promise<boolean>;
  setSenders(name: string, senders: readonly string[]): Promise<boolean>;
  remove(name: string): Promise<boolean>;
  list(): Promise<UserRecord[]>;
  close(): Promise<void>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

export function validateUserName(name: string): string {
  if (!NAME.test(name)) throw new RelayError('USAGE', `user name "${name.slice(0, 64)}" must be 1-128 letters, digits and . _ @ + - (starting with a letter or digit)`);
  return name;
}

/** "a@x.example,@y.example" → ["a@x.example", "@y.example"], lower-cased, checked. */
export function parseSenders(list: string): string[] {
  const out = list
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (!out.length) throw new RelayError('USAGE', '--senders needs at least one address or @domain, e.g. --senders alice@example.com,@sales.example.com');
  for (const s of out) {
    const ok = s.startsWith('@') ? DOMAIN.test(s.slice(1)) : isValidAddress(s);
    if (!ok) throw new RelayError('USAGE', `--senders: "${s.slice(0, 64)}" is neither an address (alice@example.com) nor a domain (@example.com)`);
  }
  return [...new Set(out)];
}

/** May `user` use `from` as the envelope sender? Addresses and domains compare case-insensitively. */
export function senderAllowed(senders: readonly string[], from: string): boolean {
  const f = from.toLowerCase();
  const at = f.lastIndexOf('@');
  if (at <= 0) return false;
  const domain = f.slice(at);
  return senders.some((s) => (s.startsWith('@') ? s === domain : s === f));
}
