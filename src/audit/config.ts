/**
 * The `relay-started` event: which configuration and rule set were in force from a start on, so
 * that an auditor can tell which rules applied to a message by the chain alone. The configuration
 * is identified by a SHA-256 of its effective (defaults-filled) form; secrets are replaced by a
 * marker first, so the hash cannot be used to test guesses of a password.
 */
import { createHash } from 'node:crypto';

import type { Config } from '../config/schema.js';
import { canonicalJson } from './chain.js';
import type { RelayStartedEvent } from './events.js';

/** consent-relay's version, as `--version` prints it. */
const RELAY_VERSION = '0.1.0';

const SECRET_KEYS = new Set(['pass', 'password', 'secret', 'token', 'key']);

function masked(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(masked);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, SECRET_KEYS.has(k) && typeof v === 'string' ? '[secret]' : masked(v)]));
}

function configHash(config: Config): string {
  return createHash('sha256')
    .update(canonicalJson(masked(config)), 'utf8')
    .digest('hex');
}

export function relayStartedEvent(config: Config, rulesVersion: string, at: string = new Date().toISOString()): RelayStartedEvent {
  return { type: 'relay-started', at, queueId: '', consentClass: '', recipientHashes: [], configHash: configHash(config), rulesVersion, mode: config.policy.mode, version: RELAY_VERSION };
}
