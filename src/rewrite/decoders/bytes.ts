import { constants, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { MAX_TOKEN_CHARS } from './text.js';

/** Byte-level encodings that trackers wrap destinations in. Every function returns null on bad input. */

const BASE64_BODY = /^[A-Za-z0-9+/_-]+$/;

/**
 * Standard or URL-safe base64, padded or not. Also accepts the padding spellings met in the
 * wild: "%3D" (a token that went through a form encoder), "~" (SparkPost), and " " for "+"
 * (a token read back through URLSearchParams, which decodes "+" as a space).
 */
export function base64Bytes(token: string): Buffer | null {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS) return null;
  const s = token
    .trim()
    .replace(/ /g, '+')
    .replace(/(?:%3D|~|=){1,2}$/i, '');
  if (s.length < 2 || !BASE64_BODY.test(s) || s.length % 4 === 1) return null;
  // Node's base64 decoder accepts both alphabets; the regex above has already refused junk it would skip.
  return Buffer.from(s, 'base64');
}

/** Bytes as UTF-8 text, or null when they are not valid UTF-8 (a sign they were never text). */
// One instance: constructing a TextDecoder per call dominated the decoders' cost.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function utf8(bytes: Uint8Array): string | null {
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}

export function base64Text(token: string): string | null {
  const bytes = base64Bytes(token);
  return bytes === null ? null : utf8(bytes);
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (either case, padding optional), as used by Outreach. */
export function base32Bytes(token: string): Buffer | null {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS) return null;
  const s = token.trim().toUpperCase().replace(/=+$/, '');
  if (s.length < 2 || !/^[A-Z2-7]+$/.test(s) || [1, 3, 6].includes(s.length % 8)) return null;
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const c of s) {
    acc = ((acc << 5) | BASE32_ALPHABET.indexOf(c)) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/**
 * Output cap for decompression: a URL or its JSON envelope is small, so a token that inflates
 * past this is hostile (a zip bomb) or not ours.
 */
const MAX_INFLATED_BYTES = 256 * 1024;

/**
 * Inflate zlib, gzip or raw deflate. Truncated streams fail (FINISH flush), so a cut-off token
 * yields null instead of half a URL.
 */
export function inflateAny(bytes: Buffer): Buffer | null {
  const opts = { maxOutputLength: MAX_INFLATED_BYTES, finishFlush: constants.Z_FINISH };
  const gzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
  const attempts = gzip ? [gunzipSync] : [inflateSync, inflateRawSync];
  for (const inflate of attempts) {
    try {
      return inflate(bytes, opts);
    } catch {
      // next format
    }
  }
  return null;
}
