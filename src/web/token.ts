/**
 * Signed tokens for the links the relay puts in mail and prints (`consent invite`):
 *
 *   v1.<kid>.<payload>.<mac>      payload: base64url JSON; mac: base64url HMAC-SHA256 under key kid
 *                                 of "v1.<kid>.<payload>"
 *
 * The payload binds the action, the scopes, an expiry and, for links about a person, the
 * recipient's keyed hash (HMAC under the audit key, src/audit/keys.ts): never the address. The
 * MAC is compared in constant time, before the payload is parsed. Tokens are not secret from
 * their holder (the payload is readable); they are unforgeable.
 */
import { timingSafeEqual } from 'node:crypto';

import type { ConsentScope } from '../consent/store.js';
import { ALL_SCOPES } from '../consent/store.js';
import type { KeyRing } from './keys.js';

const TOKEN_ACTIONS = ['opt-in', 'opt-out', 'gate', 'ask'] as const;
type TokenAction = (typeof TOKEN_ACTIONS)[number];

/** What a gate or ask link stands for: the tracker URL as the sender wrote it, and what it hides. */
export interface TrackedTarget {
  /** The tracker URL the sender wrote (redirect, pixel). */
  readonly url: string;
  readonly kind: 'pixel' | 'link';
  /** The real destination when it could be decoded offline; absent when opaque. */
  readonly destination?: string;
  /** The tracking vendor, for the page that names it. */
  readonly vendor?: string;
}

export interface TokenClaims {
  readonly action: TokenAction;
  /** Recipient's keyed hash (hex); absent for `ask`, which concerns no one in particular. */
  readonly recipient?: string;
  readonly scopes: readonly ConsentScope[];
  /** Expiry, ms since the epoch. */
  readonly expires: number;
  readonly target?: TrackedTarget;
}

export type TokenFailure = 'malformed' | 'unknown-key' | 'bad-signature' | 'expired';
export type TokenResult = { readonly ok: true; readonly claims: TokenClaims; readonly kid: string } | { readonly ok: false; readonly reason: TokenFailure };

interface Payload {
  a: TokenAction;
  r?: string;
  s: string;
  e: number;
  u?: string;
  k?: 'p' | 'l';
  d?: string;
  v?: string;
}

export function signToken(keys: KeyRing, claims: TokenClaims): string {
  const p: Payload = { a: claims.action, s: claims.scopes.join(','), e: Math.floor(claims.expires / 1000) };
  if (claims.recipient) p.r = claims.recipient;
  if (claims.target) {
    p.u = claims.target.url;
    p.k = claims.target.kind === 'pixel' ? 'p' : 'l';
    if (claims.target.destination) p.d = claims.target.destination;
    if (claims.target.vendor) p.v = claims.target.vendor;
  }
  const key = keys.current();
  const body = `v1.${key.kid}.${Buffer.from(JSON.stringify(p), 'utf8').toString('base64url')}`;
  return `${body}.${key.mac(body).toString('base64url')}`;
}

export function verifyToken(keys: KeyRing, token: string, now: number = Date.now()): TokenResult {
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1' || !/^[A-Za-z0-9_-]+$/.test(parts[2]!) || !/^[A-Za-z0-9_-]{43}$/.test(parts[3]!)) return { ok: false, reason: 'malformed' };
  const key = keys.get(parts[1]!);
  if (!key) return { ok: false, reason: 'unknown-key' };
  const expected = key.mac(`v1.${parts[1]}.${parts[2]}`);
  const given = Buffer.from(parts[3]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
  const claims = parsePayload(parts[2]!);
  if (!claims) return { ok: false, reason: 'malformed' };
  if (claims.expires <= now) return { ok: false, reason: 'expired' };
  return { ok: true, claims, kid: key.kid };
}

function parsePayload(b64: string): TokenClaims | null {
  let p: unknown;
  try {
    p = JSON.parse(Buffer.from(b64, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!p || typeof p !== 'object') return null;
  const o = p as Record<string, unknown>;
  const action = TOKEN_ACTIONS.find((a) => a === o.a);
  if (!action || typeof o.e !== 'number' || typeof o.s !== 'string') return null;
  const scopes = ALL_SCOPES.filter((s) => (o.s as string).split(',').includes(s));
  const recipient = typeof o.r === 'string' && /^[0-9a-f]{64}$/.test(o.r) ? o.r : undefined;
  if ((action === 'opt-in' || action === 'opt-out' || action === 'gate') && !recipient) return null;
  let target: TrackedTarget | undefined;
  if (typeof o.u === 'string') {
    target = {
      url: o.u,
      kind: o.k === 'p' ? 'pixel' : 'link',
      ...(typeof o.d === 'string' ? { destination: o.d } : {}),
      ...(typeof o.v === 'string' ? { vendor: o.v } : {}),
    };
  }
  if ((action === 'gate' || action === 'ask') && !target) return null;
  return { action, scopes, expires: o.e * 1000, ...(recipient ? { recipient } : {}), ...(target ? { target } : {}) };
}
