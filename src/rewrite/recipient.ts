/**
 * The recipient's own address inside a URL is the strongest sign of per-recipient tracking, for
 * any vendor, known or not. Precomputed once per rewrite: plain, URL-encoded, base64 (standard and
 * URL-safe) and MD5/SHA-1/SHA-256 hex of the lower-cased address.
 */
import { createHash } from 'node:crypto';

export interface RecipientNeedles {
  /** Lower-cased needles; a haystack is lower-cased before searching. */
  readonly lower: readonly string[];
  /** Case-sensitive needles (base64 is case-sensitive). */
  readonly exact: readonly string[];
}

export function recipientNeedles(addresses: readonly string[]): RecipientNeedles {
  const lower = new Set<string>();
  const exact = new Set<string>();
  for (const raw of addresses) {
    const a = raw.trim().toLowerCase();
    if (!a.includes('@')) continue;
    lower.add(a);
    lower.add(encodeURIComponent(a));
    lower.add(a.replace('@', '%40'));
    for (const alg of ['md5', 'sha1', 'sha256']) lower.add(createHash(alg).update(a).digest('hex'));
    for (const form of [a, raw.trim()]) {
      const b64 = Buffer.from(form).toString('base64');
      // drop the last (possibly padding-dependent) quantum so embedding in longer base64 still matches
      const stem = b64.replace(/=+$/, '').slice(0, Math.max(8, Math.floor((form.length * 4) / 3) - 3));
      exact.add(stem);
      exact.add(stem.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return { lower: [...lower], exact: [...exact] };
}

export function containsRecipient(haystack: string, needles: RecipientNeedles): boolean {
  if (!needles.lower.length) return false;
  const h = haystack.toLowerCase();
  for (const n of needles.lower) if (h.includes(n)) return true;
  for (const n of needles.exact) if (haystack.includes(n)) return true;
  return false;
}
