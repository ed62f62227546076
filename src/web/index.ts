/**
 * The HTTP side, assembled: keys, link subjects, wording, the fastify server, and the link maker
 * the pipeline uses. `startWeb` is called by the composition root (src/main.ts) when
 * `http.listen` is set, and closed with the relay.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

import { auditConsentChanges } from '../audit/consent.js';
import { SqliteAuditLog } from '../audit/sqlite.js';
import type { AuditRecorder } from '../pipeline/audit.js';
import type { CopyLinks } from '../pipeline/relay.js';
import type { MessageLinks } from '../rewrite/types.js';
import { splitHostPort } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { ConsentStore } from '../consent/store.js';
import { RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import { KeyRing } from './keys.js';
import { WebLinks } from './links.js';
import { M, type Metrics } from './metrics.js';
import { buildWebServer } from './server.js';
import { LinkSubjects } from './subjects.js';
import { loadWording, type Wording } from './wording.js';

export { M, Metrics } from './metrics.js';

/** Features that put links to the HTTP side into mail: they cannot work without it. */
export function needsWeb(config: Config): boolean {
  return config.consent.gate || config.links.opaque === 'ask';
}

export interface WebHandle {
  readonly address: { host: string; port: number };
  readonly publicUrl: string;
  readonly links: WebLinks;
  readonly wording: Wording;
  /** What the pipeline places in copies (src/pipeline/relay.ts CopyLinks). */
  readonly copyLinks: CopyLinks;
  close(): Promise<void>;
}

/** The public base URL: http.publicUrl, or the listen address itself (with the port actually bound). */
function publicUrlOf(config: Config, bound?: { host: string; port: number }): string {
  if (config.http.publicUrl) return config.http.publicUrl.replace(/\/+$/, '');
  const scheme = config.http.tls ? 'https' : 'http';
  if (!config.http.listen) throw new RelayError('CONFIG_INVALID', 'http.publicUrl or http.listen is needed to make links');
  const { host, port } = bound ?? splitHostPort(config.http.listen);
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function readTls(t: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(t.certFile), key: readFileSync(t.keyFile) };
  } catch (err) {
    throw new RelayError('CONFIG_INVALID', `http.tls: ${(err as Error).message}`, { cause: err });
  }
}

/** Link maker for commands that run beside the relay (`consent invite`): same keys, same subjects. */
export function openLinks(config: Config): { links: WebLinks; close: () => void } {
  const keys = KeyRing.open(config.dataDir, { rotateEveryMs: config.http.keys.rotateEvery, retireAfterMs: config.http.keys.retireAfter });
  const subjects = new LinkSubjects(config.dataDir);
  return { links: new WebLinks(keys, subjects, publicUrlOf(config), lifetimes(config)), close: () => subjects.close() };
}

function lifetimes(config: Config): { inviteMs: number; linkMs: number } {
  // a link outliving its key would stop working early without saying so: cap it by retirement
  const cap = config.http.keys.retireAfter;
  return { inviteMs: Math.min(config.http.inviteLifetime, cap), linkMs: Math.min(config.http.linkLifetime, cap) };
}

export async function startWeb(config: Config, deps: { consent: ConsentStore; metrics: Metrics; logger: Logger }): Promise<WebHandle> {
  if (!config.http.listen) throw new RelayError('CONFIG_INVALID', "consent.gate and links.opaque: ask put links to the relay's HTTP side into mail: set http.listen (and http.publicUrl)");
  const keys = KeyRing.open(config.dataDir, { rotateEveryMs: config.http.keys.rotateEvery, retireAfterMs: config.http.keys.retireAfter });
  const wording = loadWording(config.http.wording);
  const subjects = new LinkSubjects(config.dataDir);
  // its own connection to the audit log, as `consent grant` has: consent changes are chained events
  const auditLog = new SqliteAuditLog(config.dataDir);
  const onConsentChange = (e: Parameters<typeof auditConsentChanges>[1][number]): Promise<void> => auditConsentChanges(auditLog, [e]);
  const tls = config.http.tls ? readTls(config.http.tls) : undefined;
  const app = buildWebServer({ keys, subjects, consent: deps.consent, metrics: deps.metrics, wording, logger: deps.logger, onConsentChange, ...(tls ? { tls } : {}) });
  const { host, port } = splitHostPort(config.http.listen);
  try {
    await app.listen({ host, port });
  } catch (err) {
    subjects.close();
    await auditLog.close();
    throw new RelayError('CONFIG_INVALID', `cannot listen on ${config.http.listen} (http.listen): ${(err as Error).message}`, { cause: err });
  }
  const addr = app.server.address() as AddressInfo;
  const address = { host: addr.address, port: addr.port };
  const publicUrl = publicUrlOf(config, address);
  const links = new WebLinks(keys, subjects, publicUrl, lifetimes(config));
  return {
    address,
    publicUrl,
    links,
    wording,
    copyLinks: copyLinks(config, links, wording),
    async close() {
      await app.close();
      subjects.close();
      await auditLog.close();
    },
  };
}

/** The links and notice wording the engine places, per consent class or per recipient. */
function copyLinks(config: Config, links: WebLinks, wording: Wording): CopyLinks {
  const base: MessageLinks = {
    gate: config.consent.gate,
    disclose: config.consent.disclose,
    ask: config.links.opaque === 'ask' ? (t) => links.ask(t) : null,
    notice: { text: wording.notice.text, link: wording.notice.link, unknownVendor: wording.notice.unknownVendor, lang: wording.lang },
  };
  return {
    forClass: () => base,
    forRecipient: (address) => {
      // one withdrawal link per copy, however many places name it
      let out: string | undefined;
      return { ...base, personal: { optIn: () => links.optIn(address), optOut: () => (out ??= links.optOut(address)), gate: (t) => links.gate(address, t) } };
    },
  };
}

/** The audit recorder, counting what flows through it for /metrics (it sees every filtered copy and every disposition). */
export function countingAudit(audit: AuditRecorder, metrics: Metrics): AuditRecorder {
  return {
    filtered: async (tx, copies, mode, version) => {
      await audit.filtered(tx, copies, mode, version);
      metrics.inc(M.messages[0], M.messages[1]);
      for (const c of copies) {
        metrics.inc(M.copies[0], M.copies[1], { class: c.copy.consentClass || 'none' });
        for (const f of c.findings) metrics.inc(M.findings[0], M.findings[1], { technique: f.technique, action: f.action });
      }
    },
    delivered: async (tx, copies, dispositions, mode, version) => {
      countDispositions(metrics, dispositions);
      await audit.delivered(tx, copies, dispositions, mode, version);
    },
    later: async (dispositions) => {
      countDispositions(metrics, dispositions);
      await audit.later(dispositions);
    },
    learned: (tx, t) => audit.learned(tx, t),
    record: (events, subjects) => audit.record(events, subjects),
    objected: (tx) => audit.objected(tx),
    recipientHash: (address) => audit.recipientHash(address),
    close: () => audit.close(),
  };
}

function countDispositions(metrics: Metrics, ds: Parameters<AuditRecorder['later']>[0]): void {
  for (const d of ds) {
    if (d.type === 'rejected' || d.type === 'spooled' || d.type === 'retried' || d.type === 'bounced') {
      metrics.inc(M.upstreamErrors[0], M.upstreamErrors[1], { disposition: d.type }, d.recipients.length);
    }
  }
}
