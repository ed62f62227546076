import { describe, expect, it } from 'vitest';
import { Allowlist } from '../../src/smtp/cidr.js';

describe('smart-host allowlist', () => {
  const list = new Allowlist(['127.0.0.2/32', '10.1.0.0/16', '2001:db8:25::/48', '::1'], 'listeners[0] allow');

  it.each([
    ['127.0.0.2', true],
    ['127.0.0.3', false],
    ['::ffff:127.0.0.2', true],
    ['::ffff:127.0.0.3', false],
    ['10.1.255.7', true],
    ['10.2.0.1', false],
    ['2001:db8:25:1::9', true],
    ['2001:db8:26::1', false],
    ['::1', true],
    ['not-an-ip', false],
  ])('%s → %s', (addr, allowed) => {
    expect(list.allows(addr)).toBe(allowed);
  });

  it.each([
    ['0.0.0.0/0', /every address/],
    ['::/0', /every address/],
    ['10.0.0.0/33', /prefix length above \/32/],
    ['example.com/24', /not an IPv4 or IPv6 network/],
  ])('refuses %s', (range, re) => {
    expect(() => new Allowlist([range], 'listeners[1] allow')).toThrow(re);
  });
});
