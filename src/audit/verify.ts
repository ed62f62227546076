/**
 * `audit verify`: re-computes every event's MAC and walks the links, and says for each problem
 * which event and what is wrong. Storage-neutral (rows come from a ChainStore), so a PostgreSQL
 * store is verified by the same code.
 *
 * What can be told apart, and how:
 * - edited: the event's MAC does not match its content, sequence number and previous MAC;
 * - swapped: two events fail, and each one's content matches the other's MAC;
 * - deleted: a sequence number is missing (the next event links to a MAC nobody has);
 * - reordered: events are stored in a different order than their sequence numbers;
 * - inserted: a row without chain columns after the chain began, or a second event with one number;
 * - truncated: only against a checkpoint (a cut tail leaves a shorter, valid chain): the
 *   checkpoint's event is missing, or its MAC differs (history before the checkpoint rewritten).
 * Deleting a prefix is allowed only through a recorded retention purge (events.ts).
 */
import type { ChainHead, ChainKey, StoredChainRow } from './chain.js';
import { linkMac } from './chain.js';

type ChainProblemKind = 'edited' | 'swapped' | 'deleted' | 'reordered' | 'inserted' | 'broken-link' | 'sender-edited' | 'truncated' | 'rewritten';

interface ChainProblem {
  readonly kind: ChainProblemKind;
  /** The event concerned (for a run of deleted events, the first). */
  readonly seq: number | null;
  readonly message: string;
}

/** What a checkpoint asserts (its signature is checked by checkpoint.ts before this). */
export interface CheckpointClaim {
  readonly count: number;
  readonly head: string;
  readonly at: string;
}

export interface ChainReport {
  readonly ok: boolean;
  /** Chained events present. */
  readonly events: number;
  readonly head: ChainHead | null;
  readonly firstSeq: number | null;
  /** Rows written before the chain existed (not covered by it). */
  readonly unchained: number;
  /** Events 1..purgedThrough were deleted by a recorded retention purge. */
  readonly purgedThrough: number;
  readonly problems: readonly ChainProblem[];
  /** Set when verified against a checkpoint. */
  readonly checkpoint?: { readonly claim: CheckpointClaim; readonly status: 'ok' | 'failed' | 'purged' };
}

export interface VerifyDeps {
  readonly chainKey: ChainKey;
  /**
   * The hash that stands for a clear sender, to check it against its chained hash; null when the
   * store cannot tell (e.g. pseudonyms kept in a table and this address's row erased or renamed):
   * the check is then skipped. Must not create anything: verify only reads.
   */
  readonly hashAddress: (address: string) => string | null;
}

interface Seen {
  readonly position: number;
  readonly seq: number;
  readonly prevMac: string;
  readonly mac: string;
  readonly intact: boolean;
  /** Kept only for events that failed (to recognise a swap) or that anchor a purge. */
  readonly row: StoredChainRow | null;
}

export async function verifyChain(rows: AsyncIterable<StoredChainRow>, deps: VerifyDeps, checkpoint?: CheckpointClaim): Promise<ChainReport> {
  const problems: ChainProblem[] = [];
  const chained: Seen[] = [];
  const purges: { throughSeq: number; throughMac: string }[] = [];
  let unchained = 0;
  let maxSeqSoFar = 0;
  let maxSeqAt = 0;
  for await (const row of rows) {
    if (!row.link) {
      if (chained.length === 0) unchained++;
      else problems.push({ kind: 'inserted', seq: null, message: `row ${row.position} has no chain entry although the chain had begun: inserted outside consent-relay` });
      continue;
    }
    const { seq, prevMac, mac } = row.link;
    const intact = row.entry !== null && linkMac(deps.chainKey, seq, prevMac, row.entry) === mac;
    chained.push({ position: row.position, seq, prevMac, mac, intact, row: intact && row.entry?.type !== 'retention-purged' ? null : row });
    if (intact && row.entry?.type === 'retention-purged') {
      const { throughSeq, throughMac } = row.entry.details;
      if (typeof throughSeq === 'number' && typeof throughMac === 'string') purges.push({ throughSeq, throughMac });
    }
    const senderHash = intact && row.entry?.senderHash && row.sender !== null ? deps.hashAddress(row.sender) : null;
    if (senderHash !== null && senderHash !== row.entry?.senderHash) {
      problems.push({ kind: 'sender-edited', seq, message: `event #${seq}: the sender column was changed (it no longer matches the sender's chained keyed hash)` });
    }
    if (seq < maxSeqSoFar) {
      problems.push({ kind: 'reordered', seq, message: `event #${seq} is stored after event #${maxSeqAt}: events were reordered` });
    } else {
      maxSeqSoFar = seq;
      maxSeqAt = seq;
    }
  }

  const failed = chained.filter((c) => !c.intact);
  for (const f of failed) {
    const entry = f.row?.entry ?? null;
    if (!entry) {
      problems.push({ kind: 'edited', seq: f.seq, message: `event #${f.seq}: its details are not readable JSON any more (edited)` });
      continue;
    }
    const home = failed.find((o) => o !== f && linkMac(deps.chainKey, o.seq, o.prevMac, entry) === o.mac);
    problems.push(
      home
        ? { kind: 'swapped', seq: f.seq, message: `event #${f.seq} holds the content of event #${home.seq}: events were swapped or moved` }
        : { kind: 'edited', seq: f.seq, message: `event #${f.seq} (${entry.type}, ${entry.at}): its content does not match its MAC (edited)` },
    );
  }

  const bySeq = [...chained].sort((a, b) => a.seq - b.seq || a.position - b.position);
  let purgedThrough = 0;
  const first = bySeq[0];
  if (first && first.seq !== 1) {
    const anchor = purges.find((p) => p.throughSeq === first.seq - 1 && p.throughMac === first.prevMac);
    if (anchor) purgedThrough = anchor.throughSeq;
    else {
      // a recorded purge that covers part of the gap: only the rest is missing
      const partial = purges.filter((p) => p.throughSeq < first.seq - 1).reduce((m, p) => Math.max(m, p.throughSeq), 0);
      const from = partial + 1;
      const range = from === first.seq - 1 ? `event #${from} is` : `events #${from}–#${first.seq - 1} are`;
      const why = partial ? `deleted after the retention purge through #${partial}` : 'deleted from the start; no retention purge recorded them';
      problems.push({ kind: 'deleted', seq: from, message: `${range} missing (${why})` });
    }
  }
  for (let i = 1; i < bySeq.length; i++) {
    const a = bySeq[i - 1]!;
    const b = bySeq[i]!;
    if (b.seq === a.seq) {
      problems.push({ kind: 'inserted', seq: b.seq, message: `event #${b.seq} appears twice (rows ${a.position} and ${b.position}): one was inserted` });
    } else if (b.seq > a.seq + 1) {
      const range = b.seq === a.seq + 2 ? `event #${a.seq + 1} is` : `events #${a.seq + 1}–#${b.seq - 1} are`;
      problems.push({ kind: 'deleted', seq: a.seq + 1, message: `${range} missing (deleted)` });
    } else if (a.intact && b.intact && b.prevMac !== a.mac) {
      problems.push({ kind: 'broken-link', seq: b.seq, message: `event #${b.seq} was not written after the event now stored as #${a.seq} (replaced, or the log was spliced)` });
    }
  }

  const last = bySeq.at(-1);
  const head = last ? { seq: last.seq, mac: last.mac } : null;
  let checked: ChainReport['checkpoint'];
  if (checkpoint) {
    const at = bySeq.find((c) => c.seq === checkpoint.count);
    if (checkpoint.count === 0) {
      checked = { claim: checkpoint, status: 'ok' };
    } else if (checkpoint.count <= purgedThrough) {
      const exact = checkpoint.count === purgedThrough && purges.some((p) => p.throughSeq === checkpoint.count && p.throughMac === checkpoint.head);
      checked = { claim: checkpoint, status: exact ? 'ok' : 'purged' };
    } else if (!last || last.seq < checkpoint.count) {
      checked = { claim: checkpoint, status: 'failed' };
      const end = last ? `ends at event #${last.seq}` : 'is empty';
      problems.push({
        kind: 'truncated',
        seq: (last?.seq ?? 0) + 1,
        message: `the log ${end}, but the checkpoint of ${checkpoint.at} counted ${checkpoint.count} events: events #${(last?.seq ?? 0) + 1}–#${checkpoint.count} were cut away`,
      });
    } else if (!at) {
      // already reported as deleted; the checkpoint cannot be matched
      checked = { claim: checkpoint, status: 'failed' };
    } else if (at.mac !== checkpoint.head) {
      checked = { claim: checkpoint, status: 'failed' };
      problems.push({
        kind: 'rewritten',
        seq: checkpoint.count,
        message: `event #${checkpoint.count}'s MAC differs from the checkpoint of ${checkpoint.at}: the log up to the checkpoint was rewritten`,
      });
    } else {
      checked = { claim: checkpoint, status: problems.some((p) => p.seq !== null && p.seq <= checkpoint.count) ? 'failed' : 'ok' };
    }
  }
  problems.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  return {
    ok: problems.length === 0,
    events: chained.length,
    head,
    firstSeq: first?.seq ?? null,
    unchained,
    purgedThrough,
    problems,
    ...(checked ? { checkpoint: checked } : {}),
  };
}

/** The report as lines for a terminal. */
export function formatChainReport(r: ChainReport): string {
  const lines: string[] = [];
  const span = r.head ? `#${r.firstSeq}–#${r.head.seq}` : 'none';
  if (r.ok) lines.push(`audit chain OK: ${r.events} event(s) (${span}), head ${r.head ? r.head.mac.slice(0, 16) : '-'}…`);
  else lines.push(`audit chain FAILED: ${r.problems.length} problem(s) in ${r.events} event(s) (${span})`);
  for (const p of r.problems) lines.push(`  ${p.kind}: ${p.message}`);
  if (r.purgedThrough) lines.push(`  note: events #1–#${r.purgedThrough} were purged for retention (recorded in the log)`);
  if (r.unchained) lines.push(`  note: ${r.unchained} older row(s) were written before the chain existed and are not covered by it`);
  if (r.checkpoint) {
    const c = r.checkpoint;
    const what = c.status === 'ok' ? 'matches' : c.status === 'purged' ? 'cannot be checked (its events were purged for retention)' : 'does NOT match';
    lines.push(`  checkpoint of ${c.claim.at} (${c.claim.count} events, head ${c.claim.head.slice(0, 16)}…) ${what}`);
  }
  return `${lines.join('\n')}\n`;
}
