/**
 * Compiled rule tables. The YAML files (trackers.yaml, needed-links.yaml) stay the source of
 * truth; `npm run build` validates each and writes it as JSON to dist/rules/NAME.json together
 * with the SHA-256 of the YAML text it came from. A loader reads the YAML's bytes, hashes them
 * (well under a millisecond for 100 KB) and takes the artefact only when the hash matches; on any
 * mismatch (an edited YAML, a custom rules file, no build yet) it parses the YAML as before. A
 * stale or missing artefact costs time, never correctness; the compiler (compile.ts) runs its
 * checks on either input.
 *
 * Why: parsing the 100 KB rules YAML and checking it against the schema took ~0.4 s of every
 * `scan` and of every worker thread's start.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../paths.js';

const FORMAT = 1;

export type ArtefactName = 'trackers' | 'needed-links';

interface Artefact {
  readonly format: number;
  readonly sha256: string;
  readonly data: unknown;
}

export function artefactPath(name: ArtefactName, root: string = packageRoot()): string {
  return join(root, 'dist', 'rules', `${name}.json`);
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The compiled data for exactly this YAML text, or null (absent, unreadable, or of other text). */
export function readArtefact<T>(name: ArtefactName, yamlText: string, root?: string): T | null {
  let artefact: Artefact;
  try {
    artefact = JSON.parse(readFileSync(artefactPath(name, root), 'utf8')) as Artefact;
  } catch {
    return null;
  }
  if (artefact?.format !== FORMAT || artefact.sha256 !== sha256(yamlText)) return null;
  return artefact.data as T;
}

/** Written whole or not at all (temp file + rename): a reader never sees half an artefact. */
export function writeArtefact(name: ArtefactName, yamlText: string, data: unknown, root?: string): string {
  const file = artefactPath(name, root);
  mkdirSync(dirname(file), { recursive: true });
  const body: Artefact = { format: FORMAT, sha256: sha256(yamlText), data };
  writeFileSync(`${file}.tmp`, JSON.stringify(body));
  renameSync(`${file}.tmp`, file);
  return file;
}
