/** Start the real relay in-process on a loopback port, pointed at a recording upstream. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { SqliteConsentStore } from '../../src/consent/sqlite.js';
import type { ConsentScope } from '../../src/consent/store.js';
import { silentLogger } from '../../src/log.js';
import { startRelay, type RelayHandle, type StartOptions } from '../../src/main.js';

type Tree = { [k: string]: unknown };

/** A config file as a user would write it: short retry timers, `extra` merged in per section. */
export function relayConfig(dataDir: string, upstreamPort: number, extra: Tree = {}): Config {
  // the engine inline unless a test asks for workers: a relay per test would otherwise start a
  // thread per core each time; the pool has its own tests (test/relay/engine-pool.test.ts)
  const base: Tree = { hostname: 'relay.test', spool: { retryInitial: '200ms', retryMax: '400ms', scanInterval: '100ms' }, engine: { workers: 0 } };
  for (const [k, v] of Object.entries(extra)) base[k] = typeof v === 'object' && v && !Array.isArray(v) ? { ...(base[k] as Tree | undefined), ...(v as Tree) } : v;
  const file = join(dataDir, `relay-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, YAML.stringify(base));
  return loadConfig(file, { listen: '127.0.0.1:0', upstream: `127.0.0.1:${upstreamPort}`, dataDir });
}

export async function startTestRelay(config: Config, opts: Partial<StartOptions> = {}): Promise<RelayHandle & { port: number }> {
  const relay = await startRelay(config, { logger: silentLogger(), ...opts });
  return Object.assign(relay, { port: relay.addresses[0]!.port });
}

export async function grant(dataDir: string, address: string, scopes: ConsentScope[]): Promise<void> {
  const store = new SqliteConsentStore(dataDir);
  try {
    await store.record({ address, action: 'grant', scopes, source: 'test fixture', method: 'test' });
  } finally {
    await store.close();
  }
}

export interface SendResult {
  code: number;
  response: string;
  rejected?: string[];
}

/** Send raw bytes with an explicit envelope; resolves with the final reply, never throws on 4xx/5xx. */
export async function send(port: number, from: string, to: string[], raw: Buffer | string): Promise<SendResult> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, connectionTimeout: 5000 });
  try {
    const info = await transport.sendMail({ envelope: { from, to }, raw });
    return { code: Number(/^(\d{3})/.exec(info.response)?.[1] ?? 250), response: info.response, rejected: info.rejected.map(String) };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    return { code: e.responseCode ?? 0, response: e.response ?? e.message };
  } finally {
    transport.close();
  }
}
