import { describe, expect, it } from 'vitest';

import type { AuditRow } from '../../src/audit/log.js';
import { csvField, formatAudit } from '../../src/audit/report.js';
import { sampleEvents } from './fixtures.js';

const hash = (a: string): string => (a.startsWith('alice') ? 'a' : a.startsWith('bob') ? 'b' : 'c').repeat(64);
const ROWS: AuditRow[] = sampleEvents(hash).map((e, i) => ({ ...e, id: i + 1 }));

describe('formatAudit', () => {
  it('json: one array of the rows', () => {
    expect(JSON.parse(formatAudit(ROWS, 'json'))).toEqual(ROWS);
  });

  it('csv: header, one record per row, RFC 4180 quoting, CRLF', () => {
    const out = formatAudit(ROWS, 'csv');
    const lines = out.split('\r\n');
    expect(lines[0]).toBe(
      'id,at,type,queue_id,consent_class,recipient_hashes,sender,message_id,recipient_count,upstream,rules_version,mode,finding_count,kind,technique,vendor,rule_id,action,redacted_url,count,reason,campaign,host,path_shape,positions,copies,spool_id,attempt,next_attempt_at,cause,dsn,dsn_recipient_hash,dsn_spool_id,note,detail',
    );
    expect(lines[1]).toBe(
      `1,2026-10-01T10:00:00.000Z,relayed,Q1,,${'a'.repeat(64)} ${'b'.repeat(64)},News@Sender.example,<m1@sender.example>,2,250 2.0.0 Ok: queued as ABC123,2026.10.1,enforce,1${','.repeat(22)}`,
    );
    expect(lines[2]).toBe(
      `2,2026-10-01T10:00:00.000Z,finding,Q1,,${'a'.repeat(64)} ${'b'.repeat(64)},,,,,,,,open,img,Mailchimp,mailchimp.open,remove-element,https://example.us1.list-manage.com/track/open.php?…,1,${','.repeat(14)}`,
    );
    expect(lines[3]).toContain(',"opens,clicks",');
    expect(lines).toHaveLength(ROWS.length + 2);
    expect(lines.at(-1)).toBe('');
  });

  it('csv and table: a learned campaign template shows host, path shape and positions, no values', () => {
    const row = {
      id: 9,
      type: 'campaign-template',
      at: '2026-10-01T10:00:00.000Z',
      queueId: 'Q9',
      consentClass: '',
      recipientHashes: [],
      campaign: 'a7605b0105f3',
      host: 'go.shop.example',
      pathShape: '/r/{v}/*',
      positions: ['path 2'],
      copies: 2,
    } as const;
    expect(formatAudit([row], 'csv').split('\r\n')[1]).toBe('9,2026-10-01T10:00:00.000Z,campaign-template,Q9,,,,,,,,,,,,,,,,,,a7605b0105f3,go.shop.example,/r/{v}/*,path 2,2,,,,,,,,,');
    expect(formatAudit([row], 'table')).toContain('campaign a7605b0105f3: go.shop.example/r/{v}/* varies at path 2 (2 copies)');
  });

  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    [' padded ', '" padded "'],
    ['=HYPERLINK("x")', '"\'=HYPERLINK(""x"")"'],
    ['-1+2', "'-1+2"],
    ['', ''],
  ])('csv field %j → %j', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it('table: aligned columns, one line per row', () => {
    expect(formatAudit(ROWS, 'table')).toBe(
      [
        'id  at                        type      queue id  consent       rcpts  detail',
        '1   2026-10-01T10:00:00.000Z  relayed   Q1        none          2      from News@Sender.example enforce rules 2026.10.1, 1 finding(s), upstream: 250 2.0.0 Ok: queued as ABC123',
        '2   2026-10-01T10:00:00.000Z  finding   Q1        none          2      remove-element open/img Mailchimp mailchimp.open https://example.us1.list-manage.com/track/open.php?…',
        '3   2026-10-02T10:00:00.000Z  relayed   Q2        opens,clicks  1      from sales@other.example monitor rules 2026.10.1, 0 finding(s), upstream: 250 ok',
        '4   2026-10-03T10:00:00.000Z  rejected  Q3        none          1      550 5.1.1 <bob@example.org>: Recipient address rejected',
        '',
      ].join('\n'),
    );
    expect(formatAudit([], 'table')).toBe('no audit events\n');
    expect(formatAudit([], 'csv').split('\r\n')).toHaveLength(2);
    expect(formatAudit([], 'json')).toBe('[]\n');
  });

  it('spool events: their own columns in CSV, one readable line in the table', () => {
    const h = (c: string): string => c.repeat(64);
    const rows: AuditRow[] = [
      {
        id: 5,
        type: 'spooled',
        at: '2026-10-04T10:00:00.000Z',
        queueId: 'Q4',
        consentClass: '',
        recipientHashes: [h('c')],
        spoolId: 'S1',
        attempt: 1,
        upstream: '451 4.2.0 busy',
        nextAttemptAt: '2026-10-04T10:05:00.000Z',
      },
      {
        id: 6,
        type: 'bounced',
        at: '2026-10-05T10:00:00.000Z',
        queueId: 'Q4',
        consentClass: '',
        recipientHashes: [h('c')],
        spoolId: 'S1',
        attempt: 3,
        upstream: '550 5.1.1 gone',
        cause: 'permanent',
        dsn: 'queued',
        dsnRecipientHash: h('d'),
        dsnSpoolId: 'S2',
      },
      { id: 7, type: 'dropped', at: '2026-10-06T10:00:00.000Z', queueId: 'Q5', consentClass: 'dsn', recipientHashes: [h('d')], spoolId: 'S2', attempt: 2, upstream: '451 later' },
    ];
    const csv = formatAudit(rows, 'csv').split('\r\n');
    expect(csv[1]).toBe(`5,2026-10-04T10:00:00.000Z,spooled,Q4,,${h('c')},,,,451 4.2.0 busy,,,,,,,,,,,,,,,,,S1,1,2026-10-04T10:05:00.000Z,,,,,,`);
    expect(csv[2]).toBe(`6,2026-10-05T10:00:00.000Z,bounced,Q4,,${h('c')},,,,550 5.1.1 gone,,,,,,,,,,,,,,,,,S1,3,,permanent,queued,${h('d')},S2,,`);
    expect(csv[3]).toBe(`7,2026-10-06T10:00:00.000Z,dropped,Q5,dsn,${h('d')},,,,451 later,,,,,,,,,,,,,,,,,S2,2,,,,,,,`);
    const table = formatAudit(rows, 'table').split('\n');
    expect(table[1]).toMatch(/spooled +Q4 +none +1 +spool S1 attempt 1, next 2026-10-04T10:05:00.000Z, upstream: 451 4.2.0 busy$/);
    expect(table[2]).toMatch(/bounced +Q4 +none +1 +permanent spool S1 attempt 3, DSN queued to dddddddddddd… as S2, upstream: 550 5.1.1 gone$/);
    expect(table[3]).toMatch(/dropped +Q5 +dsn +1 +by an operator: spool S2 after 2 attempt\(s\), last: 451 later$/);
  });
});
