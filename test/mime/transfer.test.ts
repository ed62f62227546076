import { describe, expect, it } from 'vitest';
import { decodeBody, decodeQP, encodeBody, encodeQP, transferEncoding } from '../../src/mime/transfer.js';
import { codecFor } from '../../src/mime/charset.js';
import { RelayError } from '../../src/errors.js';

const qpCases: [string, string][] = [
  ['soft break inside a URL', 'https://t.example.com/tr=\r\nack?id=3D42'],
  ['LF soft break', 'a=\nb'],
  ['encoded 8-bit', 'caf=C3=A9'],
  ['broken escape stays literal', 'price =ZZ 5'],
  ['trailing =', 'end='],
  ['padding after soft break =', 'x=  \r\ny'],
];
const qpExpected = ['https://t.example.com/track?id=42', 'ab', 'café', 'price =ZZ 5', 'end', 'xy'];

describe('quoted-printable', () => {
  qpCases.forEach(([name, input], i) => {
    it(`decodes: ${name}`, () => {
      expect(decodeQP(Buffer.from(input, 'latin1')).toString('utf8')).toBe(qpExpected[i]);
    });
  });

  it('round-trips arbitrary bytes (line breaks aside), lines of at most 76 chars', () => {
    const bytes = Buffer.alloc(5000);
    for (let i = 0; i < bytes.length; i++) {
      const b = (i * 7919) % 256;
      bytes[i] = b === 0x0a || b === 0x0d ? 0x20 : b;
    }
    const enc = encodeQP(bytes);
    for (const line of enc.toString('latin1').split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(decodeQP(enc).equals(bytes)).toBe(true);
  });

  it('keeps hard line breaks as CRLF and protects trailing spaces', () => {
    const enc = encodeQP(Buffer.from('a \r\nb\t\nc')).toString('latin1');
    expect(enc).toBe('a=20\r\nb=09\r\nc');
  });
});

describe('base64 bodies', () => {
  it('round-trips with 76-char lines', () => {
    const text = Buffer.from('<html>'.repeat(100));
    const enc = encodeBody(text, 'base64');
    expect(
      enc
        .toString('latin1')
        .split('\r\n')
        .every((l) => l.length <= 76),
    ).toBe(true);
    expect(decodeBody(enc, 'base64', '1').equals(text)).toBe(true);
  });

  it('decodes concatenated encodings with padding in the middle', () => {
    expect(decodeBody(Buffer.from('PGI+\r\naGk=\r\nPC9iPg==\r\n'), 'base64', '1').toString()).toBe('<b>hi</b>');
  });

  it.each([
    ['characters outside the alphabet', 'PGh0bWw+!!!'],
    ['truncated quantum', 'PGh0b'],
  ])('refuses broken base64: %s', (_n, body) => {
    expect(() => decodeBody(Buffer.from(body), 'base64', '1.2')).toThrow(RelayError);
  });
});

describe('transfer encoding names', () => {
  it.each([
    [undefined, '7bit'],
    ['BASE64', 'base64'],
    [' Quoted-Printable ', 'quoted-printable'],
    ['8bit', '8bit'],
  ] as const)('%s -> %s', (v, want) => {
    expect(transferEncoding(v, '1')).toBe(want);
  });
  it.each([
    ['7-bit', '7bit'],
    ['8bits', '8bit'],
    ['7 bit', '7bit'],
    ['8-Bit', '8bit'],
    [' 7BITS ', '7bit'],
    ['8_bit', '8bit'],
    ['"7bit"', '7bit'],
    ['8bit (sent by Foo Mailer)', '8bit'],
    ['7bit;', '7bit'],
    ['Binary', 'binary'],
    [' Quoted-Printable (soft breaks)', 'quoted-printable'],
    ['', '7bit'],
  ] as const)('identity and known spellings as clients read them: %j -> %s', (v, want) => {
    expect(transferEncoding(v, '1')).toBe(want);
  });
  it.each(['x-uuencode', 'uuencode', 'x-yenc', 'base-64', 'quoted printable', '"base64"', 'base64;', '"quoted-printable"', '9bit', '7bitt', 'bit7', 'gzip'])(
    'refuses an unknown encoding %j (fail closed)',
    (v) => {
      expect(() => transferEncoding(v, '2')).toThrow(/unknown Content-Transfer-Encoding/);
    },
  );
});

describe('charsets', () => {
  it.each(['utf-8', 'iso-8859-1', 'windows-1252', 'koi8-r', 'shift_jis', 'x-unknown-but-ascii'])('%s is byte-transparent', (cs) => {
    const bytes = Buffer.from([0x3c, 0x61, 0xe9, 0xff, 0x80, 0x3e]);
    const codec = codecFor(cs, bytes, '1');
    expect(codec.transparent).toBe(true);
    expect(codec.encode(codec.decode(bytes)).equals(bytes)).toBe(true);
  });
  it('transcodes UTF-16 and keeps it round-trip exact', () => {
    const bytes = Buffer.from('<img src="x">', 'utf16le');
    const codec = codecFor('utf-16le', bytes, '1');
    expect(codec.decode(bytes)).toBe('<img src="x">');
  });
  it('refuses an unknown charset whose bytes are not ASCII-compatible', () => {
    expect(() => codecFor('x-weird', Buffer.from([0x00, 0x3c, 0x00, 0x61]), '3')).toThrow(/unknown charset/);
  });
});
