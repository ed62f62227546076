/**
 * `consent-relay consent invite ADDR [--scope …]`: print a signed opt-in URL for ADDR. Nothing is
 * recorded until ADDR opens it and confirms (a POST on the relay's HTTP side). The URL is built on
 * `http.publicUrl` (or `http.listen`) with the keys in the data directory, which the running
 * relay shares.
 */
import type { Config } from '../../config/schema.js';
import { validateAddress } from '../../consent/address.js';
import { ALL_SCOPES, type ConsentScope } from '../../consent/store.js';
import { checkDataDir } from '../../store/dataDir.js';
import { openLinks } from '../../web/index.js';
import { writeStdout } from '../io.js';

export interface ConsentInviteOptions {
  readonly address: string;
  /** Default: every scope. */
  readonly scopes?: readonly ConsentScope[];
}

export async function consentInviteCommand(config: Config, opts: ConsentInviteOptions): Promise<number> {
  const address = validateAddress(opts.address);
  checkDataDir(config.dataDir, { create: true });
  const { links, close } = openLinks(config);
  try {
    await writeStdout(`${links.optIn(address, opts.scopes?.length ? opts.scopes : ALL_SCOPES)}\n`);
  } finally {
    close();
  }
  return 0;
}
