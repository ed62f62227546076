/** The HTML report's parts that the browser test's data does not reach: a failed chain, escaping, no remote loads. */
import { describe, expect, it } from 'vitest';

import { renderHtmlReport } from '../../src/audit/html.js';
import { summarise } from '../../src/audit/summary.js';
import type { AuditRow } from '../../src/audit/log.js';

const h = (c: string): string => c.repeat(64);
const rows: AuditRow[] = [
  {
    id: 1,
    type: 'relayed',
    at: '2026-11-01T10:00:00.000Z',
    queueId: 'Q1',
    consentClass: '',
    recipientHashes: [h('a')],
    messageId: null,
    sender: '<b>evil</b>@x.example',
    recipientCount: 1,
    upstream: '250 ok',
    rulesVersion: 'r1',
    mode: 'enforce',
    findingCount: 1,
    mailer: 'Tool "<script>"',
  },
  {
    id: 2,
    type: 'finding',
    at: '2026-11-01T10:00:00.000Z',
    queueId: 'Q1',
    consentClass: '',
    recipientHashes: [h('a')],
    kind: 'open',
    technique: 'img',
    vendor: 'V<1>',
    ruleId: 'v.open',
    action: 'remove-element',
    redactedUrl: 'https://t.example/o',
    count: 2,
  },
  {
    id: 3,
    type: 'finding',
    at: '2026-11-02T10:00:00.000Z',
    queueId: 'Q2',
    consentClass: '',
    recipientHashes: [h('b')],
    kind: 'open',
    technique: 'img',
    vendor: null,
    ruleId: 'h',
    action: 'keep',
    redactedUrl: 'https://t.example/o',
    mode: 'monitor',
  },
];

describe('renderHtmlReport', () => {
  it('a broken chain is shown as FAILED with its problems; text from the log is escaped', () => {
    const html = renderHtmlReport({
      summary: summarise(rows, 'day'),
      chain: { ok: false, events: 3, head: { seq: 3, mac: h('c') }, firstSeq: 1, unchained: 0, purgedThrough: 0, problems: [{ kind: 'edited', seq: 2, message: 'event #2 <x>: edited' }] },
      generatedAt: '2026-11-30T00:00:00.000Z',
    });
    expect(html).toContain('FAILED: 1 problem(s) in 3 event(s).');
    expect(html).toContain('edited: event #2 &lt;x&gt;: edited');
    expect(html).toContain('&lt;b&gt;evil&lt;/b&gt;@x.example');
    expect(html).toContain('Tool &quot;&lt;script&gt;&quot;');
    expect(html).not.toContain('<script');
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
  });

  it('monitor-mode findings are counted as kept, not removed', () => {
    const s = summarise(rows, 'day');
    expect(s.groups).toEqual([
      { key: '2026-11-01', messages: 1, trackers: 2, removals: 2, kept: 0 },
      { key: '2026-11-02', messages: 1, trackers: 1, removals: 0, kept: 1 },
    ]);
    expect(s.daily).toEqual([{ day: '2026-11-01', vendor: 'V<1>', removals: 2 }]);
  });
});
