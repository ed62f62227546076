/**
 * The upstream as `upstream.*` describes it: an SmtpUpstream whose TLS, trust and credentials
 * were decided at start (upstreamTls.ts), and whose session failures (STARTTLS missing,
 * certificate refused, credentials refused) become one warning line each. Takes the settings as
 * plain values: delivery does not read the configuration itself.
 */
import type { Logger } from 'pino';
import { SmtpUpstream } from './upstream.js';
import { resolveUpstreamSecurity, type SecretSources, type UpstreamSecurity, type UpstreamSecurityConfig } from './upstreamTls.js';

/** The `upstream` section of the configuration (config/schema.ts), host and port already split. */
export interface UpstreamSettings extends Omit<UpstreamSecurityConfig, 'host'> {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly maxConnections: number;
  readonly connectTimeout: number;
  readonly socketTimeout: number;
}

/** Decide transport, trust and credentials; a setting that would send in clear text throws CONFIG_INVALID. */
export function upstreamSecurityFromSettings(u: UpstreamSettings, io?: SecretSources): UpstreamSecurity {
  return resolveUpstreamSecurity({ host: u.host, tls: u.tls, serverName: u.serverName, caFile: u.caFile, allowPlaintext: u.allowPlaintext, clientCert: u.clientCert, auth: u.auth }, io);
}

export function createUpstream(u: UpstreamSettings, security: UpstreamSecurity, ehloName: string, log: Logger): SmtpUpstream {
  return new SmtpUpstream({
    host: u.host,
    port: u.port,
    security,
    name: ehloName,
    maxConnections: u.maxConnections,
    connectionTimeoutMs: u.connectTimeout,
    socketTimeoutMs: u.socketTimeout,
    // warn, not error: the copies are kept (4xx or spool) and go out once the operator fixes it
    onSessionFailure: (f) => log.warn({ upstream: u.address, failure: f.kind, code: f.error }, f.detail),
  });
}
