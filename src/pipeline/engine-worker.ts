/**
 * The engine inside a worker thread of the pool (engine-pool.ts). Loaded by piscina from dist/
 * (it cannot load TypeScript); each thread loads the rules once, from the compiled artefact.
 *
 * Contract: the task's input arrives as segments (src/segments.ts): file ranges the worker reads
 * itself, bytes in memory as a structured clone. The output goes back as segments (the edited
 * parts as bytes, cloned; everything else as ranges of the input). Errors come back as values
 * (code, message, stack): a thrown RelayError would lose its code crossing the thread boundary.
 */
import { threadId, workerData } from 'node:worker_threads';
import { asRelayError, type ErrorCode } from '../errors.js';
import { rewriteMessage, rewriteSegments, type Limits } from '../rewrite/engine.js';
import type { Segments } from '../segments.js';
import type { EnginePolicy } from '../rewrite/detectors/types.js';
import { loadRules } from '../rewrite/rules/index.js';
import type { Consent, Finding } from '../rewrite/types.js';

export interface WorkerData {
  readonly rulesFile?: string;
}

export interface EngineTask {
  readonly input: Segments;
  readonly consent: Consent;
  readonly recipients: readonly string[];
  readonly limits: Partial<Limits>;
  readonly policy: Partial<EnginePolicy>;
  /** Slot 0: the thread id of the worker running the task, written when it starts (the pool's CPU-budget watch). */
  readonly started: Int32Array;
}

export type EngineReply =
  | { readonly ok: true; readonly changed: false; readonly findings: Finding[]; readonly inspectedBytes: number }
  | { readonly ok: true; readonly changed: true; readonly output: Segments; readonly findings: Finding[]; readonly inspectedBytes: number }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly stack?: string };

const rules = loadRules((workerData as WorkerData | undefined)?.rulesFile);

// One small message through every stage before the first task: the first real message would
// otherwise pay for compiling the engine's code and the rule tables' regexes (tens of ms), and be
// charged for it against its CPU budget.
const WARM_UP = Buffer.from(
  [
    'From: a@example.com',
    'To: b@example.org',
    'Subject: warm-up',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Hello https://example.us5.list-manage.com/track/click?u=1&id=2&e=3',
    '',
    '--b',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<html><body><a href=3D"https://example.us5.list-manage.com/track/click?u=1&id=2&e=3">Read</a> <a href=3D"https://example.com/unsubscribe?e=3Db@example.org">Unsubscribe</a>',
    '<img src=3D"https://u1.ct.sendgrid.net/wf/open?upn=3Dabc" width=3D"1" height=3D"1"><p style=3D"background:url(https://t.example.net/o.gif)">x</p></body></html>',
    '',
    '--b--',
    '',
  ].join('\r\n'),
);
await rewriteMessage(WARM_UP, { consent: { opens: false, clicks: false }, rules, recipients: ['b@example.org'] }).catch(() => undefined);

export default async function filter(task: EngineTask): Promise<unknown> {
  Atomics.store(task.started, 0, threadId);
  try {
    const r = await rewriteSegments(task.input, { consent: task.consent, rules, recipients: task.recipients, limits: task.limits, policy: task.policy });
    // unchanged: the caller still holds the input, nothing needs to travel back
    if (!r.changed) return { ok: true, changed: false, findings: r.findings, inspectedBytes: r.inspectedBytes } satisfies EngineReply;
    return { ok: true, changed: true, output: r.output, findings: r.findings, inspectedBytes: r.inspectedBytes } satisfies EngineReply;
  } catch (err) {
    const e = asRelayError(err, 'FILTER_FAILED', 'message could not be filtered');
    const cause = e.cause instanceof Error ? e.cause : e;
    return { ok: false, code: e.code, message: e.message, ...(cause.stack ? { stack: cause.stack } : {}) } satisfies EngineReply;
  }
}
