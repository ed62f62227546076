/**
 * Charset handling for text we edit.
 *
 * Everything we look for (markup, CSS, URLs) is ASCII, and everything we write is ASCII. So for an
 * ASCII-compatible charset (UTF-8, ISO-8859-*, windows-125x, KOI8, GB18030, Shift_JIS, ...) the
 * part is handled as Latin-1: one char per byte, every byte we do not edit comes back identical,
 * even invalid UTF-8 or mislabelled text. Only charsets where ASCII bytes can mean something else
 * (UTF-16/32, UTF-7, ISO-2022 escapes, EBCDIC) are really transcoded, and only if they round-trip.
 */
import iconv from 'iconv-lite';
import { RelayError } from '../errors.js';

export interface TextCodec {
  readonly charset: string;
  readonly transparent: boolean;
  /**
   * The text detectors should read, same length as the decoded text (so offsets hold): for
   * ISO-2022-JP, double-byte runs are masked, since their bytes look like ASCII but are kanji.
   */
  mask?(text: string): string;
  decode(bytes: Buffer): string;
  encode(text: string): Buffer;
}

const NOT_ASCII_COMPATIBLE = /^(utf-?16|utf-?32|ucs-?2|ucs-?4|utf-?7|unicode(-1-1)?(-utf-7)?|iso-?2022|csiso2022|hz|cp0?37|ibm0?37|cp1026|ibm1026|cp500|ibm500|cp875|ebcdic)/i;

const LATIN1: TextCodec = {
  charset: 'latin1',
  transparent: true,
  decode: (b) => b.toString('latin1'),
  encode: (t) => Buffer.from(t, 'latin1'),
};

/**
 * ISO-2022-JP (RFC 1468), the usual charset of Japanese mail: 7-bit, ASCII until ESC $ B (or
 * ESC $ @) switches to JIS X 0208 pairs, ESC ( B or ESC ( J back. Edited byte-transparently; the
 * JIS runs are masked for detection so that no "<img" is ever seen inside kanji.
 */
const ISO_2022_JP: TextCodec = {
  charset: 'iso-2022-jp',
  transparent: true,
  decode: (b) => b.toString('latin1'),
  encode: (t) => Buffer.from(t, 'latin1'),
  mask: (t) => t.replace(/\x1b\$[@B][^\x1b]*/g, (run) => '\x01'.repeat(run.length)),
};

export function codecFor(charset: string | false | undefined, sample: Buffer, part: string): TextCodec {
  let name = (charset || 'us-ascii').trim().toLowerCase();
  if (name === 'iso-2022-jp' || name === 'csiso2022jp') return ISO_2022_JP;
  const label = name.slice(0, 40);
  // "UTF-16" names no byte order; iconv-lite encodes it little-endian, so big-endian text (the
  // RFC 2781 default) would never round-trip. Pin the order the text itself uses.
  if (/^utf-?16$/.test(name)) name = utf16Order(sample);
  if (!NOT_ASCII_COMPATIBLE.test(name)) {
    if (iconv.encodingExists(name) || !looksNonAscii(sample)) return LATIN1;
    throw new RelayError('CHARSET_UNSUPPORTED', `part ${part}: unknown charset "${label}" and the text is not ASCII-compatible; cannot inspect it`);
  }
  if (!iconv.encodingExists(name)) {
    throw new RelayError('CHARSET_UNSUPPORTED', `part ${part}: charset "${label}" is not supported; cannot inspect it`);
  }
  const codec: TextCodec = {
    charset: name,
    transparent: false,
    decode: (b) => iconv.decode(b, name, { stripBOM: false }),
    encode: (t) => iconv.encode(t, name, { addBOM: false }),
  };
  // Transcoding must not change what we do not edit: refuse a part that does not round-trip.
  if (!codec.encode(codec.decode(sample)).equals(sample)) {
    throw new RelayError('CHARSET_UNSUPPORTED', `part ${part}: text in charset "${label}" does not round-trip; cannot edit it safely`);
  }
  return codec;
}

/** NUL or ESC bytes mean ASCII-looking bytes may not be ASCII (UTF-16, ISO-2022). */
function looksNonAscii(sample: Buffer): boolean {
  return sample.includes(0x00) || sample.includes(0x1b);
}

/** RFC 2781 4.3: the BOM decides; without one, where ASCII's zero bytes sit; default big-endian. */
function utf16Order(sample: Buffer): 'utf-16be' | 'utf-16le' {
  if (sample[0] === 0xfe && sample[1] === 0xff) return 'utf-16be';
  if (sample[0] === 0xff && sample[1] === 0xfe) return 'utf-16le';
  let even = 0;
  let odd = 0;
  const n = Math.min(sample.length, 4096) - 1;
  for (let i = 0; i < n; i += 2) {
    if (sample[i] === 0) even++;
    if (sample[i + 1] === 0) odd++;
  }
  return odd > even ? 'utf-16le' : 'utf-16be';
}
