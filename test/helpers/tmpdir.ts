/** Throwaway directories for tests that touch the file system (spool, stores). */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function makeTempDir(prefix = 'consent-relay-test-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Make `dir` (which must not exist yet, or be empty) impossible to write into. Root ignores
 * permission bits, so under root the directory is replaced by a plain file, which fails the same
 * way for every write below it (ENOTDIR).
 */
export async function makeUnwritableDir(dir: string): Promise<void> {
  if (process.getuid?.() === 0) {
    await rm(dir, { recursive: true, force: true });
    await writeFile(dir, 'not a directory\n');
    return;
  }
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o500);
}
