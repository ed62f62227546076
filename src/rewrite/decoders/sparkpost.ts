import { base64Bytes, utf8 } from './bytes.js';
import { queryValues, rawSegments, toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

/**
 * SparkPost (also Intercom, Zillow and others on SparkPost's engine; default hosts spgo.io,
 * *.sparkpostmail.com): https://<host>/f/a/<hmac>~~/<AAAAAQA~>/<record>[?target=...].
 * `<record>` is base64url ("~" as padding) of a binary TLV record. Each field starts with one
 * byte: the top two bits give the size of the length that follows (0: no value, 1: one byte,
 * 2: two bytes little-endian, 3: four bytes), the low six bits the field number. A record
 * begins with field 6, four bytes (a timestamp: "RgR" in base64). Field 4 is the destination;
 * 18 the recipient, 23 the account, 7 JSON metadata. Worked out from real links: every sample
 * parsed to its last byte under this reading.
 *
 * When field 4 is empty the destination travels in the `target` query parameter. A record that
 * does not parse (truncated, signature-only links) is opaque: null.
 */

const DESTINATION_FIELD = 4;

function parseRecord(bytes: Buffer): Map<number, Buffer> | null {
  if (bytes.length < 6 || bytes[0] !== 0x46 || bytes[1] !== 0x04) return null;
  const fields = new Map<number, Buffer>();
  let i = 0;
  while (i < bytes.length) {
    const tag = bytes[i++] ?? 0;
    const size = tag >> 6;
    let len = 0;
    if (size === 1) len = bytes[i] ?? 0;
    else if (size === 2) len = (bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8);
    else if (size === 3) len = i + 4 <= bytes.length ? bytes.readUInt32LE(i) : Infinity;
    i += size === 3 ? 4 : size;
    if (i + len > bytes.length) return null;
    if (!fields.has(tag & 0x3f)) fields.set(tag & 0x3f, bytes.subarray(i, i + len));
    i += len;
  }
  return fields;
}

export const sparkpostDecoder: Decoder = {
  id: 'sparkpost',
  description: 'SparkPost /f/a/<hmac>~~/<AAAAAQA~>/<base64url TLV record, field 4 = destination>; empty field 4: ?target=.',
  decode(url) {
    for (const seg of rawSegments(url)) {
      const bytes = base64Bytes(seg);
      const fields = bytes === null ? null : parseRecord(bytes);
      if (fields === null) continue;
      const dest = fields.get(DESTINATION_FIELD);
      if (dest !== undefined && dest.length > 0) {
        const text = utf8(dest);
        return text === null ? null : toHttpUrl(text);
      }
      for (const t of queryValues(url, 'target')) {
        const d = toHttpUrl(t, { percentLevels: 1 });
        if (d !== null) return d;
      }
      return null;
    }
    return null;
  },
};
