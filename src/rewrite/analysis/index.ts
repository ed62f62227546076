/**
 * The message-level analysers, in order, and how their hints combine: protection from any
 * analyser wins (a link the recipient needs is never touched); otherwise the first analyser in
 * the list that gives a verdict decides. Adding an analyser is adding it here.
 */
import type { Candidate } from '../detectors/types.js';
import { listUnsubscribeAnalyser } from './list-unsubscribe.js';
import type { Analyser, Hint, Hints, MessageView } from './types.js';

export const ANALYSERS: readonly Analyser[] = [listUnsubscribeAnalyser];

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
