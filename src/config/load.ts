/**
 * Load, validate and freeze the configuration. File first, then command-line overrides; errors
 * name the bad key and say what is expected.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { RelayError } from '../errors.js';
import { configSchema, type Config } from './schema.js';
import { parseYaml } from '../yaml.js';

export interface ConfigOverrides {
  /** The first local listener's address (one is added if the file has none). */
  readonly listen?: string;
  /** Listeners added after the file's (serve --submission / --smarthost). */
  readonly addListeners?: readonly Record<string, unknown>[];
  readonly upstream?: string;
  readonly dataDir?: string;
  /** `serve --http HOST:PORT`: http.listen. */
  readonly http?: string;
  /** `serve --public-url URL`: http.publicUrl. */
  readonly publicUrl?: string;
}

export function loadConfig(file?: string, overrides: ConfigOverrides = {}): Config {
  let data: unknown = {};
  if (file) {
    if (!existsSync(file)) throw new RelayError('CONFIG_INVALID', `config file ${file} does not exist`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new RelayError('CONFIG_INVALID', `config file ${file} cannot be read: ${(err as Error).message}`);
    }
    try {
      data = parseYaml(text) ?? {};
    } catch (err) {
      throw new RelayError('CONFIG_INVALID', `config file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (typeof data !== 'object' || Array.isArray(data)) throw new RelayError('CONFIG_INVALID', `config file ${file}: expected a mapping of keys at the top level`);
  }
  // a section left with only comments in it parses as null: treat it as absent (defaults)
  const present = Object.fromEntries(Object.entries(data as Record<string, unknown>).filter(([, v]) => v !== null));
  const merged = applyOverrides(legacyListen(present, file), overrides);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new RelayError('CONFIG_INVALID', `${file ? `config file ${file}` : 'configuration'}: ${describeIssues(parsed.error)}`);
  const config = { ...parsed.data, dataDir: resolve(parsed.data.dataDir) };
  return deepFreeze(config);
}

/**
 * `listen:` is how listeners were written before they had modes: a list of addresses, each a
 * local (loopback) listener. It still works, as exactly that; beside `listeners:` it would be
 * ambiguous which one wins, so the two together are an error.
 */
function legacyListen(data: Record<string, unknown>, file: string | undefined): Record<string, unknown> {
  if (!('listen' in data)) return data;
  const where = file ? `config file ${file}` : 'configuration';
  if ('listeners' in data) throw new RelayError('CONFIG_INVALID', `${where}: both listen: and listeners: are set; move each listen: entry into listeners: with mode: local`);
  const { listen, ...rest } = data;
  if (!Array.isArray(listen)) throw new RelayError('CONFIG_INVALID', `${where}: listen: must be a list of { address: HOST:PORT } (or use listeners:, see config/relay.example.yaml)`);
  return { ...rest, listeners: listen.map((l: unknown) => (l && typeof l === 'object' ? { mode: 'local', ...(l as object) } : l)) };
}

function applyOverrides(data: Record<string, unknown>, o: ConfigOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...data };
  if (o.dataDir) out.dataDir = o.dataDir;
  if (o.listen || o.addListeners?.length) {
    const given = Array.isArray(out.listeners) ? [...(out.listeners as unknown[])] : [{ mode: 'local', address: '127.0.0.1:2525' }];
    if (o.listen) {
      const i = given.findIndex((l) => !!l && typeof l === 'object' && ((l as { mode?: unknown }).mode ?? 'local') === 'local');
      if (i >= 0) given[i] = { ...(given[i] as object), address: o.listen };
      else given.unshift({ mode: 'local', address: o.listen });
    }
    out.listeners = [...given, ...(o.addListeners ?? [])];
  }
  if (o.upstream) out.upstream = { ...((out.upstream as object | undefined) ?? {}), address: o.upstream };
  if (o.http) out.http = { ...((out.http as object | undefined) ?? {}), listen: o.http };
  if (o.publicUrl) out.http = { ...((out.http as object | undefined) ?? {}), publicUrl: o.publicUrl };
  return out;
}

/** Keys that were replaced, and by what: a config written for an older release gets a pointer. */
const REPLACED: Readonly<Record<string, string>> = {
  'upstream.secure': 'upstream.tls: implicit',
  'upstream.requireTLS': 'upstream.tls: starttls',
  'upstream.tlsInsecure': 'upstream.caFile (certificate verification cannot be switched off)',
  'upstream.auth.pass': 'upstream.auth.passwordFile or upstream.auth.passwordEnv',
};

function describeIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => {
      const key = i.path.length ? i.path.join('.') : '(top level)';
      if (i.code === 'unrecognized_keys') {
        const full = i.keys.map((k) => (i.path.length ? `${key}.${k}` : k));
        return `unknown key${i.keys.length > 1 ? 's' : ''} ${full.map((k) => (REPLACED[k] ? `${k} (replaced by ${REPLACED[k]})` : k)).join(', ')}`;
      }
      return `${key}: ${i.message}`;
    })
    .join('; ');
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Split "host:port" / "[v6]:port". */
export function splitHostPort(hp: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hp);
  if (!m) throw new RelayError('CONFIG_INVALID', `"${hp}" is not HOST:PORT`);
  return { host: m[1]!, port: Number(m[2]) };
}
