/**
 * A message as an ordered list of segments: bytes in memory, or a run of bytes of a file.
 * Concatenated, the segments are the message. The engine takes its input and gives its output in
 * this form, so that a large message received into `<dataDir>/incoming/` goes from the file to
 * the upstream (or the spool) without its attachments ever being held whole in JavaScript: only
 * the parts the engine inspects are read into memory, every other byte stays a file range.
 *
 * Plain data on purpose: a list of Uint8Arrays and {path, start, end} objects survives
 * structured clone (worker_threads, piscina) unchanged, except that a Buffer arrives as a
 * Uint8Array; nothing here needs it to be a Buffer.
 *
 * Contract: a file range is only made over a file whose bytes are canonical (CRLF line endings:
 * the incoming file, a spool entry) and that nobody changes while the segments are in use.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** Bytes [start, end) of the file at `path`. */
export interface FileRange {
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

export type Segment = Uint8Array | FileRange;
export type Segments = readonly Segment[];

export function isFileRange(s: Segment): s is FileRange {
  return !(s instanceof Uint8Array);
}

export function segmentLength(s: Segment): number {
  return isFileRange(s) ? s.end - s.start : s.length;
}

export function segmentsLength(segs: Segments): number {
  let n = 0;
  for (const s of segs) n += segmentLength(s);
  return n;
}

/** The segments that hold bytes [start, end) of `segs`: views and sub-ranges, nothing copied. */
export function sliceSegments(segs: Segments, start: number, end: number): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const s of segs) {
    const len = segmentLength(s);
    const from = Math.max(start, at);
    const to = Math.min(end, at + len);
    if (from < to) {
      if (isFileRange(s)) out.push({ path: s.path, start: s.start + (from - at), end: s.start + (to - at) });
      else out.push(s.subarray(from - at, to - at));
    }
    at += len;
    if (at >= end) break;
  }
  return out;
}

/**
 * Adjacent pieces joined where that costs no copy: file ranges that continue each other, and
 * views that continue each other in one ArrayBuffer. Empty pieces are dropped.
 */
export function compactSegments(segs: Segments): Segment[] {
  const out: Segment[] = [];
  for (const s of segs) {
    if (segmentLength(s) === 0) continue;
    const last = out[out.length - 1];
    if (last !== undefined && isFileRange(last) && isFileRange(s) && last.path === s.path && last.end === s.start) {
      out[out.length - 1] = { path: s.path, start: last.start, end: s.end };
    } else if (last !== undefined && !isFileRange(last) && !isFileRange(s) && last.buffer === s.buffer && last.byteOffset + last.length === s.byteOffset) {
      out[out.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.length + s.length);
    } else {
      out.push(s);
    }
  }
  return out;
}

/** Thrown while reading a file range: the file is shorter than the range says, or unreadable. */
export class SegmentReadError extends Error {
  override readonly name = 'SegmentReadError';
}

async function* chunksOf(segs: Segments, chunkSize: number): AsyncGenerator<Buffer> {
  for (const s of segs) {
    if (!isFileRange(s)) {
      if (s.length > 0) yield Buffer.from(s.buffer, s.byteOffset, s.length);
      continue;
    }
    if (s.end <= s.start) continue;
    let got = 0;
    try {
      for await (const c of createReadStream(s.path, { start: s.start, end: s.end - 1, highWaterMark: chunkSize })) {
        const b = c as Buffer;
        got += b.length;
        yield b;
      }
    } catch (err) {
      throw new SegmentReadError(`message file unreadable: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
    // a truncated file must never pass for a shorter message
    if (got !== s.end - s.start) throw new SegmentReadError(`message file ended after ${got} of ${s.end - s.start} bytes`);
  }
}

/** The message as a byte stream, read piece by piece (file ranges `chunkSize` at a time). */
export function segmentsStream(segs: Segments, chunkSize = 64 * 1024): Readable {
  return Readable.from(chunksOf(segs, chunkSize), { objectMode: false, highWaterMark: chunkSize });
}

/** The whole message in one Buffer: for small messages and tests, never for a large one on the way out. */
export async function segmentsToBuffer(segs: Segments): Promise<Buffer> {
  if (segs.length === 1 && !isFileRange(segs[0]!)) {
    const s = segs[0]!;
    return Buffer.isBuffer(s) ? s : Buffer.from(s.buffer, s.byteOffset, s.length);
  }
  const parts: Buffer[] = [];
  for await (const c of chunksOf(segs, 1024 * 1024)) parts.push(c);
  return Buffer.concat(parts);
}

/** The first `max` bytes (fewer if the message is shorter): enough for its header block. */
export async function readHead(segs: Segments, max: number): Promise<Buffer> {
  return segmentsToBuffer(sliceSegments(segs, 0, max));
}

const CR = 0x0d;
const LF = 0x0a;

async function byteAt(r: FileRange, at: number): Promise<number> {
  const fh = await open(r.path, 'r');
  try {
    const b = Buffer.alloc(1);
    const { bytesRead } = await fh.read(b, 0, 1, at);
    if (bytesRead !== 1) throw new SegmentReadError('message file shorter than its range');
    return b[0]!;
  } finally {
    await fh.close();
  }
}

/**
 * True when the message has only CRLF line endings. Bytes in memory are checked in full; a file
 * range is canonical inside by contract (see the top of this file), so of it only the bytes where
 * it meets a piece in memory are read.
 */
export async function segmentsCanonical(segs: Segments): Promise<boolean> {
  const pieces = segs.filter((s) => segmentLength(s) > 0);
  const first = async (s: Segment): Promise<number> => (isFileRange(s) ? byteAt(s, s.start) : s[0]!);
  const last = async (s: Segment): Promise<number> => (isFileRange(s) ? byteAt(s, s.end - 1) : s[s.length - 1]!);
  for (let i = 0; i < pieces.length; i++) {
    const s = pieces[i]!;
    const prev = pieces[i - 1];
    if (isFileRange(s)) {
      // where a range meets bytes in memory, its edge bytes are what the join makes of them
      if (prev !== undefined && !isFileRange(prev) && (await first(s)) === LF && prev[prev.length - 1] !== CR) return false;
      continue;
    }
    const buf = Buffer.from(s.buffer, s.byteOffset, s.length);
    for (let j = buf.indexOf(LF); j !== -1; j = buf.indexOf(LF, j + 1)) if (j > 0 && buf[j - 1] !== CR) return false;
    for (let j = buf.indexOf(CR); j !== -1; j = buf.indexOf(CR, j + 1)) if (j + 1 < buf.length && buf[j + 1] !== LF) return false;
    const before = prev === undefined ? -1 : await last(prev);
    if (buf[0] === LF && before !== CR) return false;
    if (before === CR && buf[0] !== LF) return false;
    const next = pieces[i + 1];
    if (buf[buf.length - 1] === CR && (next === undefined || (await first(next)) !== LF)) return false;
  }
  // a range at the very start or end, or between two ranges, is canonical by contract
  return true;
}
