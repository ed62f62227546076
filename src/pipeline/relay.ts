/**
 * One SMTP transaction's journey after DATA: partition recipients by consent class, run the
 * engine once per class, hand the copies to delivery, audit what was removed and what the
 * upstream said. Returns the reply the client gets.
 *
 * Fail closed: if the engine or the audit log fails before delivery, nothing is sent. The reply
 * then says whether retrying can help (src/errors.ts): content the filter cannot read is a 5xx
 * naming the part, a store that cannot answer a 4xx, and our own bug a 451 with the queue id.
 * `raw` is canonical (CRLF only, made so at DATA) and each copy is handed to the upstream as the
 * engine returned it.
 */
import type { Logger } from 'pino';
import type { Spool } from '../delivery/spool.js';
import { deliverTransaction, type Reply, type TransactionOptions } from '../delivery/transaction.js';
import type { Copy } from '../delivery/types.js';
import type { Upstream } from '../delivery/upstream.js';
import { RelayError, asRelayError } from '../errors.js';
import { bugReport } from '../log.js';
import type { CampaignStore } from '../campaign/store.js';
import type { LearnedTemplate } from '../rewrite/analysis/campaign.js';
import { receivedHeader, type TraceInfo } from './received.js';
import { senderVouch } from './vouch.js';
import type { SenderVouch } from '../delivery/dsnPolicy.js';
import type { Limits, RewriteOptions, SegmentsResult } from '../rewrite/engine.js';
import { readHead, segmentsCanonical, type Segment, type Segments } from '../segments.js';
import type { RuleSet } from '../rewrite/rules/types.js';
import type { EnginePolicy } from '../rewrite/detectors/types.js';
import { consentClass, type Consent, type Finding, type MessageLinks } from '../rewrite/types.js';
import type { AuditRecorder } from './audit.js';

/**
 * The engine as the pipeline calls it: the message as segments in (src/segments.ts: bytes in
 * memory and file ranges), segments out. Input and output are plain data, so the engine can run
 * in a worker thread given the same file paths; default `rewriteSegments`.
 */
export type Engine = (input: Segments, opts: RewriteOptions) => Promise<SegmentsResult>;

export interface RelayDeps {
  readonly rules: RuleSet;
  readonly engine: Engine;
  readonly upstream: Upstream;
  readonly spool: Spool;
  readonly audit: AuditRecorder;
  readonly mode: 'enforce' | 'monitor';
  readonly limits: Partial<Limits>;
  readonly policy: EnginePolicy;
  readonly logger: Logger;
  readonly delivery: TransactionOptions;
  /** Learn per-recipient URL positions across the copies of a campaign; absent when `campaign.enabled` is false. */
  readonly campaigns?: CampaignStore;
  /** The relay's HTTP side places links in copies (gate, ask, notice, opt-in placeholder); absent without http.listen. */
  readonly links?: CopyLinks;
}

/** Links for one copy: for a whole consent class (no one's own links), or for one recipient. */
export interface CopyLinks {
  forClass(): MessageLinks;
  forRecipient(address: string): MessageLinks;
}

interface Recipient {
  readonly address: string;
  readonly consent: Consent;
}

export interface Transaction {
  /** Our id for the transaction: in logs, audit rows and the 250 reply. */
  readonly queueId: string;
  readonly from: string;
  readonly recipients: readonly Recipient[];
  /** The canonical message: one buffer, or a file range for a message received into a file. */
  readonly raw: Segments;
  /** Who handed the message over: every copy leaves with a Received: header saying so. */
  readonly trace: TraceInfo;
  /** Set by a listener that vouches for the sender in a way `trace` does not show (vouch.ts); DSNs go only to vouched senders. */
  readonly senderVouch?: SenderVouch;
  /** Recipients accepted although they objected to contact (rights.doNotContact.mode: warn): recorded before delivery. */
  readonly objected?: readonly string[];
}

export interface ClassCopy {
  readonly copy: Copy;
  readonly consent: Consent;
  readonly findings: readonly Finding[];
  readonly changed: boolean;
}

export async function relayMessage(deps: RelayDeps, tx: Transaction): Promise<Reply> {
  const log = deps.logger.child({ queueId: tx.queueId });
  const messageId = extractMessageId(await readHead(tx.raw, 65536));

  let copies: ClassCopy[];
  const learned: LearnedTemplate[] = [];
  try {
    copies = await filterByClass(deps, tx, messageId, learned);
  } catch (err) {
    const e = asRelayError(err, 'FILTER_FAILED', 'message could not be filtered');
    if (e.code !== 'FILTER_FAILED') {
      log.warn({ code: e.code, reason: e.message }, 'message refused: cannot be filtered, not delivered');
      throw e;
    }
    // the engine's bug, not the message's fault: the client gets a generic 451, the operator the stack
    log.error({ code: e.code, ...bugReport(e.cause ?? e) }, 'message refused: internal error while filtering, not delivered');
    throw internalFailure(tx.queueId, e);
  }

  // what was removed is on record before anything leaves: no audit, no delivery
  try {
    await Promise.all([deps.audit.filtered(tx, copies, deps.mode, deps.rules.version), deps.audit.learned(tx, learned), deps.audit.objected(tx)]);
  } catch (err) {
    const e = asRelayError(err, 'AUDIT_UNAVAILABLE', 'audit log unavailable, try again later');
    log.error({ code: e.code, reason: e.message }, 'message refused: audit log unavailable');
    throw e;
  }

  // every recipient's fate is on record before the client hears it; a failed write is reported
  // (delivery event 'audit-failed', logged loudly), since by then the message is ours or refused
  const reply = await deliverTransaction(
    copies.map((c) => c.copy),
    deps.upstream,
    deps.spool,
    {
      ...deps.delivery,
      queueId: tx.queueId,
      record: (dispositions) => deps.audit.delivered(tx, copies, dispositions, deps.mode, deps.rules.version),
    },
  );
  log.info(
    { classes: copies.map((c) => ({ class: c.copy.consentClass || 'none', recipients: c.copy.envelope.to.length, findings: c.findings.length, changed: c.changed })), reply: reply.code },
    'transaction done',
  );
  return reply;
}

async function filterByClass(deps: RelayDeps, tx: Transaction, messageId: string | null, learned: LearnedTemplate[]): Promise<ClassCopy[]> {
  const classes = new Map<string, { consent: Consent; to: string[] }>();
  for (const r of tx.recipients) {
    const key = consentClass(r.consent);
    const entry = classes.get(key) ?? { consent: r.consent, to: [] };
    entry.to.push(r.address);
    classes.set(key, entry);
  }
  const out: ClassCopy[] = [];
  // one context for every class: the store counts the message once, however often it is filtered
  const campaign = deps.campaigns ? { store: deps.campaigns, sender: tx.from, onLearned: (t: LearnedTemplate) => void learned.push(t) } : undefined;
  // copies whose Received: header is the same (all but single-recipient ones) share one buffer
  const traced = new Map<string, Segment[]>();
  const senderVouched = senderVouch(tx) !== 'none';
  const filter = async (key: string, consent: Consent, to: readonly string[], links: MessageLinks | undefined): Promise<{ copy: ClassCopy; personal: boolean }> => {
    // prepended before the engine runs, so the bytes it returns (those delivered) carry it; the
    // engine passes header blocks through, and full consent and monitor mode send this buffer
    const header = receivedHeader(tx.trace, tx.queueId, to.length === 1 ? to[0]! : null);
    let input = traced.get(header);
    if (!input) {
      input = [Buffer.from(header, 'latin1'), ...tx.raw];
      traced.set(header, input);
    }
    const result = await deps.engine(input, { consent, rules: deps.rules, recipients: to, limits: deps.limits, policy: deps.policy, ...(campaign ? { campaign } : {}), ...(links ? { links } : {}) });
    if (!result || !Array.isArray(result.output)) throw new RelayError('FILTER_FAILED', 'engine returned no message');
    // nodemailer makes bare CR/LF into CRLF on the way out: bytes that are not canonical would
    // reach the upstream different from what was inspected
    if (!(await segmentsCanonical(result.output))) throw new RelayError('FILTER_FAILED', 'engine returned bare line endings; not sending bytes that would change on the way out');
    // monitor mode: everyone gets the original; the findings say what enforce would have removed
    const raw = deps.mode === 'monitor' ? input : result.output;
    const copy = {
      copy: { consentClass: key, envelope: { from: tx.from, to: [...to] }, raw, messageId, senderVouched },
      consent,
      findings: result.findings,
      changed: deps.mode === 'enforce' && result.changed,
    };
    return { copy, personal: result.personal === true };
  };
  for (const [key, { consent, to }] of classes) {
    const links = deps.links && (to.length === 1 ? deps.links.forRecipient(to[0]!) : deps.links.forClass());
    const first = await filter(key, consent, to, links);
    // one copy per recipient only where the copy carries someone's own links (the opt-in
    // placeholder, the gate, the notice); everyone else shares the class copy
    if (first.personal && deps.links && to.length > 1 && deps.mode === 'enforce') {
      for (const r of to) out.push((await filter(key, consent, [r], deps.links.forRecipient(r))).copy);
    } else out.push(first.copy);
  }
  return out;
}

/** The reply for our own bug: not the sender's fault, so retry later, and the id to report it with. */
export function internalFailure(queueId: string, cause: unknown): RelayError {
  return new RelayError('FILTER_FAILED', `local error in processing (queue id ${queueId}); nothing was sent. Try again later; if it persists, give this queue id to the relay's operator`, { cause });
}

/** The Message-ID header of the top-level header block, for audit rows and the queue listing. */
function extractMessageId(raw: Buffer): string | null {
  const headEnd = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, headEnd < 0 ? Math.min(raw.length, 65536) : headEnd).toString('latin1');
  const m = /^message-id:[ \t]*((?:.|\r?\n[ \t])*)/im.exec(head);
  const v = m?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
  return v ? v.slice(0, 998) : null;
}
