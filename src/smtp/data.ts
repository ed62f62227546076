/**
 * DATA stage: read the message (bounded by the size limit) into its canonical form, hand it to the
 * pipeline, answer with the pipeline's reply. Nothing is acknowledged before the pipeline says we
 * own the message.
 *
 * Line endings are made CRLF here, on the stream, before anything inspects the message: mailsplit
 * splits lines on LF and nodemailer turns bare CR and LF into CRLF on the way out, so a message
 * with bare line endings would otherwise be inspected as one thing and delivered as another.
 * `smtp.bareLineEndings: reject` refuses such a message instead (as Postfix's
 * `smtpd_forbid_bare_newline` does).
 */
import { randomBytes } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SMTPServerDataStream } from 'smtp-server';
import { RelayError } from '../errors.js';
import { LineEndingCanonicaliser } from '../mime/canonical.js';
import { PRIVATE_FILE_MODE } from '../store/dataDir.js';
import type { Segments } from '../segments.js';
import type { MemoryBudget } from './budget.js';
import { fromRelayError, smtpError, type SmtpError } from './reply.js';

export type BareLineEndings = 'normalise' | 'reject';

export interface ReadOptions {
  readonly maxBytes: number;
  readonly bareLineEndings: BareLineEndings;
  readonly budget: MemoryBudget;
  /** Where a message goes while it is received once it is over SPILL_AT (`<dataDir>/incoming`). */
  readonly spillDir: string;
}

/**
 * Up to this much of a message is received into memory (charged to the budget as it arrives);
 * beyond it, or when the budget has no room, the message is written to a file instead, so that
 * many large messages arriving at once cost disk, not memory.
 */
export const SPILL_AT = 1024 * 1024;

/** A message received in full: in memory or in a spill file, with its share of the budget. */
export class ReceivedMessage {
  private reserved: number;
  private chunks: Buffer[] | null;

  constructor(
    readonly size: number,
    chunks: Buffer[] | null,
    readonly file: string | null,
    reserved: number,
    private readonly budget: MemoryBudget,
  ) {
    this.chunks = chunks;
    this.reserved = reserved;
  }

  /**
   * Charge `cost` (budget.ts messageCost) for processing it, waiting up to waitMs: 'ok', 'wait'
   * (no room within waitMs) or 'never' (more than the whole budget).
   */
  async charge(cost: number, waitMs: number): Promise<'ok' | 'wait' | 'never'> {
    if (cost <= this.reserved) return 'ok';
    if (cost - this.reserved > this.budget.total) return 'never';
    const ok = await this.budget.reserve(cost - this.reserved, waitMs);
    if (ok) this.reserved = cost;
    return ok ? 'ok' : 'wait';
  }

  /**
   * The canonical message as segments: the bytes in memory, or the whole spill file as one range
   * (read as it is used; the file lives until dispose()).
   */
  segments(): Segments {
    if (this.file) return [{ path: this.file, start: 0, end: this.size }];
    const chunks = this.chunks ?? [];
    this.chunks = null;
    return [chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size)];
  }

  /** Give the budget back and remove the spill file. */
  async dispose(): Promise<void> {
    this.budget.release(this.reserved);
    this.reserved = 0;
    this.chunks = null;
    if (this.file) await rm(this.file, { force: true });
  }
}

export async function readMessage(stream: SMTPServerDataStream, o: ReadOptions): Promise<ReceivedMessage | SmtpError> {
  const canon = new LineEndingCanonicaliser();
  const chunks: Buffer[] = [];
  let total = 0;
  let kept = 0;
  let reserved = 0;
  // a holder, not a `let`: keep() sets it from a closure
  const spill: { file: { path: string; handle: FileHandle } | null } = { file: null };
  let done = false;
  const keep = async (c: Buffer): Promise<void> => {
    if (c.length === 0) return;
    kept += c.length;
    if (!spill.file && kept <= SPILL_AT && o.budget.tryReserve(c.length)) {
      reserved += c.length;
      chunks.push(c);
      return;
    }
    if (!spill.file) {
      const path = join(o.spillDir, `${Date.now()}-${randomBytes(6).toString('hex')}.eml`);
      const handle = await open(path, 'wx', PRIVATE_FILE_MODE);
      spill.file = { path, handle };
      await handle.chmod(PRIVATE_FILE_MODE);
      for (const held of chunks.splice(0)) await handle.write(held);
      o.budget.release(reserved);
      reserved = 0;
    }
    await spill.file.handle.write(c);
  };
  const discard = async (): Promise<void> => {
    o.budget.release(reserved);
    reserved = 0;
    chunks.length = 0;
    if (spill.file) {
      await spill.file.handle.close().catch(() => undefined);
      await rm(spill.file.path, { force: true });
    }
  };
  try {
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        total += chunk.length;
        // keep draining an oversized (or refused) message so the connection stays in sync, but stop keeping it
        if (total > o.maxBytes || (canon.bare > 0 && o.bareLineEndings === 'reject')) continue;
        await keep(canon.push(chunk));
      }
    } catch (err) {
      // the connection went away mid-message (the client left, or was cut off for being too slow):
      // nobody is left to answer, and nothing was accepted
      if ((err as { code?: string }).code === 'ECONNECTION') return smtpError(421, '4.4.2', 'connection closed before the message was received in full');
      throw err;
    }
    if (stream.sizeExceeded || total > o.maxBytes) return smtpError(552, '5.3.4', `message size exceeds the limit of ${o.maxBytes} bytes`);
    const tail = canon.end();
    if (canon.bare > 0 && o.bareLineEndings === 'reject') {
      return fromRelayError(new RelayError('BARE_LINE_ENDINGS', 'message has bare CR or LF line endings; lines must end in CRLF (RFC 5321 section 2.3.8)'));
    }
    await keep(tail);
    const spilled = spill.file;
    if (spilled) await spilled.handle.close();
    done = true;
    return new ReceivedMessage(kept, spilled ? null : chunks, spilled ? spilled.path : null, reserved, o.budget);
  } finally {
    if (!done) await discard();
  }
}
