/**
 * Listener modes: who may connect to each socket, what it must do before MAIL, and which
 * smtp-server options that takes. One table, read by server.ts (per session) and main.ts (at start):
 *
 * | mode       | who                          | before MAIL                       | TLS                       |
 * |------------|------------------------------|-----------------------------------|---------------------------|
 * | local      | loopback clients (554 5.7.1) | nothing                           | none                      |
 * | submission | anyone                       | TLS, then AUTH (538 / 530)        | STARTTLS or implicit      |
 * | smarthost  | `allow` CIDRs (554 5.7.1)    | with clientCa: TLS + client cert  | optional STARTTLS         |
 *
 * A listener that would accept mail from the network without either check cannot be configured:
 * a local listener must bind to loopback, a smart host needs an allowlist (not /0), and submission
 * always authenticates.
 */
import type { TLSSocket } from 'node:tls';
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { splitHostPort } from '../config/load.js';
import type { ListenerConfig } from '../config/schema.js';
import { RelayError } from '../errors.js';
import { Allowlist } from './cidr.js';
import { isLoopback } from './connect.js';
import { fromRelayError, type SmtpError } from './reply.js';
import { loadTls, type TlsFiles, type TlsMaterial } from './tls.js';

export type ListenerMode = ListenerConfig['mode'];

export interface ListenerSpec {
  readonly mode: ListenerMode;
  /** "listeners[2]": names the config entry in errors and logs. */
  readonly where: string;
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly hostname: string | undefined;
  readonly allow: Allowlist | null;
  readonly tlsFiles: TlsFiles | null;
  readonly implicitTls: boolean;
  /** smarthost with clientCa: TLS and a certificate the CA signed, before MAIL. */
  readonly requireClientCert: boolean;
}

/** Check every listener (exit 78 with one line on the first problem); read no file yet. */
export function resolveListeners(listeners: readonly ListenerConfig[]): ListenerSpec[] {
  return listeners.map((l, i) => {
    const where = `listeners[${i}] (${l.mode} ${l.address})`;
    const { host, port } = splitHostPort(l.address);
    const base = { mode: l.mode, where, address: l.address, host, port, hostname: l.hostname };
    switch (l.mode) {
      case 'local':
        if (!isLoopback(host)) {
          throw new RelayError(
            'CONFIG_INVALID',
            `${where}: ${host} is not a loopback address; a local listener has no authentication or allowlist, so it is loopback-only (the relay must never be an open relay): use mode: submission (AUTH) or mode: smarthost with allow: CIDRs for other addresses`,
          );
        }
        return { ...base, allow: null, tlsFiles: null, implicitTls: false, requireClientCert: false };
      case 'submission':
        return { ...base, allow: null, tlsFiles: l.tls, implicitTls: l.implicitTls, requireClientCert: false };
      case 'smarthost': {
        if (l.clientCa && !l.tls) throw new RelayError('CONFIG_INVALID', `${where}: clientCa needs tls: { cert, key } as well (client certificates are checked during STARTTLS)`);
        const tlsFiles = l.tls ? { ...l.tls, ...(l.clientCa ? { clientCa: l.clientCa } : {}) } : null;
        return { ...base, allow: new Allowlist(l.allow, `${where} allow`), tlsFiles, implicitTls: false, requireClientCert: !!l.clientCa };
      }
      default: {
        // the schema admits only the modes above; this makes a new mode a type error here
        const unknown: never = l;
        throw new RelayError('CONFIG_INVALID', `${where}: unknown listener mode ${JSON.stringify(unknown)}`);
      }
    }
  });
}

/** smtp-server options for the mode (besides the ones every listener shares, in server.ts). */
export function modeOptions(spec: ListenerSpec, tls: TlsMaterial | null): SMTPServerOptions {
  const tlsOptions: SMTPServerOptions = tls ? { ...tls } : {};
  if (spec.requireClientCert) Object.assign(tlsOptions, { requestCert: true, rejectUnauthorized: true });
  switch (spec.mode) {
    case 'local':
      return { authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'] };
    case 'submission':
      return { ...tlsOptions, secure: spec.implicitTls, disabledCommands: [] };
    case 'smarthost':
      return { ...tlsOptions, authOptional: true, disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'] };
  }
}

/** Load the listener's certificate files (start and SIGHUP). */
export function listenerTls(spec: ListenerSpec): TlsMaterial | null {
  return spec.tlsFiles ? loadTls(spec.tlsFiles, spec.where) : null;
}

/** onConnect: may this client use this listener at all? */
export function checkClient(spec: ListenerSpec, remoteAddress: string): SmtpError | null {
  if (spec.mode === 'local' && !isLoopback(remoteAddress)) return fromRelayError(new RelayError('RELAY_DENIED', 'relay access denied: this listener serves local clients only'));
  if (spec.mode === 'smarthost' && !spec.allow!.allows(remoteAddress)) return fromRelayError(new RelayError('RELAY_DENIED', 'relay access denied: your address is not allowed to relay here'));
  return null;
}

/** onSecure: a smart host that asks for client certificates admits only verified ones. */
export function checkSecure(spec: ListenerSpec, socket: TLSSocket): SmtpError | null {
  if (spec.requireClientCert && !socket.authorized) return fromRelayError(new RelayError('RELAY_DENIED', 'relay access denied: a client certificate signed by the configured CA is required'));
  return null;
}

/** Before MAIL, what the mode needs besides AUTH (which smtp-server enforces on submission). */
export function checkBeforeMail(spec: ListenerSpec, session: SMTPServerSession): SmtpError | null {
  if (spec.requireClientCert && !session.secure) return fromRelayError(new RelayError('STARTTLS_REQUIRED', 'must issue STARTTLS with a client certificate first'));
  return null;
}
