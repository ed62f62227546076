/**
 * The compiled rule artefacts (written by `npm run build`, read by the loaders when their hash
 * matches the YAML): what the build writes is the YAML as validated, the matcher built from it
 * behaves as the one built from the YAML, and an artefact of other text is never used.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRuleArtefacts } from '../../../src/build/rules.js';
import { knownDecoderIds } from '../../../src/rewrite/decoders/index.js';
import { neededLinksPath, validateNeededLinks } from '../../../src/rewrite/protect/needed-links.js';
import { artefactPath, readArtefact, sha256, writeArtefact } from '../../../src/rewrite/rules/artefact.js';
import { compileRuleData, type RuleFileData } from '../../../src/rewrite/rules/compile.js';
import { defaultRulesPath, parseRuleSet, validateRuleFile } from '../../../src/rewrite/rules/load.js';
import type { RuleSet } from '../../../src/rewrite/rules/types.js';

const rulesText = readFileSync(defaultRulesPath(), 'utf8');
const neededText = readFileSync(neededLinksPath(), 'utf8');

/** The rules as plain data, regexes by source, so two rule sets compare with toEqual. */
function shape(r: RuleSet): unknown {
  return {
    version: r.version,
    trackers: r.trackers.map((t) => ({ ...t, path: t.path?.source, query: t.query?.source, url: t.url?.source })),
    params: r.params,
  };
}

describe('rule artefacts', () => {
  const root = mkdtempSync(join(tmpdir(), 'consent-relay-artefact-'));
  const files = buildRuleArtefacts(root);

  it('the build writes the YAML as validated, with its hash', () => {
    expect(files).toEqual([artefactPath('trackers', root), artefactPath('needed-links', root)]);
    const trackers = JSON.parse(readFileSync(files[0]!, 'utf8')) as { sha256: string; data: unknown };
    expect(trackers.sha256).toBe(sha256(rulesText));
    expect(trackers.data).toEqual(JSON.parse(JSON.stringify(validateRuleFile(rulesText))));
    const needed = JSON.parse(readFileSync(files[1]!, 'utf8')) as { sha256: string; data: unknown };
    expect(needed.sha256).toBe(sha256(neededText));
    expect(needed.data).toEqual(JSON.parse(JSON.stringify(validateNeededLinks(neededText))));
  });

  it('a rule set from the artefact matches URLs as the one from the YAML does', () => {
    const data = readArtefact<RuleFileData>('trackers', rulesText, root);
    expect(data).not.toBeNull();
    const fast = compileRuleData(data!, knownDecoderIds, 'artefact');
    const slow = parseRuleSet(rulesText, knownDecoderIds);
    expect(shape(fast)).toEqual(shape(slow));
    for (const u of ['https://us5.list-manage.com/track/open.php?u=1&id=2', 'https://click.example.com/ls/click?upn=abc', 'https://example.org/plain']) {
      for (const kind of ['open', 'click'] as const) expect(fast.matchUrl(new URL(u), kind)?.ruleId).toBe(slow.matchUrl(new URL(u), kind)?.ruleId);
    }
  });

  it('is ignored for any other text: an edited YAML is parsed, never served stale', () => {
    expect(readArtefact('trackers', `${rulesText}\n# edited\n`, root)).toBeNull();
    expect(readArtefact('needed-links', rulesText, root)).toBeNull();
    expect(readArtefact('trackers', rulesText, join(root, 'nowhere'))).toBeNull();
  });

  it('is still checked by the compiler: a bad regex in an artefact stops the load', () => {
    const other = mkdtempSync(join(tmpdir(), 'consent-relay-artefact-'));
    const text = 'version: "1"\ntrackers: []\n';
    writeArtefact('trackers', text, { version: '1', trackers: [{ id: 'x.open', vendor: 'X', kind: 'open', path: '(a+)+' }], params: [] }, other);
    const data = readArtefact<RuleFileData>('trackers', text, other);
    expect(() => compileRuleData(data!, knownDecoderIds, 'artefact')).toThrow(/repeats a group/);
  });

  it('a truncated artefact is no artefact', () => {
    const other = mkdtempSync(join(tmpdir(), 'consent-relay-artefact-'));
    const file = writeArtefact('trackers', rulesText, validateRuleFile(rulesText), other);
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 1000));
    expect(readArtefact('trackers', rulesText, other)).toBeNull();
  });
});
