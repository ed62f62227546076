/**
 * The upstream as the configuration describes it: `upstream.*` → an SmtpUpstream whose TLS,
 * trust and credentials were decided at start (upstreamTls.ts), and whose session failures
 * (STARTTLS missing, certificate refused, credentials refused) become one log line each.
 */
import type { Logger } from 'pino';
import { splitHostPort } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { SmtpUpstream } from './upstream.js';
import { resolveUpstreamSecurity, type SecretSources, type UpstreamSecurity } from './upstreamTls.js';

/** Decide transport, trust and credentials; a setting that would send in clear text throws CONFIG_INVALID. */
export function upstreamSecurityFromConfig(config: Config, io?: SecretSources): UpstreamSecurity {
  const u = config.upstream;
  const { host } = splitHostPort(u.address);
  return resolveUpstreamSecurity({ host, tls: u.tls, serverName: u.serverName, caFile: u.caFile, allowPlaintext: u.allowPlaintext, clientCert: u.clientCert, auth: u.auth }, io);
}

export function createUpstream(config: Config, security: UpstreamSecurity, log: Logger): SmtpUpstream {
  const { host, port } = splitHostPort(config.upstream.address);
  return new SmtpUpstream({
    host,
    port,
    security,
    name: config.hostname,
    maxConnections: config.upstream.maxConnections,
    connectionTimeoutMs: config.upstream.connectTimeout,
    socketTimeoutMs: config.upstream.socketTimeout,
    // warn, not error: the copies are kept (4xx or spool) and go out once the operator fixes it
    onSessionFailure: (f) => log.warn({ upstream: config.upstream.address, failure: f.kind, code: f.error }, f.detail),
  });
}
