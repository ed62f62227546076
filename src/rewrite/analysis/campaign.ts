/**
 * Learning from the copies the relay sees (issue 8, item 2). Each copy of a campaign is recorded
 * in the campaign store (keyed hashes of URL values, see src/campaign/); a URL position whose
 * value differs between recipients is per-recipient, and from the copy where that becomes known
 * on (this one included) it goes: a varying query parameter of a link is stripped; a link with a
 * varying path segment is an opaque per-recipient redirect and is neutralised; a remote load
 * (image, CSS, ...) with any varying position is removed.
 *
 * The first copy of a campaign cannot be helped: nothing is known yet. Protection (unsubscribe,
 * List-Unsubscribe) and vendor rules still come first in classification.
 */
import type { CampaignStore, Position } from '../../campaign/store.js';
import { slotKey } from '../../campaign/store.js';
import type { Verdict } from '../types.js';
import type { Candidate } from '../detectors/types.js';
import { campaignKey, displayShape, placedShapes, starred, withoutParams } from './campaign-key.js';
import type { Analyser, Hint } from './types.js';

const CAMPAIGN_RULE_ID = 'campaign.varying-position';

/** A template that became known as carrying per-recipient positions, as the audit log shows it. */
export interface LearnedTemplate {
  /** Keyed short reference to the campaign (groups the templates of one campaign). */
  readonly campaign: string;
  readonly host: string;
  /** Path and query with varying positions as `{v}`, e.g. "/go/{v}/*?t={v}". */
  readonly pathShape: string;
  readonly positions: readonly Position[];
  /** Copies of the campaign seen when it was learned. */
  readonly copies: number;
}

/** What the relay (or `scan --campaign`) gives the engine so that it can learn across copies. */
export interface CampaignContext {
  readonly store: CampaignStore;
  /** Envelope sender (MAIL FROM); only its domain enters the campaign key. */
  readonly sender: string;
  /** Called once per template that became per-recipient with this copy. */
  readonly onLearned?: (t: LearnedTemplate) => void;
  /** The clock; for tests of the window. */
  readonly now?: () => Date;
}

export function campaignAnalyser(cc: CampaignContext, recipients: readonly string[]): Analyser {
  return {
    id: 'campaign',
    async analyse(view) {
      const out = new Map<Candidate, Hint>();
      const shapes = placedShapes(view);
      if (!shapes.length) return out;
      const key = campaignKey(view, shapes, cc.sender, recipients);
      if (key === null) return out;
      const state = await cc.store.observe({ campaign: key, slots: shapes.map((s) => ({ template: s.shape.template, occurrence: s.occurrence, values: s.shape.values })) }, cc.now?.());
      if (cc.onLearned) {
        for (const l of state.learned) {
          const example = shapes.find((s) => s.shape.template === l.template);
          if (!example) continue;
          const host = l.template.split(/[/?]/)[0]!;
          cc.onLearned({ campaign: state.ref, host, pathShape: displayShape(example.candidate.url, new Set(l.positions)), positions: l.positions, copies: state.copies });
        }
      }
      for (const s of shapes) {
        const varying = state.varying.get(slotKey(s.shape.template, s.occurrence));
        if (!varying?.length) continue;
        const positions = new Set(varying.map((v) => v.position));
        const distinct = Math.max(...varying.map((v) => v.distinct));
        const note = `value differs across ${distinct} copies of this campaign (${[...positions].sort().join(', ')})`;
        out.set(s.candidate, { verdict: verdictFor(s.candidate, positions, note) });
      }
      return out;
    },
  };
}

function verdictFor(c: Candidate, positions: ReadonlySet<Position>, note: string): Verdict {
  // a short token ("Lm4tR") does not look like an id to the audit redactor; here it is known to be one
  const base = { ruleId: CAMPAIGN_RULE_ID, vendor: null, note, auditUrl: starred(c.url, positions) };
  if (c.kind === 'open' || c.technique === 'a-ping') return { ...base, technique: c.technique };
  const inPath = [...positions].some((p) => p.startsWith('path '));
  if (!inPath) {
    const stripped = withoutParams(c.url, positions);
    if (stripped.removed.length) {
      return { ...base, technique: c.technique === 'text-link' ? 'text-param' : 'tracking-param', cleaned: stripped.url, params: stripped.removed };
    }
  }
  // the recipient is in the path: no version of this URL both works and forgets who clicked
  return { ...base, technique: c.technique, destination: null };
}
