/**
 * The engine off the event loop: a pool of worker threads (piscina), one message at a time per
 * thread, `engine.workers` threads (default: one per core; 0 runs the engine inline, on the
 * thread that speaks SMTP, for tests and debugging). The pool offers the same `Engine` function
 * the relay calls, so the pipeline does not know where the engine runs.
 *
 * CPU budget: each message may keep a worker busy for `engine.cpuBudget` at most. The watch reads
 * the worker's busy time (event-loop active time: the time it runs JavaScript, not the time it
 * waits in the queue or for a file) and terminates a worker that goes over; piscina starts a new
 * one, the other messages never wait for it. The message is refused with FILTER_TIME_BUDGET (554
 * 5.3.4, see src/errors.ts). Busy time equals CPU time on a machine that is not oversubscribed; on
 * one that is, it errs on the side of refusing earlier, which the generous default allows for.
 *
 * Copies: the message crosses as segments (src/segments.ts). A message received into a file is a
 * file range: only {path, start, end} crosses, and the worker reads the file itself (holding only
 * the parts it inspects). A message in memory (at most smtp/data.ts SPILL_AT) crosses as a
 * structured clone. The output comes back as segments too: the re-encoded parts as bytes, the
 * rest as ranges of the input; an unchanged message does not come back at all (the caller still
 * has it).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { RelayError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { rewriteSegments, type RewriteOptions, type SegmentsResult } from '../rewrite/engine.js';
import type { Segments } from '../segments.js';
import type { EngineReply, EngineTask, WorkerData } from './engine-worker.js';
import type { Engine } from './relay.js';

export interface EnginePoolOptions {
  /** Worker threads; 0: the engine runs inline (no budget enforcement). Default: the number of cores. */
  readonly workers?: number;
  /** Busy time one message may take in a worker, in ms. */
  readonly cpuBudgetMs: number;
  /** The rules file the workers load (config `rules.file`); default the shipped one. */
  readonly rulesFile?: string;
}

export interface EnginePool {
  readonly engine: Engine;
  /** Worker threads (0: inline). */
  readonly size: number;
  /** Stops the workers; messages still running are refused. */
  close(): Promise<void>;
}

/** Where the compiled worker lives: piscina loads it from dist/, also when the caller runs from src/ (vitest). */
function workerFile(): string {
  return join(packageRoot(), 'dist', 'src', 'pipeline', 'engine-worker.js');
}

function defaultWorkers(): number {
  return availableParallelism();
}

interface Running {
  readonly started: Int32Array;
  readonly abort: AbortController;
  worker?: Worker;
  elu0?: EventLoopUtilization;
  exceeded: boolean;
}

export function createEnginePool(opts: EnginePoolOptions): EnginePool {
  const size = opts.workers ?? defaultWorkers();
  if (size === 0) return { engine: rewriteSegments, size: 0, close: async () => {} };

  const workerData: WorkerData = opts.rulesFile ? { rulesFile: opts.rulesFile } : {};
  const pool = new Piscina({
    filename: pathToFileURL(workerFile()).href,
    minThreads: size,
    maxThreads: size,
    concurrentTasksPerWorker: 1,
    idleTimeout: 2 ** 31 - 1,
    workerData,
  });
  const budget = opts.cpuBudgetMs;
  const running = new Set<Running>();
  // one watch for all messages in flight, a few times per budget (a 1 s budget: every 250 ms)
  const every = Math.min(250, Math.max(5, Math.floor(budget / 4)));
  let timer: NodeJS.Timeout | null = null;

  const sweep = (): void => {
    for (const t of running) {
      if (!t.worker) {
        const id = Atomics.load(t.started, 0);
        if (id === 0) continue; // still queued: waiting is not the message's cost
        t.worker = pool.threads.find((w) => w.threadId === id);
        if (t.worker) t.elu0 = t.worker.performance.eventLoopUtilization();
        continue;
      }
      let busy: number;
      try {
        busy = t.worker.performance.eventLoopUtilization(t.elu0).active;
      } catch {
        continue; // the worker is gone; its task settles on its own
      }
      if (busy > budget) {
        t.exceeded = true;
        running.delete(t);
        t.abort.abort(); // piscina terminates the worker and starts another
      }
    }
    if (running.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };

  const engine: Engine = async (input: Segments, ropts: RewriteOptions): Promise<SegmentsResult> => {
    // full consent: nothing to do, nothing to send across
    if (ropts.consent.opens && ropts.consent.clicks && !ropts.links) return { output: input, findings: [], changed: false, inspectedBytes: 0 };
    // the campaign store (SQLite, with callbacks) and the HTTP side's link makers (functions) live on this thread
    if (ropts.campaign || ropts.links) return rewriteSegments(input, ropts);
    const task: EngineTask = {
      input,
      consent: ropts.consent,
      recipients: ropts.recipients ?? [],
      limits: ropts.limits ?? {},
      policy: ropts.policy ?? {},
      started: new Int32Array(new SharedArrayBuffer(4)),
    };
    const t: Running = { started: task.started, abort: new AbortController(), exceeded: false };
    running.add(t);
    timer ??= setInterval(sweep, every).unref();
    let reply: EngineReply;
    try {
      reply = (await pool.run(task, { signal: t.abort.signal })) as EngineReply;
    } catch (err) {
      if (t.exceeded) {
        throw new RelayError('FILTER_TIME_BUDGET', `filtering took more than the ${budget} ms CPU budget (engine.cpuBudget)`);
      }
      throw new RelayError('FILTER_FAILED', `engine worker failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      running.delete(t);
    }
    if (!reply.ok) {
      const cause = Object.assign(new Error(reply.message), reply.stack ? { stack: reply.stack } : {});
      throw new RelayError(reply.code, reply.message, { cause });
    }
    if (!reply.changed) return { output: input, findings: reply.findings, changed: false, inspectedBytes: reply.inspectedBytes };
    return { output: reply.output, findings: reply.findings, changed: true, inspectedBytes: reply.inspectedBytes };
  };

  return {
    engine,
    size,
    async close() {
      if (timer) clearInterval(timer);
      await pool.destroy();
    },
  };
}
