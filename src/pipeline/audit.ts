/**
 * What the pipeline tells the audit log: before delivery, every tracker found per copy (so
 * nothing leaves without its record); then what became of every recipient of every copy, with
 * that copy's own upstream reply (dispositions, src/delivery/dispositions.ts): from the
 * transaction, from each spool attempt, from an operator's `queue drop`. Addresses become keyed
 * hashes here; upstream replies are redacted.
 */
import type { AuditEvent, CampaignTemplateEvent, FindingEvent } from '../audit/events.js';
import type { AuditLog } from '../audit/log.js';
import { extractMailer } from '../audit/mailer.js';
import { readHead } from '../segments.js';
import { redactText, redactUrl } from '../audit/redact.js';
import { SqliteAuditLog } from '../audit/sqlite.js';
import type { LearnedTemplate } from '../rewrite/analysis/campaign.js';
import type { Disposition } from '../delivery/dispositions.js';
import { RelayError } from '../errors.js';
import type { ClassCopy, Transaction } from './relay.js';

export interface AuditRecorder {
  filtered(tx: Transaction, copies: readonly ClassCopy[], mode: 'enforce' | 'monitor', rulesVersion: string): Promise<void>;
  /** URL templates this transaction's copy taught the campaign store (host and path shape only). */
  learned(tx: Transaction, templates: readonly LearnedTemplate[]): Promise<void>;
  /** The transaction's dispositions (deliverTransaction's `record`): `relayed` rows carry the copy's details. */
  delivered(tx: Transaction, copies: readonly ClassCopy[], dispositions: readonly Disposition[], mode: 'enforce' | 'monitor', rulesVersion: string): Promise<void>;
  /** Dispositions after the transaction: spool attempts, bounces, drops. */
  later(dispositions: readonly Disposition[]): Promise<void>;
  /** Events that are not about a message (relay started, consent changed, subject requests, spool re-filtering); `subjects` the addresses behind their hashes. */
  record(events: readonly AuditEvent[], subjects?: readonly string[]): Promise<void>;
  /** Recipients accepted although they objected to contact (warn mode); nothing when there are none. */
  objected(tx: Transaction): Promise<void>;
  /** The pseudonym that stands for an address in the log. */
  recipientHash(address: string): string;
  close(): Promise<void>;
}

export function openAuditRecorder(dataDir: string): AuditRecorder {
  return auditRecorder(new SqliteAuditLog(dataDir));
}

/**
 * Group commit: appends requested in the same turn of the event loop (concurrent transactions)
 * go to the log in one transaction, one fsync, and every caller waits for that commit. A failed
 * commit fails every caller in it (each then answers 451: nothing was sent).
 */
function batched(log: AuditLog): (events: AuditEvent[], subjects: string[]) => Promise<void> {
  let pending: { events: AuditEvent[]; subjects: string[]; waiters: { resolve: () => void; reject: (e: unknown) => void }[] } | null = null;
  return (events, subjects) =>
    new Promise<void>((resolve, reject) => {
      if (!pending) {
        const batch = { events: [] as AuditEvent[], subjects: [] as string[], waiters: [] as { resolve: () => void; reject: (e: unknown) => void }[] };
        pending = batch;
        setImmediate(() => {
          pending = null;
          log.append(batch.events, batch.subjects).then(
            () => {
              for (const w of batch.waiters) w.resolve();
            },
            (err: unknown) => {
              for (const w of batch.waiters) w.reject(err);
            },
          );
        });
      }
      // loops, not push(...spread): a spread overflows the stack for a message with ~100k findings
      for (const e of events) pending.events.push(e);
      for (const s of subjects) pending.subjects.push(s);
      pending.waiters.push({ resolve, reject });
    });
}

export function auditRecorder(log: AuditLog): AuditRecorder {
  const append = batched(log);
  const hashes = (to: readonly string[]): string[] => to.map((a) => log.recipientHash(a));
  /** A disposition as an audit event; `relayed` without its copy's details (the transaction adds them). */
  const toEvent = (d: Disposition): AuditEvent => {
    const base = { at: new Date().toISOString(), queueId: d.queueId, consentClass: d.consentClass, recipientHashes: hashes(d.recipients) };
    const upstream = redactText(d.response);
    switch (d.type) {
      case 'relayed':
        // only a transaction relays, and delivered() records it with the copy's details
        throw new RelayError('AUDIT_UNAVAILABLE', `a relayed disposition of ${d.queueId} reached the audit log without its transaction`);
      case 'rejected':
        return { ...base, type: 'rejected', reason: redactText(d.reply), upstream };
      case 'spooled':
      case 'retried':
        return { ...base, type: d.type, spoolId: d.spoolId, attempt: d.attempt, upstream, nextAttemptAt: d.nextAttemptAt };
      case 'delivered-from-spool':
      case 'dropped':
        return { ...base, type: d.type, spoolId: d.spoolId, attempt: d.attempt, upstream };
      case 'bounced':
        return {
          ...base,
          type: 'bounced',
          spoolId: d.spoolId,
          attempt: d.attempt,
          upstream,
          cause: d.cause,
          dsn: d.dsn.fate,
          dsnRecipientHash: d.dsn.to === null ? null : log.recipientHash(d.dsn.to),
          dsnSpoolId: d.dsn.spoolId,
        };
    }
  };
  return {
    async filtered(tx, copies, mode) {
      const at = new Date().toISOString();
      const events: AuditEvent[] = [];
      for (const c of copies) {
        const recipientHashes = hashes(c.copy.envelope.to);
        // one row per distinct finding shape, with a count: a newsletter's 96 product links through
        // one redirector are one fact for an auditor, and one row instead of 96 on the hot path
        const rows = new Map<string, FindingEvent & { count: number }>();
        for (const f of c.findings) {
          const redactedUrl = redactUrl(f.auditUrl ?? f.url);
          const key = [f.kind, f.technique, f.vendor, f.ruleId, f.action, redactedUrl].join('\u0000');
          const row = rows.get(key);
          if (row) row.count++;
          else
            rows.set(key, {
              type: 'finding',
              at,
              queueId: tx.queueId,
              consentClass: c.copy.consentClass,
              recipientHashes,
              kind: f.kind,
              technique: f.technique,
              vendor: f.vendor,
              ruleId: f.ruleId,
              action: f.action,
              redactedUrl,
              count: 1,
              ...(f.note ? { note: redactText(f.note) } : {}),
              mode,
            });
        }
        for (const row of rows.values()) events.push(row);
      }
      if (events.length)
        await append(
          events,
          tx.recipients.map((r) => r.address),
        );
    },
    async delivered(tx, copies, dispositions, mode, rulesVersion) {
      const byClass = new Map(copies.map((c) => [c.copy.consentClass, c]));
      const mailer = extractMailer(await readHead(tx.raw, 65536));
      const events = dispositions.map((d): AuditEvent => {
        if (d.type !== 'relayed') return toEvent(d);
        const c = byClass.get(d.consentClass);
        return {
          type: 'relayed',
          at: new Date().toISOString(),
          queueId: d.queueId,
          consentClass: d.consentClass,
          recipientHashes: hashes(d.recipients),
          messageId: c?.copy.messageId ?? null,
          sender: tx.from,
          ...(tx.trace.auth ? { authUser: tx.trace.auth.user } : {}),
          recipientCount: d.recipients.length,
          upstream: redactText(d.response),
          rulesVersion,
          mode,
          findingCount: c?.findings.length ?? 0,
          mailer,
        };
      });
      await append(
        events,
        tx.recipients.map((r) => r.address),
      );
    },
    async objected(tx) {
      if (!tx.objected?.length) return;
      const event: AuditEvent = { type: 'do-not-contact', at: new Date().toISOString(), queueId: tx.queueId, consentClass: '', recipientHashes: hashes(tx.objected), mode: 'warn' };
      await append([event], [...tx.objected]);
    },
    recipientHash: (address) => log.recipientHash(address),
    async learned(tx, templates) {
      if (!templates.length) return;
      const at = new Date().toISOString();
      const events = templates.map(
        (t): CampaignTemplateEvent => ({
          type: 'campaign-template',
          at,
          queueId: tx.queueId,
          consentClass: '',
          recipientHashes: [],
          campaign: t.campaign,
          host: t.host,
          pathShape: t.pathShape,
          positions: t.positions,
          copies: t.copies,
        }),
      );
      await append(events, []);
    },
    async later(dispositions) {
      const subjects = dispositions.flatMap((d) => [...d.recipients, ...(d.type === 'bounced' && d.dsn.to !== null ? [d.dsn.to] : [])]);
      await append(dispositions.map(toEvent), subjects);
    },
    async record(events, subjects = []) {
      if (events.length) await append([...events], [...subjects]);
    },
    close: () => log.close(),
  };
}
