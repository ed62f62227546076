/**
 * The audit chain: every audit event carries a sequence number and a keyed MAC over its content
 * and the previous event's MAC, so that an edited, deleted, reordered or (against a checkpoint)
 * truncated event is found by `audit verify`. Storage-neutral: a store (SQLite today, PostgreSQL
 * later) keeps the columns of `ChainLink` beside each event, hands rows back as `StoredChainRow`,
 * and calls `nextLink` inside the same transaction that appends, after reading its head there
 * (so two processes appending at once are serialised by the store's lock, not by this module).
 *
 * What the MAC covers (the erasure contract, see README.md beside this file): the event's type,
 * time, queue id, consent class, details, the recipients' keyed hashes and the sender's keyed hash.
 * Never a clear address: the `subjects` table (hash → address) and the clear sender column lie
 * outside the chain, so erasing a person deletes those and every MAC still verifies.
 *
 * MAC = HMAC-SHA256(chain key, "consent-relay audit chain v1\n" + seq + "\n" + prevMac + "\n" +
 * canonical JSON of the entry), hex; the first event's prevMac is 64 zeros. The chain key is
 * `<dataDir>/audit-chain.key`, separate from the address key so that one can be handed to an
 * auditor who verifies without being able to match addresses, or rotated apart from it.
 */
import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';

import type { AuditEvent } from './events.js';
import { loadSecretFile } from './keys.js';

const CHAIN_KEY_FILE = 'audit-chain.key';
/** The prevMac of event 1. */
export const GENESIS_MAC = '0'.repeat(64);
const DOMAIN = 'consent-relay audit chain v1';

/** The chain key, printed as a placeholder by JSON, util.inspect and String(). */
export class ChainKey {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    if (bytes.length !== 32) throw new RangeError('audit chain key must be 32 bytes');
    this.#bytes = Buffer.from(bytes);
  }

  mac(data: string): string {
    return createHmac('sha256', this.#bytes).update(data, 'utf8').digest('hex');
  }

  toJSON(): string {
    return '[audit chain key]';
  }

  toString(): string {
    return '[audit chain key]';
  }

  [inspect.custom](): string {
    return '[audit chain key]';
  }
}

/** `<dataDir>/audit-chain.key` (32 random bytes, 0600), created on first use. */
export function loadChainKey(dataDir: string): ChainKey {
  return new ChainKey(loadSecretFile(dataDir, CHAIN_KEY_FILE, 'audit chain key', 'event MACs'));
}

/**
 * What one event's MAC covers, split the way stores keep it: a few columns and a JSON object of
 * the type's other fields. `senderHash` stands for the clear envelope sender of `relayed` events.
 */
export interface ChainEntry {
  readonly type: string;
  readonly at: string;
  readonly queueId: string;
  readonly consentClass: string;
  /** Sorted, without duplicates. */
  readonly recipientHashes: readonly string[];
  readonly senderHash: string | null;
  /** Every other field of the event (never a clear address). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** Fields of an event kept outside `details`. */
const ENTRY_FIELDS = new Set(['type', 'at', 'queueId', 'consentClass', 'recipientHashes', 'sender']);

/**
 * The entry for an event as it will be stored (sanitised first). `hashSender` is the address key's
 * recipientHash: the sender is chained only as a keyed hash.
 */
export function entryOf(event: AuditEvent, hashSender: (address: string) => string): ChainEntry {
  const details: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) if (!ENTRY_FIELDS.has(k) && v !== undefined) details[k] = v;
  return {
    type: event.type,
    at: event.at,
    queueId: event.queueId,
    consentClass: event.consentClass,
    recipientHashes: [...new Set(event.recipientHashes)].sort(),
    senderHash: event.type === 'relayed' ? hashSender(event.sender) : null,
    details,
  };
}

/** JSON with object keys sorted at every level and no whitespace: one text for one value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function linkMac(key: ChainKey, seq: number, prevMac: string, entry: ChainEntry): string {
  return key.mac(`${DOMAIN}\n${seq}\n${prevMac}\n${canonicalJson(entry)}`);
}

/** The last event of a chain: what the next one links to, and what a checkpoint signs. */
export interface ChainHead {
  readonly seq: number;
  readonly mac: string;
}

/** The chain columns stored beside an event. */
export interface ChainLink {
  readonly seq: number;
  readonly prevMac: string;
  readonly mac: string;
}

/** The link for the event after `head` (null: the chain is empty). */
export function nextLink(key: ChainKey, head: ChainHead | null, entry: ChainEntry): ChainLink {
  const seq = (head?.seq ?? 0) + 1;
  const prevMac = head?.mac ?? GENESIS_MAC;
  return { seq, prevMac, mac: linkMac(key, seq, prevMac, entry) };
}

/** One stored event as a store reads it back, in storage order (`position`: e.g. the row id). */
export interface StoredChainRow {
  readonly position: number;
  /** null for an event written before the chain existed, or inserted around it. */
  readonly link: ChainLink | null;
  /** null when the stored details are not readable JSON. */
  readonly entry: ChainEntry | null;
  /** The clear sender column, if the store keeps one (checked against entry.senderHash). */
  readonly sender: string | null;
}

/** A store whose events can be verified. */
export interface ChainStore {
  /** The newest link, or null for an empty chain. */
  chainHead(): Promise<ChainHead | null>;
  /** Every event, chained or not, in storage order. */
  readChain(): AsyncIterable<StoredChainRow>;
}
