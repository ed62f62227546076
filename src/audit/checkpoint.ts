/**
 * Signed checkpoints of the audit chain: a small statement (count of events, the head MAC, the
 * time) signed with an Ed25519 key, to be kept away from the relay (a ticket, an email to the
 * DPO, a WORM bucket). `audit verify --checkpoint FILE` then proves that the log still holds
 * exactly the events that existed when it was cut: a cut tail or a history rewritten even with
 * the chain key no longer matches it.
 *
 * The signing key is `<dataDir>/audit-checkpoint.key`: a 32-byte Ed25519 seed, 0600, created on
 * first use. Whoever holds it can sign new checkpoints, but not change what an old one says: keep
 * the public key (`audit checkpoint --public-key`) with the checkpoints and verify against it.
 */
import { createPrivateKey, createPublicKey, sign, verify as verifySignature } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

import { RelayError } from '../errors.js';
import type { ChainHead } from './chain.js';
import { canonicalJson } from './chain.js';
import { loadSecretFile } from './keys.js';

export const CHECKPOINT_KEY_FILE = 'audit-checkpoint.key';
const CHECKPOINT_STATEMENT = 'consent-relay audit checkpoint v1';

// DER wrappers of a raw Ed25519 seed (PKCS#8) and public key (SPKI), RFC 8410
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface Checkpoint {
  readonly statement: typeof CHECKPOINT_STATEMENT;
  /** Events appended so far: the head's sequence number. */
  readonly count: number;
  /** The head event's MAC (64 zeros for an empty log). */
  readonly head: string;
  /** When the checkpoint was cut, ISO-8601 UTC. */
  readonly at: string;
  /** The signer's Ed25519 public key, raw 32 bytes, base64. */
  readonly publicKey: string;
  /** Ed25519 signature over the canonical JSON of the fields above, base64. */
  readonly signature: string;
}

export interface CheckpointSigner {
  readonly publicKey: KeyObject;
  sign(head: ChainHead | null, at?: string): Checkpoint;
}

export function loadCheckpointSigner(dataDir: string): CheckpointSigner {
  const seed = loadSecretFile(dataDir, CHECKPOINT_KEY_FILE, 'audit checkpoint key', 'checkpoints');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const raw = rawPublicKey(publicKey);
  return {
    publicKey,
    sign(head, at = new Date().toISOString()) {
      const body = { statement: CHECKPOINT_STATEMENT, count: head?.seq ?? 0, head: head?.mac ?? '0'.repeat(64), at, publicKey: raw } as const;
      const signature = sign(null, Buffer.from(canonicalJson(body), 'utf8'), privateKey).toString('base64');
      return { ...body, signature };
    },
  };
}

function rawPublicKey(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'der' }).subarray(SPKI_PREFIX.length).toString('base64');
}

export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/** A public key from PEM text, or from the raw base64 form a checkpoint carries. */
export function parsePublicKey(text: string): KeyObject {
  const t = text.trim();
  try {
    if (t.startsWith('-----BEGIN')) return createPublicKey(t);
    const raw = Buffer.from(t, 'base64');
    if (raw.length !== 32) throw new Error('not 32 bytes');
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch (err) {
    throw new RelayError('USAGE', `not an Ed25519 public key (PEM, or the base64 "publicKey" of a checkpoint): ${(err as Error).message}`);
  }
}

/** Parse a checkpoint file's text; a malformed one is USAGE with what is wrong. */
export function parseCheckpoint(text: string, name: string): Checkpoint {
  let v: unknown;
  try {
    v = JSON.parse(text) as unknown;
  } catch {
    throw new RelayError('USAGE', `${name} is not a checkpoint (not JSON); make one with: consent-relay audit checkpoint > FILE`);
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const ok =
    o.statement === CHECKPOINT_STATEMENT &&
    typeof o.count === 'number' &&
    Number.isSafeInteger(o.count) &&
    o.count >= 0 &&
    typeof o.head === 'string' &&
    /^[0-9a-f]{64}$/.test(o.head) &&
    typeof o.at === 'string' &&
    typeof o.publicKey === 'string' &&
    typeof o.signature === 'string';
  if (!ok) throw new RelayError('USAGE', `${name} is not a consent-relay audit checkpoint (expected the JSON printed by "consent-relay audit checkpoint")`);
  return { statement: CHECKPOINT_STATEMENT, count: o.count as number, head: o.head as string, at: o.at as string, publicKey: o.publicKey as string, signature: o.signature as string };
}

/** Whether the checkpoint's signature holds under its own key, and whether that key is `trusted`. */
export function checkCheckpoint(cp: Checkpoint, trusted: KeyObject | null): { signatureValid: boolean; trustedKey: boolean | null } {
  let signatureValid = false;
  try {
    const key = parsePublicKey(cp.publicKey);
    const body = { statement: cp.statement, count: cp.count, head: cp.head, at: cp.at, publicKey: cp.publicKey };
    signatureValid = verifySignature(null, Buffer.from(canonicalJson(body), 'utf8'), key, Buffer.from(cp.signature, 'base64'));
  } catch {
    signatureValid = false;
  }
  return { signatureValid, trustedKey: trusted === null ? null : rawPublicKey(trusted) === cp.publicKey };
}

export function formatCheckpoint(cp: Checkpoint): string {
  return `${JSON.stringify(cp, null, 2)}\n`;
}
