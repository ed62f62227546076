/** Loads the rule set once at start-up; errors become RULES_INVALID with the loader's message. */
import { RelayError } from '../../errors.js';
import { knownDecoderIds } from '../decoders/index.js';
import { defaultRulesPath, loadRuleSet } from './load.js';
import type { RuleSet } from './types.js';

export function loadRules(file?: string): RuleSet {
  const path = file ?? defaultRulesPath();
  try {
    return loadRuleSet(path, knownDecoderIds);
  } catch (err) {
    throw new RelayError('RULES_INVALID', `tracker rules ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
