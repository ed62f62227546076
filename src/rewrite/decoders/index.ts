/**
 * Registry of offline redirect decoders. Rules name a decoder by id in their `unwrap` entry;
 * `decodeWith` runs it. Nothing here fetches: requesting a tracking URL would register the click.
 */
import type { UnwrapSpec } from '../rules/types.js';
import { activecampaignDecoder } from './activecampaign.js';
import { barracudaDecoder } from './barracuda.js';
import { base64Decoder } from './base64.js';
import { base64JsonDecoder } from './base64-json.js';
import { base64ZlibDecoder } from './base64-zlib.js';
import { customerioDecoder } from './customerio.js';
import { genericDecoder } from './generic.js';
import { mailgunDecoder } from './mailgun.js';
import { mandrillDecoder } from './mandrill.js';
import { outreachDecoder } from './outreach.js';
import { pathDecoder, sesDecoder } from './path.js';
import { postmarkDecoder } from './postmark.js';
import { proofpointDecoder } from './proofpoint.js';
import { queryDecoder } from './query.js';
import { safelinksDecoder } from './safelinks.js';
import { sparkpostDecoder } from './sparkpost.js';
import { toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

export type { Decoder } from './types.js';
export { unwrapNested } from './nested.js';

const all: readonly Decoder[] = [
  queryDecoder,
  pathDecoder,
  sesDecoder,
  base64Decoder,
  base64ZlibDecoder,
  base64JsonDecoder,
  mailgunDecoder,
  mandrillDecoder,
  sparkpostDecoder,
  customerioDecoder,
  outreachDecoder,
  activecampaignDecoder,
  postmarkDecoder,
  proofpointDecoder,
  safelinksDecoder,
  barracudaDecoder,
  genericDecoder,
];

export const decoders: ReadonlyMap<string, Decoder> = new Map(all.map((d) => [d.id, d]));
export const knownDecoderIds: ReadonlySet<string> = new Set(decoders.keys());

/**
 * Run the decoder `spec.decoder` on `url`. Unknown ids give null (the rules loader rejects them
 * up front via knownDecoderIds). The contract (absolute http(s) URL or null, never a throw) is
 * enforced here once more so that one faulty decoder cannot put a javascript: URL into a mail.
 */
export function decodeWith(url: URL, spec: UnwrapSpec): string | null {
  const decoder = decoders.get(spec.decoder);
  if (decoder === undefined) return null;
  try {
    const out = decoder.decode(url, spec);
    return out === null ? null : toHttpUrl(out);
  } catch {
    return null;
  }
}
