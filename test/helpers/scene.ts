/**
 * The stage most relay tests share: per test, a private data directory and a recording upstream,
 * and after it, whatever the test registered in `toClose` (closed in reverse order), then the
 * upstream and the directory.
 */
import { afterEach, beforeEach } from 'vitest';
import { makeTempDir } from './tmpdir.js';
import { startUpstream, type RecordingUpstream } from './upstream.js';

export interface Scene {
  readonly tmp: { path: string; cleanup: () => Promise<void> };
  readonly up: RecordingUpstream;
}

/** Registers the hooks; `set` receives each test's scene (assign it to the file's variables). */
export function useRelayScene(set: (s: Scene) => void, toClose: Array<() => Promise<void> | void>): void {
  let current: Scene | null = null;
  beforeEach(async () => {
    current = { tmp: await makeTempDir(), up: await startUpstream() };
    set(current);
  });
  afterEach(async () => {
    for (const c of toClose.splice(0).reverse()) await c();
    if (!current) return;
    await current.up.close();
    await current.tmp.cleanup();
    current = null;
  });
}
