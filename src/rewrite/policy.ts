/**
 * The policy: finding x consent -> action. This table is where behaviour is decided and where an
 * auditor reads it: one row per technique (the vocabulary in types.ts), saying which consent scope
 * lets the tracker stay and what happens without it. Nothing else picks an action.
 */
import type { Action, Consent, Technique } from './types.js';
import type { Candidate } from './detectors/types.js';
import type { Verdict } from './types.js';

/**
 * What happens without consent:
 *  - remove:       the beacon goes, in the smallest unit that stops the fetch; the detector knows
 *                  that unit (an <img>, a srcset attribute, a whole <source> inside <picture>, a
 *                  CSS declaration), so the row lists the units this technique can have;
 *  - per-link:     unwrap when the destination is recoverable, else neutralise; a link the
 *                  recipient needs (unsubscribe, preferences, view online) is kept as written;
 *  - strip-params: per-recipient parameters go; a URL that cannot be rewritten is neutralised;
 *  - remove-header: the header field goes.
 */
type Treatment = 'remove' | 'per-link' | 'strip-params' | 'remove-header';

export interface PolicyRow {
  /** The consent scope that lets this technique's trackers stay. */
  readonly scope: keyof Consent;
  readonly withoutConsent: Treatment;
  /** Every action a finding of this technique may end with when the scope is not consented. */
  readonly actions: readonly Action[];
}

const remove = (...actions: Action[]): PolicyRow => ({ scope: 'opens', withoutConsent: 'remove', actions });
const PER_LINK: PolicyRow = { scope: 'clicks', withoutConsent: 'per-link', actions: ['unwrap-link', 'neutralise-link', 'ask-link', 'keep'] };
const STRIP: PolicyRow = { scope: 'clicks', withoutConsent: 'strip-params', actions: ['strip-params', 'neutralise-link'] };

export const POLICY: Readonly<Record<Technique, PolicyRow>> = {
  img: remove('remove-element'),
  srcset: remove('remove-attribute', 'remove-element'),
  'input-image': remove('remove-element'),
  'background-attr': remove('remove-attribute'),
  'css-url': remove('drop-declaration', 'remove-attribute'),
  'css-import': remove('drop-declaration', 'remove-attribute'),
  'css-font-face': remove('drop-declaration', 'remove-attribute'),
  'link-rel': remove('remove-element'),
  'meta-refresh': remove('remove-element'),
  media: remove('remove-element'),
  'media-poster': remove('remove-attribute'),
  iframe: remove('remove-element'),
  object: remove('remove-element'),
  embed: remove('remove-element'),
  applet: remove('remove-element'),
  script: remove('remove-element'),
  bgsound: remove('remove-element'),
  'svg-image': remove('remove-element'),
  manifest: remove('remove-attribute'),
  vml: remove('remove-element', 'remove-attribute'),
  amp: remove('remove-element'),
  // a ping reports the click, so it needs clicks consent; the attribute goes, the link stays
  'a-ping': { scope: 'clicks', withoutConsent: 'remove', actions: ['remove-attribute'] },
  'read-receipt': { scope: 'opens', withoutConsent: 'remove-header', actions: ['remove-header'] },
  'tracked-link': PER_LINK,
  'text-link': PER_LINK,
  'tracking-param': STRIP,
  'text-param': STRIP,
};

/**
 * With consent a tracker stays; with the HTTP side (web) it may stay behind the gate
 * (`gate-link`), and it is disclosed. Header findings (read receipts) ask the recipient's client,
 * not a server: no gate, no notice.
 */
const WITH_CONSENT: readonly Action[] = ['keep', 'gate-link'];

/** What the relay's HTTP side adds to the table (config consent.gate, links.opaque). */
export interface WebPolicy {
  /** Kept trackers go through the gate. */
  readonly gate: boolean;
  /** Opaque tracked links without consent become ask links instead of losing their URL. */
  readonly ask: boolean;
}

const NO_WEB: WebPolicy = { gate: false, ask: false };

/** The actions a finding of `technique` may have under `consent` (enforce mode). */
export function allowedActions(technique: Technique, consent: Consent): readonly Action[] {
  const row = POLICY[technique];
  return consent[row.scope] ? (row.withoutConsent === 'remove-header' ? ['keep'] : WITH_CONSENT) : row.actions;
}

/** Whether a tracker of `technique` stays because of `consent`, so the recipient is told about it (consent.disclose). */
export function disclosed(technique: Technique, consent: Consent): boolean {
  const row = POLICY[technique];
  return consent[row.scope] && row.withoutConsent !== 'remove-header';
}

export function decide(c: Candidate, v: Verdict, consent: Consent, web: WebPolicy = NO_WEB): Action {
  const row = POLICY[v.technique];
  // a link the recipient needs (unsubscribe) keeps working as written, gate or not
  if (consent[row.scope]) return web.gate && row.withoutConsent !== 'remove-header' && !v.protectedLink ? 'gate-link' : 'keep';
  switch (row.withoutConsent) {
    case 'remove':
      return pick(row, c.removeAction);
    case 'remove-header':
      return 'remove-header';
    case 'strip-params':
      return 'strip-params';
    case 'per-link':
      if (v.protectedLink) return 'keep';
      return v.destination ? 'unwrap-link' : web.ask ? 'ask-link' : 'neutralise-link';
  }
}

/**
 * What to do when the chosen action has nothing to edit (a URL with no slot to rewrite): remove
 * rather than keep a tracker. Links lose their URL; beacons go by the detector's unit.
 */
export function fallback(c: Candidate, v: Verdict): Action {
  const row = POLICY[v.technique];
  return row.withoutConsent === 'per-link' || row.withoutConsent === 'strip-params' ? 'neutralise-link' : pick(row, c.removeAction);
}

function pick(row: PolicyRow, unit: Candidate['removeAction']): Action {
  // a unit the table does not list for this technique is a detector bug: fail towards removal
  return row.actions.includes(unit) ? unit : row.actions[0]!;
}
