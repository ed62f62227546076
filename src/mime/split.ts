/**
 * mailsplit wrapper: the message as the ordered list of chunks the Splitter emits (nodes with
 * their header blocks, body bytes, boundary/preamble data). Joining the chunks gives back the
 * original bytes, so a rewrite replaces only the bodies it changes.
 */
import { Readable } from 'node:stream';
import { Splitter } from '@zone-eu/mailsplit';
import type { MimeNode, SplitterChunk } from '@zone-eu/mailsplit';
import { RelayError } from '../errors.js';

export type { MimeNode };

export interface SplitLimits {
  readonly maxParts: number;
  readonly maxHeadBytes: number;
}

export type { SplitterChunk };

export function splitterFor(limits: SplitLimits): Splitter {
  return new Splitter({ ignoreEmbedded: true, maxChildNodes: limits.maxParts, maxHeadSize: limits.maxHeadBytes });
}

/** The splitter's error as ours: over a limit, or not MIME we can read. */
export function splitError(err: unknown): RelayError {
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code;
  if (code === 'EMAXLEN' || /child nodes|too many|max/i.test(msg)) {
    return new RelayError('MESSAGE_TOO_COMPLEX', `message structure over the limits (${msg})`, { cause: err });
  }
  return new RelayError('MIME_MALFORMED', `message could not be parsed as MIME: ${msg}`, { cause: err });
}

export async function splitMessage(raw: Buffer, limits: SplitLimits): Promise<SplitterChunk[]> {
  const splitter = splitterFor(limits);
  const chunks: SplitterChunk[] = [];
  try {
    for await (const chunk of Readable.from([raw]).pipe(splitter) as AsyncIterable<SplitterChunk>) chunks.push(chunk);
  } catch (err) {
    throw splitError(err);
  }
  return chunks;
}

/** "1.2.3" style part number; the root of a single-part message is "1". */
export function partNumber(node: MimeNode): string {
  const nr = (node.partNr || []).filter((n) => n !== 'TEXT');
  return nr.length ? nr.join('.') : '1';
}

export function depthOf(node: MimeNode): number {
  let d = 0;
  for (let p = node.parentNode; p; p = p.parentNode) d++;
  return d;
}
