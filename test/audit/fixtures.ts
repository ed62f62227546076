/** Audit events for the audit tests, built from addresses through a log's own hash. */
import type { AuditEvent } from '../../src/audit/events.js';

export function sampleEvents(hash: (address: string) => string): AuditEvent[] {
  const alice = hash('alice@example.com');
  const bob = hash('bob@example.org');
  const carol = hash('carol@example.net');
  return [
    {
      type: 'relayed',
      at: '2026-10-01T10:00:00.000Z',
      queueId: 'Q1',
      messageId: '<m1@sender.example>',
      sender: 'News@Sender.example',
      consentClass: '',
      recipientCount: 2,
      recipientHashes: [alice, bob],
      upstream: '250 2.0.0 Ok: queued as ABC123',
      rulesVersion: '2026.10.1',
      mode: 'enforce',
      findingCount: 1,
    },
    {
      type: 'finding',
      at: '2026-10-01T10:00:00.000Z',
      queueId: 'Q1',
      consentClass: '',
      kind: 'open',
      technique: 'img',
      vendor: 'Mailchimp',
      ruleId: 'mailchimp.open',
      action: 'remove-element',
      redactedUrl: 'https://example.us1.list-manage.com/track/open.php?…',
      recipientHashes: [alice, bob],
    },
    {
      type: 'relayed',
      at: '2026-10-02T10:00:00.000Z',
      queueId: 'Q2',
      messageId: null,
      sender: 'sales@other.example',
      consentClass: 'opens,clicks',
      recipientCount: 1,
      recipientHashes: [carol],
      upstream: '250 ok',
      rulesVersion: '2026.10.1',
      mode: 'monitor',
      findingCount: 0,
    },
    {
      type: 'rejected',
      at: '2026-10-03T10:00:00.000Z',
      queueId: 'Q3',
      consentClass: '',
      recipientHashes: [bob],
      reason: '550 5.1.1 <bob@example.org>: Recipient address rejected',
    },
  ];
}
