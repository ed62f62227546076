/**
 * Composition root: configuration -> stores -> pipeline -> listeners. Everything the relay runs
 * is built here, once, and torn down in reverse order on close.
 */
import { once } from 'node:events';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { splitHostPort } from './config/load.js';
import type { Config } from './config/schema.js';
import { SqliteCampaignStore } from './campaign/sqlite.js';
import type { CampaignStore } from './campaign/store.js';
import { SqliteConsentStore } from './consent/sqlite.js';
import type { ConsentStore } from './consent/store.js';
import type { DeliveryEvent } from './delivery/events.js';
import { Spool } from './delivery/spool.js';
import { SpoolWorker } from './delivery/spoolWorker.js';
import { probeUpstream } from './delivery/probe.js';
import { createUpstream, upstreamSecurityFromSettings } from './delivery/upstreamConfig.js';
import { relayStartedEvent } from './audit/config.js';
import { redactText } from './audit/redact.js';
import { RelayError } from './errors.js';
import { openAuditRecorder } from './pipeline/audit.js';
import { createEnginePool } from './pipeline/engine-pool.js';
import { SqliteAuditLog } from './audit/sqlite.js';
import { purgeExpired, startPurgeTimer } from './rights/retention.js';
import { spoolRefilter } from './pipeline/refilter.js';
import type { Engine } from './pipeline/relay.js';
import { loadRules } from './rewrite/rules/index.js';
import { SubmissionAuth } from './smtp/auth.js';
import { listenerTls, resolveListeners, type ListenerMode } from './smtp/listeners.js';
import { SqliteUserStore } from './users/sqlite.js';
import type { UserStore } from './users/store.js';
import { MemoryBudget, messageCost } from './smtp/budget.js';
import { SPILL_AT } from './smtp/data.js';
import { createListener, type Listener } from './smtp/server.js';
import { PRIVATE_DIR_MODE, checkDataDir } from './store/dataDir.js';
import { M, Metrics, countingAudit, needsWeb, startWeb, type WebHandle } from './web/index.js';

export interface RelayHandle {
  /** Where each listener actually listens (port 0 in the config resolves here), in config order. */
  readonly addresses: readonly { host: string; port: number; mode: ListenerMode }[];
  /**
   * Re-read every listener's certificate files (SIGHUP). New handshakes use them; sessions already
   * encrypted keep theirs. A listener whose files cannot be read keeps its old certificate and is
   * listed in `failed` (one line each, what to fix).
   */
  reloadTls(): { reloaded: number; failed: string[] };
  readonly worker: SpoolWorker;
  readonly spool: Spool;
  /** The HTTP side (pages, gate, /metrics), when http.listen is set. */
  readonly web: WebHandle | null;
  readonly metrics: Metrics;
  /** Stop accepting, finish transactions in flight, stop retrying, close stores. */
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger: Logger;
  /** Replace the stripping engine (tests inject failures here). */
  readonly engine?: Engine;
  /** Use this consent store instead of the SQLite one under dataDir (another backend, or a test's failing one). */
  readonly consentStore?: ConsentStore;
  /** Use this campaign store instead of the SQLite one (another backend, or a test's failing one); only with campaign.enabled. */
  readonly campaignStore?: CampaignStore;
  /** Use this user store instead of `<dataDir>/users.db` (another backend); only with submission listeners. */
  readonly userStore?: UserStore;
}

export async function startRelay(config: Config, opts: StartOptions): Promise<RelayHandle> {
  const log = opts.logger;
  // every listener is checked, and its certificate read, before anything is opened
  const specs = resolveListeners(config.listeners);
  const tlsAtStart = specs.map(listenerTls);
  // every message of up to SPILL_AT is held in memory whole: the budget must hold one
  if (messageCost(SPILL_AT) > config.limits.memoryBudget) {
    throw new RelayError(
      'CONFIG_INVALID',
      `limits.memoryBudget (${config.limits.memoryBudget} bytes) is less than what one ${SPILL_AT}-byte message costs (${messageCost(SPILL_AT)} bytes); no message could be processed`,
    );
  }
  // before any store: a setting that would send mail or a password in clear text is refused (exit 78)
  const up = splitHostPort(config.upstream.address);
  const upstreamSettings = { ...config.upstream, ...up };
  const upstreamSecurity = upstreamSecurityFromSettings(upstreamSettings);
  for (const w of upstreamSecurity.warnings) log.warn({ upstream: config.upstream.address }, w);
  // a data directory others can read is refused (exit 78), a missing one made 0700
  checkDataDir(config.dataDir, { create: true });
  const spillDir = await openSpillDir(config.dataDir);
  const budget = new MemoryBudget(config.limits.memoryBudget);
  const rules = loadRules(config.rules.file);
  const consent = opts.consentStore ?? new SqliteConsentStore(config.dataDir);
  const metrics = new Metrics();
  let users: UserStore | undefined;
  let audit: ReturnType<typeof openAuditRecorder>;
  let spool: Spool;
  let campaigns: CampaignStore | undefined;
  try {
    audit = countingAudit(openAuditRecorder(config.dataDir), metrics);
    try {
      // the chain records what was in force before any message is accepted under it
      await audit.record([relayStartedEvent(config, rules.version)]);
      spool = await Spool.open(config.dataDir);
      if (specs.some((s) => s.mode === 'submission')) users = opts.userStore ?? new SqliteUserStore(config.dataDir);
      if (config.campaign.enabled) {
        const c = config.campaign;
        campaigns = opts.campaignStore ?? new SqliteCampaignStore(config.dataDir, { limits: { windowMs: c.window, maxCampaigns: c.maxCampaigns, maxUrlsPerCampaign: c.maxUrlsPerCampaign } });
      }
    } catch (err) {
      await users?.close();
      await audit.close();
      throw err;
    }
  } catch (err) {
    // a store that opened is closed again: a failed start leaves no database handle behind
    await consent.close();
    throw err;
  }
  const upstream = createUpstream(upstreamSettings, upstreamSecurity, config.hostname, log);
  const onEvent = (e: DeliveryEvent): void => {
    const level = e.type === 'worker-error' || e.type === 'dsn-undeliverable' || e.type === 'audit-failed' ? 'error' : 'info';
    // upstream replies quoted in events can name a recipient ("<bob@x>: mailbox full")
    const safe = Object.fromEntries(Object.entries(e).map(([k, v]) => [k, typeof v === 'string' ? redactText(v) : v]));
    log[level]({ event: safe }, `delivery: ${e.type}`);
  };
  const policy = { initialDelayMs: config.spool.retryInitial, factor: config.spool.retryFactor, maxDelayMs: config.spool.retryMax, giveUpAfterMs: config.spool.giveUpAfter };
  const refilter = spoolRefilter({
    // the pool is made below; the worker asks only once it runs
    engine: (raw, o) => (opts.engine ?? pool.engine)(raw, o),
    rules,
    limits: { maxDepth: config.limits.maxMimeDepth, maxParts: config.limits.maxMimeParts },
    policy: { keepCampaignParams: config.policy.keepCampaignParams, readReceipts: config.policy.readReceipts },
    mode: config.policy.mode,
    consent,
    spool,
    audit,
  });
  const worker = new SpoolWorker({ spool, upstream, reportingMta: config.hostname, policy, pollIntervalMs: config.spool.scanInterval, onEvent, record: (d) => audit.later(d), refilter });
  let web: WebHandle | null = null;
  if (config.http.listen || needsWeb(config)) {
    try {
      web = await startWeb(config, { consent, metrics, logger: log });
    } catch (err) {
      await Promise.all([upstream.close(), consent.close(), audit.close(), campaigns?.close(), users?.close()]);
      throw err;
    }
  }
  const listeners: Listener[] = [];
  // worker threads for the engine; campaign learning needs its store on this thread, so inline
  const pool = createEnginePool({
    workers: opts.engine || config.campaign.enabled ? 0 : config.engine.workers,
    cpuBudgetMs: config.engine.cpuBudget,
    ...(config.rules.file ? { rulesFile: config.rules.file } : {}),
  });
  // how long the SMTP side waited for the event loop (the engine's pool exists to keep this low):
  // logged when the relay stops, read by `npm run bench`
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const addresses: { host: string; port: number; mode: ListenerMode }[] = [];
  const a = config.auth;
  const auth = users
    ? new SubmissionAuth(
        users,
        {
          maxFailuresPerIp: a.maxFailuresPerIp,
          maxFailuresPerUser: a.maxFailuresPerUser,
          failureWindowMs: a.failureWindow,
          lockoutMs: a.lockout,
          failureDelayMs: a.failureDelay,
          maxCommandsBeforeAuth: a.maxCommandsBeforeAuth,
          userMessagesPerMinute: a.userMessagesPerMinute,
          userRecipientsPerMinute: a.userRecipientsPerMinute,
        },
        log,
      )
    : undefined;
  const relayDeps = {
    rules,
    engine: opts.engine ?? pool.engine,
    upstream,
    spool,
    audit,
    mode: config.policy.mode,
    limits: { maxDepth: config.limits.maxMimeDepth, maxParts: config.limits.maxMimeParts },
    policy: { keepCampaignParams: config.policy.keepCampaignParams, readReceipts: config.policy.readReceipts },
    logger: log,
    delivery: { reportingMta: config.hostname, firstRetryDelayMs: config.spool.retryInitial, onSpooled: () => void worker.kick(), onEvent },
    ...(campaigns ? { campaigns } : {}),
    ...(web ? { links: web.copyLinks } : {}),
  };
  try {
    for (const [i, spec] of specs.entries()) {
      const { host, port } = spec;
      const listener = createListener({
        spec,
        tls: tlsAtStart[i]!,
        ...(auth ? { auth } : {}),
        hostname: spec.hostname ?? config.hostname,
        maxMessageSize: config.limits.maxMessageSize,
        bareLineEndings: config.smtp.bareLineEndings,
        maxRecipients: config.limits.maxRecipients,
        maxClients: config.limits.maxClients,
        fairness: {
          maxConnectionsPerIp: config.smtp.maxConnectionsPerIp,
          reservedConnections: config.smtp.reservedConnections,
          maxCommands: config.smtp.maxCommands,
          commandTimeoutMs: config.smtp.commandTimeout,
          dataTimeoutMs: config.smtp.dataTimeout,
          minDataRate: config.smtp.minDataRate,
          dataRateGraceMs: config.smtp.dataRateGrace,
          evictIdleAfterMs: config.smtp.evictIdleAfter,
        },
        idleTimeoutMs: config.smtp.idleTimeout,
        budget,
        memoryWaitMs: config.limits.memoryWait,
        spillDir,
        consent,
        doNotContact: config.rights.doNotContact,
        relay: relayDeps,
        logger: log,
      });
      listener.server.listen(port, host);
      await Promise.race([
        once(listener.server.server, 'listening'),
        once(listener.server, 'error').then(([err]) => {
          throw new RelayError('CONFIG_INVALID', `${spec.where}: cannot listen on ${spec.address}: ${(err as Error).message}`);
        }),
      ]);
      const addr = listener.server.server.address() as AddressInfo;
      listeners.push(listener);
      addresses.push({ host: addr.address, port: addr.port, mode: spec.mode });
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => new Promise<void>((r) => l.server.close(() => r()))));
    await web?.close();
    await pool.close();
    await upstream.close();
    await users?.close();
    await consent.close();
    await audit.close();
    await campaigns?.close();
    throw err;
  }
  metrics.gauge(M.spool[0], M.spool[1], async () => (await spool.list()).length);
  worker.start();
  const purger = startPurgeTimer({
    intervalMs: config.retention.purgeInterval,
    run: async () => {
      const log = new SqliteAuditLog(config.dataDir);
      try {
        return await purgeExpired({ consent, audit: log, dataDir: config.dataDir, skipIncoming: true }, config.retention);
      } finally {
        await log.close();
      }
    },
    onResult: (r) => log.info({ purged: r }, 'retention: expired data purged'),
    onError: (err) => log.error({ err: err instanceof Error ? err.message : String(err) }, 'retention: purge failed; retried at the next interval'),
  });
  // not awaited: the relay serves (and spools) whether or not the upstream is up yet
  void probeUpstream(up.host, up.port, { implicitTls: upstreamSecurity.transport === 'implicit' }).then((r) => {
    if (!r.ok)
      log.warn(
        { upstream: config.upstream.address, reason: r.reason },
        `upstream ${config.upstream.address} does not answer (${r.reason}): messages get 451 and wait in the spool until it does. Without an MTA, try: consent-relay sink, then serve --upstream 127.0.0.1:2526`,
      );
  });
  log.info(
    {
      listen: addresses.map((a) => `${a.host}:${a.port}`),
      upstream: config.upstream.address,
      upstreamTls: upstreamSecurity.summary,
      dataDir: config.dataDir,
      mode: config.policy.mode,
      rules: rules.version,
      engineWorkers: pool.size,
    },
    `consent-relay listening on ${addresses.map((a) => `${a.host}:${a.port}`).join(', ')}, delivering to ${config.upstream.address} (${config.policy.mode} mode)`,
    {
      listen: addresses.map((a) => `${a.mode} ${a.host}:${a.port}`),
      upstream: config.upstream.address,
      upstreamTls: upstreamSecurity.summary,
      dataDir: config.dataDir,
      mode: config.policy.mode,
      rules: rules.version,
    },
    `consent-relay listening on ${addresses.map((a) => `${a.host}:${a.port}${a.mode === 'local' ? '' : ` (${a.mode})`}`).join(', ')}, delivering to ${config.upstream.address} (${config.policy.mode} mode)`,
  );

  let closing: Promise<void> | null = null;
  return {
    addresses,
    worker,
    spool,
    web,
    metrics,
    reloadTls() {
      let reloaded = 0;
      const failed: string[] = [];
      for (const l of listeners) {
        if (!l.spec.tlsFiles) continue;
        try {
          l.reloadTls(listenerTls(l.spec)!);
          reloaded++;
        } catch (err) {
          failed.push(err instanceof RelayError ? err.reason : `${l.spec.where}: ${String(err)}`);
        }
      }
      log.info({ reloaded, failed: failed.length }, 'TLS certificates reloaded');
      for (const f of failed) log.error({ reason: f }, 'TLS reload failed; the listener keeps its previous certificate');
      return { reloaded, failed };
    },
    close(): Promise<void> {
      closing ??= (async () => {
        // 1. no new transactions (new connections and MAIL get 421), 2. every transaction already
        // past DATA gets its reply, 3. only then are the (now idle) sessions closed: closing
        // earlier would cut a client off after we delivered, and its retry would deliver twice
        for (const l of listeners) l.drain();
        while (listeners.some((l) => l.inFlight() > 0)) await new Promise((r) => setTimeout(r, 20));
        await Promise.all(listeners.map((l) => new Promise<void>((r) => l.server.close(() => r()))));
        while (listeners.some((l) => l.inFlight() > 0)) await new Promise((r) => setTimeout(r, 20));
        await purger.stop();
        await worker.stop();
        await web?.close();
        await pool.close();
        await upstream.close();
        await users?.close();
        await consent.close();
        await audit.close();
        await campaigns?.close();
        loopDelay.disable();
        const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
        log.info({ eventLoopDelayMs: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) } }, 'consent-relay stopped');
      })();
      return closing;
    },
  };
}

/**
 * `<dataDir>/incoming`: messages being received that are too large to hold in memory. Private
 * (0700), and emptied at start: what is left there is from a transaction that never got a 250.
 */
async function openSpillDir(dataDir: string): Promise<string> {
  const dir = join(dataDir, 'incoming');
  try {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: PRIVATE_DIR_MODE });
    await chmod(dir, PRIVATE_DIR_MODE);
  } catch (err) {
    throw new RelayError('CONFIG_INVALID', `cannot prepare ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return dir;
}
