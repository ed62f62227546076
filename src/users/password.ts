/**
 * Password hashes: scrypt (RFC 7914) from node:crypto, memory-hard, a random salt per user,
 * compared in constant time. The encoding carries its parameters, so they can be raised later
 * without invalidating stored hashes:  $scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>
 * N = 2^15, r = 8 costs 32 MiB and tens of milliseconds per attempt, run on libuv's thread pool
 * (the event loop keeps serving other sessions while a password is checked).
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_LEN = 32;
const SALT_LEN = 16;
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number, keyLen: number): Promise<Buffer> {
  const N = 2 ** logN;
  // node refuses above maxmem (32 MiB by default), which N = 2^15, r = 8 just reaches
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * p + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await derive(password, salt, LOG_N, R, P, KEY_LEN);
  return `$scrypt$ln=${LOG_N},r=${R},p=${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** False for a wrong password and for a malformed hash; never throws on the password's account. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const m = FORMAT.exec(encoded);
  if (!m) return false;
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (logN < 10 || logN > 22 || r < 1 || p < 1 || p > 4) return false;
  const salt = Buffer.from(m[4]!, 'base64');
  const expected = Buffer.from(m[5]!, 'base64');
  if (expected.length < 16) return false;
  const key = await derive(password, salt, logN, r, p, expected.length);
  return timingSafeEqual(key, expected);
}

/**
 * A hash no password matches, checked when the user does not exist, so that an unknown name
 * costs the same time as a wrong password and names cannot be told apart by timing.
 */
export const UNKNOWN_USER_HASH = `$scrypt$ln=${LOG_N},r=${R},p=${P}$${Buffer.alloc(SALT_LEN).toString('base64')}$${Buffer.alloc(KEY_LEN).toString('base64')}`;
