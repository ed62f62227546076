/**
 * How the relay talks to its upstream: TLS or not, which certificate it trusts, which credentials
 * it presents. Decided once at start from `upstream.*`, so that a setting that would put mail or a
 * password on the wire in clear text is a configuration error (exit 78), never a surprise.
 *
 * `upstream.tls`:
 * - `auto` (default): STARTTLS, required and verified (chain and host name), unless the upstream
 *   is a loopback IP literal (127.0.0.0/8, ::1) and no credentials are configured; then plain text,
 *   since loopback traffic never leaves the host. Only a literal counts: a name (`localhost`
 *   included) is whatever DNS or /etc/hosts says today, so it is treated as remote.
 * - `starttls`: STARTTLS required and verified, wherever the upstream is.
 * - `implicit`: TLS from the first byte (port 465), verified.
 * - `none`: never TLS. Off loopback only with `allowPlaintext: true` (a warning at every start),
 *   and never with credentials there.
 *
 * Verification is never switched off: a private or self-signed upstream is trusted by naming its
 * CA (`caFile`). TLS 1.2 is the minimum.
 */
import { readFileSync, statSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { RelayError } from '../errors.js';

type UpstreamTlsSetting = 'auto' | 'starttls' | 'implicit' | 'none';

/** The `upstream` section of the configuration, as far as security goes. */
export interface UpstreamSecurityConfig {
  readonly host: string;
  readonly tls: UpstreamTlsSetting;
  readonly serverName?: string | undefined;
  readonly caFile?: string | undefined;
  readonly allowPlaintext: boolean;
  readonly clientCert?: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly auth?: { readonly user: string; readonly passwordFile?: string | undefined; readonly passwordEnv?: string | undefined } | undefined;
}

/** TLS options for the upstream socket (node:tls). */
interface UpstreamTlsOptions {
  readonly minVersion: 'TLSv1.2';
  readonly rejectUnauthorized: true;
  readonly servername?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export interface UpstreamSecurity {
  /** starttls: STARTTLS or no delivery; implicit: TLS from the first byte; plain: never TLS. */
  readonly transport: 'starttls' | 'implicit' | 'plain';
  /** Absent for plain. */
  readonly tls?: UpstreamTlsOptions;
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Said once at start (log level warn): settings that weaken security on purpose. */
  readonly warnings: readonly string[];
  /** One line for the start log: transport and trust, no secrets. */
  readonly summary: string;
}

export interface SecretSources {
  readonly readFile: (path: string) => Buffer;
  /** File mode bits, to warn about a password file others can read; null when unknown. */
  readonly modeOf: (path: string) => number | null;
  readonly env: NodeJS.ProcessEnv;
}

const SYSTEM: SecretSources = {
  readFile: (p) => readFileSync(p),
  modeOf: (p) => {
    try {
      return statSync(p).mode & 0o777;
    } catch {
      return null;
    }
  },
  env: process.env,
};

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** A loopback IP literal: the only upstream address that is not a network hop. */
export function isLoopbackLiteral(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  const family = isIP(h);
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

export function resolveUpstreamSecurity(cfg: UpstreamSecurityConfig, io: SecretSources = SYSTEM): UpstreamSecurity {
  const loopback = isLoopbackLiteral(cfg.host);
  const hasAuth = cfg.auth !== undefined;
  const warnings: string[] = [];
  if (cfg.allowPlaintext && cfg.tls !== 'none') {
    throw configError(`upstream.allowPlaintext only applies to upstream.tls: none (it is ${cfg.tls}); remove it`);
  }
  const transport = cfg.tls === 'implicit' ? 'implicit' : cfg.tls === 'starttls' ? 'starttls' : cfg.tls === 'none' ? 'plain' : loopback && !hasAuth ? 'plain' : 'starttls';
  if (cfg.tls === 'none' && !loopback) {
    if (!cfg.allowPlaintext) {
      throw configError(`upstream.tls: none would send mail to ${cfg.host} in clear text over the network; use tls: starttls or implicit, or set upstream.allowPlaintext: true to accept that`);
    }
    if (hasAuth) throw configError(`upstream.auth with upstream.tls: none would send the password to ${cfg.host} in clear text; use tls: starttls or implicit`);
    warnings.push(`upstream.allowPlaintext: mail to ${cfg.host} leaves in clear text, readable and changeable by anyone on the path`);
  }
  const auth = cfg.auth === undefined ? undefined : { user: cfg.auth.user, pass: readPassword(cfg.auth, io, warnings) };
  if (transport === 'plain') {
    if (cfg.caFile !== undefined || cfg.clientCert !== undefined || cfg.serverName !== undefined) {
      throw configError(`upstream.caFile, clientCert and serverName need TLS, but upstream.tls resolves to no TLS for ${cfg.host}; set upstream.tls: starttls or implicit`);
    }
    return { transport, ...(auth ? { auth } : {}), warnings, summary: `plain text${loopback ? ' (loopback)' : ''}${auth ? ', AUTH' : ''}` };
  }
  const tls: { -readonly [K in keyof UpstreamTlsOptions]: UpstreamTlsOptions[K] } = { minVersion: 'TLSv1.2', rejectUnauthorized: true };
  if (cfg.serverName !== undefined) tls.servername = cfg.serverName;
  if (cfg.caFile !== undefined) tls.ca = readConfigFile('upstream.caFile', cfg.caFile, io);
  if (cfg.clientCert !== undefined) {
    tls.cert = readConfigFile('upstream.clientCert.certFile', cfg.clientCert.certFile, io);
    tls.key = readConfigFile('upstream.clientCert.keyFile', cfg.clientCert.keyFile, io);
  }
  const trust = cfg.caFile !== undefined ? 'CA from upstream.caFile' : 'system CAs';
  const summary = `${transport === 'implicit' ? 'implicit TLS' : 'STARTTLS required'}, certificate verified for ${cfg.serverName ?? cfg.host} (${trust})${cfg.clientCert ? ', client certificate' : ''}${auth ? ', AUTH' : ''}`;
  return { transport, tls, ...(auth ? { auth } : {}), warnings, summary };
}

/** The password: first line of the file, or the variable's value. Neither is ever logged. */
function readPassword(auth: NonNullable<UpstreamSecurityConfig['auth']>, io: SecretSources, warnings: string[]): string {
  let pass: string;
  if (auth.passwordFile !== undefined) {
    pass = readConfigFile('upstream.auth.passwordFile', auth.passwordFile, io).toString('utf8').split(/\r?\n/)[0] ?? '';
    const mode = io.modeOf(auth.passwordFile);
    if (mode !== null && (mode & 0o077) !== 0) {
      warnings.push(`upstream.auth.passwordFile ${auth.passwordFile} can be read by group/other (mode ${mode.toString(8).padStart(4, '0')}); run: chmod 600 ${auth.passwordFile}`);
    }
    if (pass === '') throw configError(`upstream.auth.passwordFile ${auth.passwordFile} is empty; its first line is the password`);
  } else {
    const name = auth.passwordEnv ?? '';
    pass = io.env[name] ?? '';
    if (pass === '') throw configError(`upstream.auth.passwordEnv: the environment variable ${name} is not set or empty`);
  }
  return pass;
}

function readConfigFile(key: string, path: string, io: SecretSources): Buffer {
  try {
    return io.readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    // the path and the errno, never the content
    throw configError(`${key} ${path} cannot be read (${code})`);
  }
}

function configError(message: string): RelayError {
  return new RelayError('CONFIG_INVALID', message);
}
