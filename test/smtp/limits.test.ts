import { describe, expect, it } from 'vitest';
import { FailureCounter, PerMinute } from '../../src/smtp/limits.js';
import { parseSenders, senderAllowed } from '../../src/users/store.js';

describe('failed-login counter', () => {
  it('locks a key after maxFailures within the window, for a lockout that doubles each time', () => {
    let now = 0;
    const c = new FailureCounter({ maxFailures: 3, windowMs: 60_000, lockoutMs: 10_000 }, () => now);
    expect([c.fail('ip'), c.fail('ip')]).toEqual([0, 0]);
    expect(c.lockedFor('ip')).toBe(0);
    expect(c.fail('ip')).toBe(10_000);
    expect(c.lockedFor('ip')).toBe(10_000);
    expect(c.lockedFor('other')).toBe(0);
    now += 10_000;
    expect(c.lockedFor('ip')).toBe(0);
    c.fail('ip');
    c.fail('ip');
    expect(c.fail('ip')).toBe(20_000);
  });

  it('failures outside the window do not count, and a success forgets them', () => {
    let now = 0;
    const c = new FailureCounter({ maxFailures: 2, windowMs: 1000, lockoutMs: 5000 }, () => now);
    c.fail('u');
    now += 1001;
    expect(c.fail('u')).toBe(0);
    c.succeed('u');
    expect(c.fail('u')).toBe(0);
    expect(c.fail('u')).toBe(5000);
  });
});

describe('per-minute allowance', () => {
  it('takes up to the limit in a sliding minute, then refuses without taking', () => {
    let now = 0;
    const m = new PerMinute(2, () => now);
    expect([m.take('alice'), m.take('alice'), m.take('alice'), m.take('bob')]).toEqual([true, true, false, true]);
    now += 30_000;
    expect(m.take('alice')).toBe(false);
    now += 30_001;
    expect(m.take('alice')).toBe(true);
  });
});

describe('allowed senders', () => {
  const senders = parseSenders('Alice@Example.com, @sales.example.com');
  it.each([
    ['alice@example.com', true],
    ['ALICE@EXAMPLE.COM', true],
    ['bob@sales.example.com', true],
    ['bob@example.com', false],
    ['alice@example.com.evil.example', false],
    ['bob@evil-sales.example.com', false],
    ['bob@sub.sales.example.com', false],
    ['', false],
  ])('%s → %s', (from, ok) => {
    expect(senderAllowed(senders, from)).toBe(ok);
  });
});
