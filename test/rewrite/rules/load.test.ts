import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knownDecoderIds } from '../../../src/rewrite/decoders/index.js';
import { defaultRulesPath, loadRuleSet, nestedQuantifierAt, parseRuleSet } from '../../../src/rewrite/rules/load.js';

// A fixed registry keeps the loader-error cases independent of the decoders module.
const DECODERS = new Set(['query', 'path', 'base64', 'generic']);

describe('shipped rules file', () => {
  const rules = loadRuleSet(defaultRulesPath(), knownDecoderIds);

  it('loads with every decoder id in the registry', () => {
    expect(rules.version).toMatch(/^\d{4}\.\d{2}\.\d{2}-\d+$/);
  });

  it('covers at least 300 rules across 250 vendors', () => {
    expect(rules.trackers.length).toBeGreaterThanOrEqual(300);
    expect(new Set(rules.trackers.map((r) => r.vendor)).size).toBeGreaterThanOrEqual(250);
    expect(rules.params.length).toBeGreaterThanOrEqual(100);
  });

  it('has unique ids', () => {
    const ids = [...rules.trackers, ...rules.params].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('has no regex with nested quantifiers', () => {
    for (const r of rules.trackers) {
      for (const re of [r.path, r.query, r.url]) if (re) expect(nestedQuantifierAt(re.source), r.id).toBe(-1);
    }
  });

  it('is found from the package root', () => {
    expect(defaultRulesPath()).toMatch(/src[/\\]rewrite[/\\]rules[/\\]trackers\.yaml$/);
  });
});

describe('loader errors name the entry and the key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-'));
  const entry = (extra: string) => `version: '1'\ntrackers:\n  - id: ok.open\n    vendor: Ok\n    kind: open\n    host: ok.example\n${extra}`;

  // [case, yaml, expected message fragments]
  const cases: [string, string, RegExp[]][] = [
    ['bad regex', entry("  - id: bad.open\n    vendor: Bad\n    kind: open\n    path: '^/(open'\n"), [/trackers\[1\] \(id "bad\.open"\)\.path/, /invalid regular expression/]],
    ['nested quantifier', entry("  - id: slow.open\n    vendor: Slow\n    kind: open\n    path: '^/(?:[a-z]+/)*x'\n"), [/trackers\[1\] \(id "slow\.open"\)\.path/, /nested quantifiers/]],
    ['duplicate id', entry('  - id: ok.open\n    vendor: Again\n    kind: open\n    host: again.example\n'), [/trackers\[1\] \(id "ok\.open"\)/, /duplicate id, already used by trackers\[0\]/]],
    ['unknown key', entry('  - id: typo.open\n    vendor: Typo\n    kind: open\n    hots: typo.example\n'), [/trackers\[1\] \(id "typo\.open"\)/, /unknown key "hots"/]],
    [
      'unknown decoder',
      entry('  - id: dec.click\n    vendor: Dec\n    kind: click\n    host: dec.example\n    unwrap: {decoder: rot13}\n'),
      [/trackers\[1\] \(id "dec\.click"\)\.unwrap\.decoder/, /unknown decoder "rot13"/],
    ],
    [
      'unwrap on an open rule',
      entry('  - id: pix.open\n    vendor: Pix\n    kind: open\n    host: pix.example\n    unwrap: {decoder: query, param: u}\n'),
      [/pix\.open/, /only click \(or both\) rules can be unwrapped/],
    ],
    ['bad kind', entry('  - id: k.open\n    vendor: K\n    kind: opens\n    host: k.example\n'), [/trackers\[1\] \(id "k\.open"\)\.kind/, /open, click, both/]],
    ['host with scheme', entry('  - id: h.open\n    vendor: H\n    kind: open\n    host: https://h.example/\n'), [/trackers\[1\] \(id "h\.open"\)\.host/, /host name/]],
    ['no condition', entry('  - id: all.open\n    vendor: All\n    kind: open\n'), [/all\.open/, /at least one of host, path, query, url/]],
    ['duplicate param', `${entry('')}params:\n  - {id: p.a, vendor: null, name: x}\n  - {id: p.b, vendor: null, name: X}\n`, [/params\[1\] \(id "p\.b"\)/, /already listed as p\.a/]],
    ['star inside a param name', `${entry('')}params:\n  - {id: p.a, vendor: null, name: 'a*b'}\n`, [/params\[0\] \(id "p\.a"\)\.name/, /prefix ending in "\*"/]],
    ['unknown top-level key', `${entry('')}trakers: []\n`, [/top level: unknown key "trakers"/]],
    ['YAML syntax', "version: '1'\ntrackers: [\n", [/not valid YAML/]],
    ['duplicate YAML key', entry('    host: twice.example\n'), [/not valid YAML/, /[Mm]ap keys must be unique/]],
  ];

  it.each(cases)('%s', (_name, yaml, fragments) => {
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, yaml);
    let message = '';
    try {
      loadRuleSet(file, DECODERS);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(file);
    for (const f of fragments) expect(message).toMatch(f);
  });

  it('reports a missing file with its path', () => {
    expect(() => loadRuleSet(join(dir, 'nope.yaml'))).toThrow(/cannot read rules file .*nope\.yaml/);
  });

  it('accepts any decoder id when no registry is given', () => {
    const rules = parseRuleSet(entry('  - id: d.click\n    vendor: D\n    kind: click\n    host: d.example\n    unwrap: {decoder: future}\n'));
    expect(rules.trackers[1]?.unwrap).toEqual({ decoder: 'future' });
  });
});

describe('nestedQuantifierAt', () => {
  const cases: [string, boolean][] = [
    ['(a+)+', true],
    ['(?:[a-z0-9-]+\\.)*x', true],
    ['(a*){2,}', true],
    ['((a)+)*', true],
    ['^/(?:[^/?#]*\\.)?mkt\\d+', false],
    ['^/e[1-3]t/(?:o|to)/', false],
    ['(a+)?', false],
    ['[(a+)]+', false],
    ['\\(a+\\)+', false],
    ['(?:[a-z]+\\.){3}', false],
  ];
  it.each(cases)('%s -> %s', (source, nested) => {
    expect(nestedQuantifierAt(source) >= 0).toBe(nested);
  });
});
