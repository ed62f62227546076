/**
 * Content-Transfer-Encoding: decode a part's body to bytes and encode edited bytes back in the
 * same encoding. Bodies are handled as Buffers; text work happens elsewhere.
 */
import { RelayError } from '../errors.js';

export type TransferEncoding = '7bit' | '8bit' | 'binary' | 'base64' | 'quoted-printable';

const KNOWN = new Set<string>(['7bit', '8bit', 'binary', 'base64', 'quoted-printable']);

/**
 * Misspelt identity encodings ("7-bit", "8bits", "7 Bit", "8_bit", "\"7bit\""). Clients decode only
 * the encodings they know (mailsplit/mailparser: base64 and quoted-printable; Thunderbird also
 * uuencode and yEnc) and show a body under any other value as the bytes it carries, so these
 * bodies reach the reader as they are and are inspected as they are.
 */
const IDENTITY_SPELLING = /^(?:([78])bits?|binary)$/;

/**
 * The encoding a value names, or null when it names none we can read. base64 and
 * quoted-printable count only as bare tokens: a quoted or parametrised one is decoded by some
 * clients and shown raw by others (mailsplit keeps "base64" quoted and does not decode it), and
 * reading it either way would let the other reading hide markup, so it stays a refusal.
 */
export function canonicalTransferEncoding(value: string): TransferEncoding | null {
  const token = value
    .replace(/\([^)]*\)/g, ' ')
    .trim()
    .toLowerCase();
  if (KNOWN.has(token)) return token as TransferEncoding;
  const compact = token.split(';')[0]!.replace(/["'\s_-]+/g, '');
  const m = IDENTITY_SPELLING.exec(compact);
  if (!m) return null;
  return m[1] === undefined ? 'binary' : m[1] === '7' ? '7bit' : '8bit';
}

/** Normalise a Content-Transfer-Encoding value; absent or empty means 7bit (RFC 2045 6.1). */
export function transferEncoding(value: string | false | undefined, part: string): TransferEncoding {
  const v = (value || '').trim();
  if (!v) return '7bit';
  const enc = canonicalTransferEncoding(v);
  if (enc) return enc;
  throw new RelayError('ENCODING_UNSUPPORTED', `part ${part}: unknown Content-Transfer-Encoding "${v.toLowerCase().slice(0, 40)}"; cannot inspect it, refusing to pass it through`);
}

const B64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeBody(body: Buffer, enc: TransferEncoding, part: string): Buffer {
  switch (enc) {
    case 'base64': {
      const compact = body.toString('latin1').replace(/[\r\n\t ]+/g, '');
      // concatenated encodings ("QQ==Qg==") pad in the middle; clients decode each run on its own
      const runs = compact.match(/[^=]*=*/g)!.filter(Boolean);
      if (!runs.every((r) => B64_BODY.test(r))) {
        throw new RelayError('ENCODING_BROKEN', `part ${part}: broken base64 (characters outside the base64 alphabet); cannot inspect it`);
      }
      if (runs.some((r) => r.replace(/=+$/, '').length % 4 === 1)) {
        throw new RelayError('ENCODING_BROKEN', `part ${part}: truncated base64 body; cannot inspect it`);
      }
      return runs.length === 1 ? Buffer.from(compact, 'base64') : Buffer.concat(runs.map((r) => Buffer.from(r, 'base64')));
    }
    case 'quoted-printable':
      return decodeQP(body);
    default:
      return body;
  }
}

export function encodeBody(bytes: Buffer, enc: TransferEncoding): Buffer {
  switch (enc) {
    case 'base64':
      return encodeBase64(bytes);
    case 'quoted-printable':
      return encodeQP(bytes);
    default:
      return bytes;
  }
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * RFC 2045 6.7 decoding, lenient the way mail clients are: a "=" not followed by two hex digits
 * stays literal, so what we inspect is what the recipient's client would render.
 */
export function decodeQP(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length);
  let o = 0;
  const n = body.length;
  for (let i = 0; i < n; i++) {
    const c = body[i]!;
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    // soft line break: "=" then optional transport padding, then CRLF or LF
    let j = i + 1;
    while (j < n && (body[j] === 0x20 || body[j] === 0x09)) j++;
    if (j < n && body[j] === 0x0d && body[j + 1] === 0x0a) {
      i = j + 1;
      continue;
    }
    if (j < n && body[j] === 0x0a) {
      i = j;
      continue;
    }
    if (j >= n) {
      i = j;
      continue;
    }
    const h = i + 2 < n + 0 ? hexVal(body[i + 1]!) : -1;
    const l = i + 2 < n ? hexVal(body[i + 2]!) : -1;
    if (h >= 0 && l >= 0) {
      out[o++] = (h << 4) | l;
      i += 2;
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

const HEX = '0123456789ABCDEF';

/** Quoted-printable with CRLF hard breaks kept, soft breaks at 76 columns. */
export function encodeQP(bytes: Buffer): Buffer {
  const text = bytes.toString('latin1');
  const lines = text.split(/\r\n|\n/);
  const out: string[] = [];
  for (const line of lines) {
    let enc = line.replace(/[^\x20-\x3c\x3e-\x7e\t]/g, (c) => {
      const code = c.charCodeAt(0);
      return `=${HEX[code >> 4]}${HEX[code & 15]}`;
    });
    enc = protectTrailingSpace(enc);
    // wrap at 75 chars + "=", never splitting an "=XX" escape
    while (enc.length > 76) {
      let cut = 75;
      const eq = enc.lastIndexOf('=', cut - 1);
      if (eq >= cut - 2) cut = eq;
      out.push(`${enc.slice(0, cut)}=`);
      enc = enc.slice(cut);
    }
    out.push(enc);
  }
  return Buffer.from(out.join('\r\n'), 'latin1');
}

function protectTrailingSpace(line: string): string {
  const last = line.charCodeAt(line.length - 1);
  if (last === 0x20 || last === 0x09) return `${line.slice(0, -1)}=${last === 0x20 ? '20' : '09'}`;
  return line;
}

export function encodeBase64(bytes: Buffer): Buffer {
  const b64 = bytes.toString('base64');
  const parts: string[] = [];
  for (let i = 0; i < b64.length; i += 76) parts.push(b64.slice(i, i + 76));
  return Buffer.from(parts.join('\r\n'), 'latin1');
}
