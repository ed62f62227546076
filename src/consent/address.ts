/**
 * Recipient addresses as the consent store and the audit log key them.
 *
 * The whole address is lower-cased, local part included. RFC 5321 lets a local part be
 * case-sensitive, but no mailbox provider in use treats Bob@ and bob@ as two people, while a store
 * that did would let a withdrawal recorded as "Bob@example.com" miss mail sent to
 * "bob@example.com" and go on tracking someone who said no. One key per mailbox is the safe side.
 */
import { RelayError } from '../errors.js';

/** Trimmed and lower-cased; no syntax check (RCPT-time lookups must not throw on odd input). */
export function normaliseAddress(address: string): string {
  return address.trim().toLowerCase();
}

const MAX_ADDRESS = 254;
const MAX_LOCAL = 64;
// no whitespace, no control characters, no angle brackets; quoted local parts are rare in
// consent records and are accepted as long as they obey the same rule
const LOCAL = /^[^\s<>@\u0000-\u001f\u007f]+$/u;
// labels of letters (any script: SMTPUTF8), digits and hyphens, or an address literal
const DOMAIN = /^(?:(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)(?:\.(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?))*|\[[0-9A-Fa-f:.]+\]|\[IPv6:[0-9A-Fa-f:.]+\])$/u;

/**
 * The normalised address, or RelayError USAGE saying what is wrong. A rough check (local@domain),
 * meant to catch typos and pasted display names, not to be an RFC 5322 parser.
 */
export function validateAddress(address: string): string {
  const a = normaliseAddress(address);
  const fail = (why: string): never => {
    throw new RelayError('USAGE', `invalid email address "${address.trim()}": ${why}; expected local@domain, e.g. alice@example.com`);
  };
  if (!a) fail('it is empty');
  if (a.length > MAX_ADDRESS) fail(`it is longer than ${MAX_ADDRESS} characters`);
  if (a.startsWith('<') || a.endsWith('>')) fail('remove the angle brackets');
  const at = a.lastIndexOf('@');
  if (at < 0) fail('it has no "@"');
  const local = a.slice(0, at);
  const domain = a.slice(at + 1);
  if (!local) fail('the part before "@" is empty');
  if (!domain) fail('the domain after "@" is empty');
  if (local.length > MAX_LOCAL) fail(`the part before "@" is longer than ${MAX_LOCAL} characters`);
  if (!LOCAL.test(local)) fail('the part before "@" contains spaces, control characters, "<", ">" or a second "@"');
  if (!DOMAIN.test(domain)) fail(`"${domain}" is not a domain name`);
  return a;
}

/**
 * A consent record's key: a mailbox (validateAddress) or a whole domain written "@domain"
 * (domain-level consent). Throws RelayError USAGE.
 */
export function validateConsentKey(key: string): string {
  const k = normaliseAddress(key);
  if (!k.startsWith('@')) return validateAddress(key);
  const domain = k.slice(1);
  if (!domain || domain.includes('@') || !DOMAIN.test(domain) || domain.length > MAX_ADDRESS) {
    throw new RelayError('USAGE', `invalid domain "${key.trim()}": a domain-level record is "@" followed by a domain name, e.g. @customer.example`);
  }
  return k;
}
