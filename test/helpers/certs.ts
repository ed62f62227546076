/**
 * Certificates made at test time with openssl (never committed): a private CA and leaf
 * certificates it signs, and a self-signed one. EC P-256 keys, so that making them takes
 * milliseconds. Everything lives in a temporary directory the caller removes.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function files(dir: string, name: string): CertFiles {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A CA certificate and key: trust it with `upstream.caFile: ca.certFile`. */
export function makeCa(dir: string, name = 'test-ca'): CertFiles {
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return files(dir, name);
}

/** A leaf certificate for `names` (DNS names or IP addresses), signed by `ca`. */
export function makeLeaf(dir: string, ca: CertFiles, name: string, names: readonly string[], usage: 'serverAuth' | 'clientAuth' = 'serverAuth'): CertFiles {
  openssl(['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${names[0] ?? name}`], dir);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `subjectAltName=${sanList(names)}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', ext], dir);
  return files(dir, name);
}

/** A self-signed certificate for `names`: what a lab upstream or an impostor presents. */
export function makeSelfSigned(dir: string, name: string, names: readonly string[]): CertFiles {
  openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${names[0] ?? name}`, '-addext', `subjectAltName=${sanList(names)}`], dir);
  return files(dir, name);
}

function sanList(names: readonly string[]): string {
  return names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
}
