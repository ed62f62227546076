/**
 * The message-level analysers, in order, and how their hints combine: protection from any
 * analyser wins (a link the recipient needs is never touched); otherwise the first analyser in
 * the list that gives a verdict decides. Adding an analyser is adding it here.
 */
import type { Candidate } from '../detectors/types.js';
import { campaignAnalyser, type CampaignContext } from './campaign.js';
import { listUnsubscribeAnalyser } from './list-unsubscribe.js';
import { mediaHostAnalyser } from './media-hosts.js';
import { destinationAnalyser } from './destinations.js';
import { neededLinksAnalyser } from './needed-links.js';
import { redirectorAnalyser } from './redirectors.js';
import { sameAddressAnalyser } from './same-address.js';
import { sharedTokenAnalyser } from './shared-tokens.js';
import type { Analyser, Hint, Hints, MessageView } from './types.js';

/**
 * The analysers that need nothing but the message. Protection first (a protection from any of
 * them wins); then redirector templates before single-link signals, a template's evidence being
 * the stronger.
 */
const ANALYSERS: readonly Analyser[] = [listUnsubscribeAnalyser, neededLinksAnalyser, sameAddressAnalyser, redirectorAnalyser, destinationAnalyser, sharedTokenAnalyser, mediaHostAnalyser];

/**
 * The analysers for one rewrite call: the stateless ones, then those built from the call's
 * dependencies. Campaign learning comes last, so that what one message shows by itself (an
 * unwrappable destination) decides before what the copies show.
 */
export function analysersFor(deps: { readonly campaign?: CampaignContext | undefined; readonly recipients?: readonly string[] | undefined }): readonly Analyser[] {
  return deps.campaign ? [...ANALYSERS, campaignAnalyser(deps.campaign, deps.recipients ?? [])] : ANALYSERS;
}

export async function analyseMessage(view: MessageView, analysers: readonly Analyser[] = ANALYSERS): Promise<Hints> {
  const merged = new Map<Candidate, Hint>();
  if (!view.candidates.length) return merged;
  for (const a of analysers) {
    const hints = await a.analyse(view);
    for (const [c, h] of hints) {
      const prev = merged.get(c);
      const protect = prev?.protect ?? h.protect;
      const verdict = prev?.verdict ?? h.verdict;
      merged.set(c, { ...(protect ? { protect } : {}), ...(verdict ? { verdict } : {}) });
    }
  }
  return merged;
}
