import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

import { RelayError, asRelayError } from '../errors.js';
import { segmentsStream, type Segments } from '../segments.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, restrictMode } from '../store/dataDir.js';
import type { Envelope, RecipientFailure } from './types.js';

/**
 * The durable spool: copies (or the undelivered remainder of copies) that the relay has promised
 * to deliver by answering 250, and DSNs it owes.
 *
 * One file per entry in `<dataDir>/spool/`: a JSON header line (SpoolMeta) then the raw message
 * bytes. Every write goes to a temporary file, is fsync'd, renamed over the entry and the
 * directory is fsync'd, so after a crash an entry is either the old version or the new one, never a
 * torn file, and an entry that `enqueue` returned for survives power loss. Temporary files left by
 * a crash are ignored (and swept on `open`).
 */

export interface SpoolMeta {
  /** The recipients still to deliver; shrinks as they are accepted. */
  readonly envelope: Envelope;
  readonly consentClass: string;
  readonly messageId: string | null;
  /**
   * The SMTP transaction the entry comes from (a DSN: the one it reports on), so its later
   * dispositions join the message's record. null in entries written before it was kept.
   */
  readonly queueId: string | null;
  /** Delivery attempts made so far, including the one made while the client waited. */
  readonly attempts: number;
  /** ISO-8601: the first attempt; the give-up deadline is measured from here. */
  readonly firstAttemptAt: string;
  /** ISO-8601: not retried before this. */
  readonly nextAttemptAt: string;
  /** The last failure reply, one line, for `queue list`. */
  readonly lastError: string | null;
  /** Last failure per remaining recipient, so a DSN can quote the upstream's own reply. */
  readonly failures: readonly RecipientFailure[];
  /** Copy.senderVouched: whether a DSN may go to the envelope sender. Absent in entries written before it was kept (true). */
  readonly senderVouched?: boolean;
}

export interface SpoolEntry {
  readonly id: string;
  readonly meta: SpoolMeta;
}

export interface SpoolMessage extends SpoolEntry {
  readonly raw: Buffer;
}

/**
 * An entry opened for sending: its message as a file range, read as it is sent. The range is of a
 * private hard link to the entry as it was when opened, so a rewrite of the entry meanwhile (its
 * header line may change length) cannot shift the bytes under it. `close` removes the link.
 */
export interface OpenedEntry extends SpoolEntry {
  readonly raw: Segments;
  close(): Promise<void>;
}

const SUFFIX = '.msg';
const TMP_PREFIX = '.tmp-';
/** Hard links held while an entry is sent (OpenedEntry). */
const READ_PREFIX = '.read-';
/** A read link older than this was left by a crash: no send holds an entry this long. */
const STALE_READ_MS = 3_600_000;
/** Ids are generated here, but `get`/`remove` also take ids typed by an operator: no paths. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export class Spool {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'spool');
  }

  /** A spool on `<dataDir>/spool`, created if needed, with crash leftovers swept. */
  static async open(dataDir: string): Promise<Spool> {
    const spool = new Spool(dataDir);
    await spool.init();
    return spool;
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
      // entries are messages: private whatever the umask or an older version left (see dataDir.ts)
      restrictMode(this.dir, 'dir');
      for (const name of await readdir(this.dir)) {
        if (name.startsWith(TMP_PREFIX)) await unlink(join(this.dir, name)).catch(() => undefined);
        else if (name.startsWith(READ_PREFIX)) await this.sweepReadLink(join(this.dir, name));
        else restrictMode(join(this.dir, name));
      }
    } catch (err) {
      throw asRelayError(err, 'SPOOL_WRITE_FAILED', `spool ${this.dir} unusable`);
    }
  }

  /**
   * Durably store a message; resolves only once it is on disk. Throws RelayError SPOOL_WRITE_FAILED.
   * Segments are streamed into the entry, so a large copy is never held whole in memory.
   */
  async enqueue(meta: SpoolMeta, raw: Buffer | Segments): Promise<string> {
    const id = newId();
    try {
      await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
      await this.writeAtomically(id, meta, raw);
    } catch (err) {
      throw asRelayError(err, 'SPOOL_WRITE_FAILED', 'could not write to the spool');
    }
    return id;
  }

  /** All entries' metadata, oldest id first. Unreadable files (not ours, or corrupt) are skipped. */
  async list(): Promise<SpoolEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const entries: SpoolEntry[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith(SUFFIX) || name.startsWith('.')) continue;
      const id = name.slice(0, -SUFFIX.length);
      const meta = await this.readMeta(id).catch(() => null);
      if (meta !== null) entries.push({ id, meta });
    }
    return entries;
  }

  /** Metadata and bytes of one entry, or null if it does not exist (delivered or dropped). */
  async get(id: string): Promise<SpoolMessage | null> {
    checkId(id);
    let data: Buffer;
    try {
      data = await readFile(this.path(id));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    const nl = data.indexOf(0x0a);
    if (nl < 0) throw new Error(`spool entry ${id} has no header line`);
    const meta = parseMeta(data.subarray(0, nl).toString('utf8'));
    return { id, meta, raw: data.subarray(nl + 1) };
  }

  /** An entry to send, its bytes streamed from disk; null if it does not exist. The caller closes it. */
  async open(id: string): Promise<OpenedEntry | null> {
    checkId(id);
    const pinned = join(this.dir, `${READ_PREFIX}${id}-${randomBytes(4).toString('hex')}`);
    try {
      await link(this.path(id), pinned);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    const close = (): Promise<void> => unlink(pinned).catch(() => undefined);
    try {
      const { meta, bodyStart } = await readHeader(pinned, id);
      const size = (await stat(pinned)).size;
      return { id, meta, raw: [{ path: pinned, start: bodyStart, end: size }], close };
    } catch (err) {
      await close();
      throw err;
    }
  }

  /** Delete an entry; true if it existed. The unlink is made durable before returning. */
  async remove(id: string): Promise<boolean> {
    checkId(id);
    try {
      await unlink(this.path(id));
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    await this.syncDir();
    return true;
  }

  /**
   * Replace an entry's metadata (and, optionally, nothing else: the bytes are kept) by an atomic
   * rewrite. Returns false if the entry no longer exists, e.g. an operator dropped it meanwhile:
   * a rewrite must not bring a dropped entry back. (There is a window of one rename in which a
   * concurrent drop can still lose against the rewrite.)
   */
  async update(id: string, meta: SpoolMeta): Promise<boolean> {
    const current = await this.open(id);
    if (current === null) return false;
    try {
      await this.writeAtomically(id, meta, current.raw, true);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw asRelayError(err, 'SPOOL_WRITE_FAILED', `could not update spool entry ${id}`);
    } finally {
      await current.close();
    }
    return true;
  }

  private async sweepReadLink(path: string): Promise<void> {
    // another process may be sending from it right now (the relay while a CLI opens the spool)
    const st = await stat(path).catch(() => null);
    if (st !== null && Date.now() - st.ctimeMs > STALE_READ_MS) await unlink(path).catch(() => undefined);
  }

  private path(id: string): string {
    return join(this.dir, `${id}${SUFFIX}`);
  }

  private async readMeta(id: string): Promise<SpoolMeta> {
    return (await readHeader(this.path(id), id)).meta;
  }

  private async writeAtomically(id: string, meta: SpoolMeta, raw: Buffer | Segments, mustExist = false): Promise<void> {
    const tmp = join(this.dir, `${TMP_PREFIX}${id}-${randomBytes(4).toString('hex')}`);
    let fh: FileHandle | undefined;
    try {
      fh = await open(tmp, 'wx', PRIVATE_FILE_MODE);
      // JSON.stringify escapes newlines inside strings, so the header is exactly one line.
      const header = Buffer.from(`${JSON.stringify(meta)}\n`, 'utf8');
      if (Buffer.isBuffer(raw)) await fh.writeFile(Buffer.concat([header, raw]));
      else {
        await fh.write(header);
        for await (const chunk of segmentsStream(raw)) await fh.write(chunk as Buffer);
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      if (mustExist) {
        // Narrow the drop-vs-rewrite race: do not resurrect an entry removed while we wrote.
        const still = await open(this.path(id), 'r').catch((err: unknown) => (isNotFound(err) ? null : Promise.reject(err)));
        if (still === null) throw Object.assign(new Error(`spool entry ${id} vanished`), { code: 'ENOENT' });
        await still.close();
      }
      await rename(tmp, this.path(id));
      await this.syncDir();
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** fsync the directory so that a rename or unlink survives a crash (POSIX). */
  private async syncDir(): Promise<void> {
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

function newId(): string {
  // Time first so that ids sort roughly by arrival; random so two relays on one dir cannot clash.
  return `${Date.now().toString(36).padStart(9, '0')}-${randomBytes(8).toString('hex')}`;
}

function checkId(id: string): void {
  if (!ID.test(id)) throw new RelayError('USAGE', `not a spool entry id: ${JSON.stringify(id)}`);
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** An entry's header line (read alone: listing must not load every message body) and where the message starts. */
async function readHeader(path: string, id: string): Promise<{ meta: SpoolMeta; bodyStart: number }> {
  const fh = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(16 * 1024);
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) throw new Error(`spool entry ${id} has no header line`);
      const chunk = buf.subarray(0, bytesRead);
      const nl = chunk.indexOf(0x0a);
      if (nl >= 0) {
        chunks.push(Buffer.from(chunk.subarray(0, nl)));
        return { meta: parseMeta(Buffer.concat(chunks).toString('utf8')), bodyStart: pos + nl + 1 };
      }
      chunks.push(Buffer.from(chunk));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

function parseMeta(line: string): SpoolMeta {
  const v: unknown = JSON.parse(line);
  if (typeof v !== 'object' || v === null) throw new Error('spool header is not an object');
  const m = v as Partial<SpoolMeta>;
  if (
    typeof m.envelope?.from !== 'string' ||
    !Array.isArray(m.envelope.to) ||
    typeof m.consentClass !== 'string' ||
    typeof m.attempts !== 'number' ||
    typeof m.firstAttemptAt !== 'string' ||
    typeof m.nextAttemptAt !== 'string'
  ) {
    throw new Error('spool header is missing fields');
  }
  return {
    envelope: { from: m.envelope.from, to: m.envelope.to.map(String) },
    consentClass: m.consentClass,
    messageId: typeof m.messageId === 'string' ? m.messageId : null,
    queueId: typeof m.queueId === 'string' ? m.queueId : null,
    attempts: m.attempts,
    firstAttemptAt: m.firstAttemptAt,
    nextAttemptAt: m.nextAttemptAt,
    lastError: typeof m.lastError === 'string' ? m.lastError : null,
    failures: Array.isArray(m.failures) ? m.failures : [],
    ...(typeof m.senderVouched === 'boolean' ? { senderVouched: m.senderVouched } : {}),
  };
}

// The worker lives in its own file; exported here too because it is part of the spool's contract.
export { SpoolWorker, retryDelay } from './spoolWorker.js';
