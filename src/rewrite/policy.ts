/**
 * The policy: finding x consent -> action. This table is where behaviour is decided and where an
 * auditor reads it. Open-side beacons need `opens` consent to stay, click-side trackers `clicks`.
 */
import type { Action, Consent, Technique, TrackingKind } from './types.js';
import type { Candidate } from './detectors/types.js';
import type { Verdict } from './types.js';

/** Which consent scope lets a technique's trackers stay. */
export const SCOPE_OF: Readonly<Record<TrackingKind, keyof Consent>> = { open: 'opens', click: 'clicks' };

/**
 * What happens to a tracker without consent, by technique. Open side: the beacon goes, in the
 * smallest unit that stops the fetch. Click side: decided per link (see `decide`).
 */
export const ACTION_WITHOUT_CONSENT: Readonly<Record<Technique, Action | 'per-link'>> = {
  img: 'remove-element',
  srcset: 'remove-attribute',
  'input-image': 'remove-element',
  'background-attr': 'remove-attribute',
  'css-url': 'drop-declaration',
  'css-import': 'drop-declaration',
  'css-font-face': 'drop-declaration',
  'link-rel': 'remove-element',
  'meta-refresh': 'remove-element',
  media: 'remove-element',
  'media-poster': 'remove-attribute',
  iframe: 'remove-element',
  object: 'remove-element',
  embed: 'remove-element',
  applet: 'remove-element',
  script: 'remove-element',
  bgsound: 'remove-element',
  'svg-image': 'remove-element',
  manifest: 'remove-attribute',
  vml: 'remove-element',
  amp: 'remove-element',
  'a-ping': 'remove-attribute',
  'read-receipt': 'remove-header',
  // links: unwrap when the destination is recoverable, else neutralise; params: strip
  'tracked-link': 'per-link',
  'text-link': 'per-link',
  'tracking-param': 'strip-params',
  'text-param': 'strip-params',
};

export function decide(c: Candidate, v: Verdict, consent: Consent): Action {
  if (consent[SCOPE_OF[c.kind]]) return 'keep';
  const a = ACTION_WITHOUT_CONSENT[v.technique];
  if (a !== 'per-link') {
    // the detector knows the removable unit (a srcset inside <picture> is a whole <source>)
    return a === 'strip-params' ? a : c.removeAction;
  }
  if (v.protectedLink) return 'keep';
  return v.destination ? 'unwrap-link' : 'neutralise-link';
}
