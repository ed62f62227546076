/** Stand-alone CSS parts (text/css referenced by cid: from the HTML) load remote URLs too. */
import { type CssRef, scanCss } from '../css/scan.js';
import type { Candidate, DetectContext, Detector } from './types.js';

export const cssDetector: Detector = {
  id: 'css',
  contentTypes: ['text/css'],
  detect(text: string, _ctx: DetectContext): Candidate[] {
    return scanCss(text, 0, 'sheet').map(cssCandidate);
  },
};

/** A remote reference in CSS as a candidate: without consent its declaration is dropped. Shared with the HTML detector's style attributes. */
export function cssCandidate(ref: CssRef): Candidate {
  return {
    kind: 'open',
    technique: ref.technique,
    url: ref.url,
    remove: { start: ref.stmtStart, end: ref.stmtEnd },
    removeAction: 'drop-declaration',
    ...(ref.printOnly ? { printOnly: true } : {}),
    ...(ref.quotedOnly ? { quotedOnly: true } : {}),
  };
}
