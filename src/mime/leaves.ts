/**
 * A reader's view of a message: every leaf part with its decoded text (transfer encoding and
 * charset undone, properly transcoded with iconv), walking into message/rfc822 parts. For
 * analysis (tests, the evaluation), never for rebuilding a message: that is the engine's job.
 */
import iconv from 'iconv-lite';
import { splitMessage, partNumber, type MimeNode } from './split.js';
import { decodeBody, transferEncoding } from './transfer.js';

export interface Leaf {
  readonly part: string;
  readonly contentType: string;
  readonly disposition: string | false;
  /** Body bytes as transferred (still encoded). */
  readonly raw: Buffer;
  /** Body after the transfer encoding is undone. */
  readonly bytes: Buffer;
  /** For text/* parts: decoded text. */
  readonly text: string | null;
}

export async function leaves(raw: Buffer, prefix = ''): Promise<Leaf[]> {
  const chunks = await splitMessage(raw, { maxParts: 10_000, maxHeadBytes: 1 << 20 });
  const out: Leaf[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    if (c.type !== 'node' || c.multipart) continue;
    const node = c as MimeNode;
    const body: Buffer[] = [];
    while (chunks[i + 1]?.type === 'body') body.push((chunks[++i] as { value: Buffer }).value);
    const rawBody = Buffer.concat(body);
    const ct = (node.contentType || 'text/plain').toLowerCase();
    const part = prefix + partNumber(node);
    const bytes = decodeBody(rawBody, transferEncoding(node.encoding, part), part);
    if (ct === 'message/rfc822' || ct === 'message/global') {
      out.push({ part, contentType: ct, disposition: node.disposition, raw: rawBody, bytes, text: null });
      for (const leaf of await leaves(bytes, `${part}.`)) out.push(leaf);
      continue;
    }
    const charset = (node.charset || 'us-ascii').toLowerCase();
    const text = ct.startsWith('text/') ? iconv.decode(bytes, iconv.encodingExists(charset) ? charset : 'latin1') : null;
    out.push({ part, contentType: ct, disposition: node.disposition, raw: rawBody, bytes, text });
  }
  return out;
}

export async function decodedText(raw: Buffer): Promise<string> {
  return (await leaves(raw))
    .filter((l) => l.text !== null)
    .map((l) => l.text)
    .join('\n');
}
