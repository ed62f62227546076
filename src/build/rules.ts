/**
 * Build step (`npm run build`, after tsc): validates the rule tables and writes their compiled
 * artefacts to dist/rules/ (see src/rewrite/rules/artefact.ts). A table that does not validate
 * fails the build with the loader's message, as it would fail the relay's start.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { packageRoot } from '../paths.js';
import { knownDecoderIds } from '../rewrite/decoders/index.js';
import { compileNeededData, neededLinksPath, validateNeededLinks } from '../rewrite/protect/needed-links.js';
import { writeArtefact } from '../rewrite/rules/artefact.js';
import { compileRuleData } from '../rewrite/rules/compile.js';
import { defaultRulesPath, validateRuleFile } from '../rewrite/rules/load.js';

/** Writes both artefacts under `root`/dist/rules; returns the files written. */
export function buildRuleArtefacts(root: string = packageRoot()): string[] {
  const rulesFile = defaultRulesPath();
  const rulesText = readFileSync(rulesFile, 'utf8');
  const rules = validateRuleFile(rulesText, rulesFile);
  compileRuleData(rules, knownDecoderIds, rulesFile); // the same checks the relay runs at start
  const neededFile = neededLinksPath();
  const neededText = readFileSync(neededFile, 'utf8');
  const needed = validateNeededLinks(neededText, neededFile);
  compileNeededData(needed, neededFile);
  return [writeArtefact('trackers', rulesText, rules, root), writeArtefact('needed-links', neededText, needed, root)];
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  try {
    for (const f of buildRuleArtefacts()) process.stdout.write(`compiled ${relative(packageRoot(), f)}\n`);
  } catch (err) {
    process.stderr.write(`build: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
