/**
 * The one canonical form of a message: every line ends in CRLF. The engine reads only canonical
 * bytes and the upstream receives exactly the bytes the engine returned, so no reader on the way
 * (mailsplit splits on LF, nodemailer turns bare CR and LF into CRLF on the way out) can see
 * different lines from the ones that were inspected.
 *
 * A bare CR, a bare LF and a CR LF pair each count as one line ending; "\r\r\n" is a bare CR and
 * then a CRLF, i.e. two line endings, as nodemailer and most MTAs read it.
 */

const CR = 0x0d;
const LF = 0x0a;

/**
 * Streaming CRLF canonicaliser. Feed it the DATA stream chunk by chunk; a CR at the end of a chunk
 * is held back until the next byte says whether it starts a CRLF pair.
 */
export class LineEndingCanonicaliser {
  /** How many bare CRs and bare LFs were rewritten so far. */
  bare = 0;
  private pendingCr = false;

  /** Canonical bytes for this chunk (may hold back one trailing CR until the next call or end()). */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    // fast path: the usual chunk is already canonical and is passed through without a copy
    if (!this.pendingCr && isCanonicalInside(chunk)) {
      if (chunk[chunk.length - 1] !== CR) return chunk;
      this.pendingCr = true;
      return chunk.subarray(0, chunk.length - 1);
    }
    const out = Buffer.allocUnsafe(chunk.length * 2 + 2);
    let o = 0;
    let i = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      out[o++] = CR;
      out[o++] = LF;
      if (chunk[0] === LF) i = 1;
      else this.bare++;
    }
    for (; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === CR) {
        if (i + 1 === chunk.length) {
          this.pendingCr = true;
          break;
        }
        out[o++] = CR;
        out[o++] = LF;
        if (chunk[i + 1] === LF) i++;
        else this.bare++;
      } else if (c === LF) {
        this.bare++;
        out[o++] = CR;
        out[o++] = LF;
      } else {
        out[o++] = c;
      }
    }
    return out.subarray(0, o);
  }

  /** The bytes held back at the end of the stream: a final bare CR becomes CRLF. */
  end(): Buffer {
    if (!this.pendingCr) return Buffer.alloc(0);
    this.pendingCr = false;
    this.bare++;
    return Buffer.from('\r\n');
  }
}

/** True when every CR is followed by LF and every LF preceded by CR (a trailing CR is allowed). */
function isCanonicalInside(buf: Buffer): boolean {
  let i = buf.indexOf(LF);
  let j = buf.indexOf(CR);
  while (i !== -1 || j !== -1) {
    if (j === -1 || (i !== -1 && i < j)) return false; // an LF with no CR right before it
    // j is a CR: it must be followed by LF, or be the last byte
    if (j + 1 === buf.length) return i === -1;
    if (buf[j + 1] !== LF) return false;
    i = buf.indexOf(LF, j + 2);
    j = buf.indexOf(CR, j + 2);
  }
  return true;
}

/** True when `buf` has only CRLF line endings. */
export function isCanonical(buf: Buffer): boolean {
  return isCanonicalInside(buf) && buf[buf.length - 1] !== CR;
}

/** `buf` with every line ending made CRLF; the same buffer when it already was canonical. */
export function toCanonical(buf: Buffer): Buffer {
  if (isCanonical(buf)) return buf;
  const c = new LineEndingCanonicaliser();
  const head = c.push(buf);
  const tail = c.end();
  return tail.length ? Buffer.concat([head, tail]) : head;
}
