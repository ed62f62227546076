/**
 * Listener certificates: PEM files read at start and again on SIGHUP. A reload builds a new
 * secure context for new handshakes; sessions already running keep theirs, so nothing is dropped.
 * A reload that cannot read the files keeps the old certificate (and says so) rather than leave
 * the listener without one.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { RelayError } from '../errors.js';

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  /** CA (PEM) that signs acceptable client certificates; asks every client for one. */
  readonly clientCa?: string;
}

/** What smtp-server's options take, TLS 1.2 minimum. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
  readonly minVersion: 'TLSv1.2';
}

/** Read and check the files (a key that does not fit the certificate fails here, not at the first client). */
export function loadTls(files: TlsFiles, where: string): TlsMaterial {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new RelayError('CONFIG_INVALID', `${where}: cannot read the ${what} ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const material: TlsMaterial = {
    cert: read(files.cert, 'certificate'),
    key: read(files.key, 'private key'),
    ...(files.clientCa ? { ca: read(files.clientCa, 'client CA') } : {}),
    minVersion: 'TLSv1.2',
  };
  try {
    createSecureContext(material);
  } catch (err) {
    // OpenSSL's text names the problem (no start line, key values mismatch) and never the key itself
    throw new RelayError('CONFIG_INVALID', `${where}: the certificate ${files.cert} and key ${files.key} cannot be used: ${(err as Error).message}`);
  }
  return material;
}
