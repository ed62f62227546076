/**
 * Source-address allowlists for smart-host listeners: CIDR ranges, IPv4 and IPv6. An IPv4 client
 * on a dual-stack socket shows up as ::ffff:a.b.c.d and is matched against the IPv4 ranges.
 */
import { BlockList, isIP } from 'node:net';
import { RelayError } from '../errors.js';

export class Allowlist {
  private readonly list = new BlockList();

  /** `where` names the config key in errors ("listeners[1].allow"). */
  constructor(
    readonly ranges: readonly string[],
    where: string,
  ) {
    for (const r of ranges) {
      const [net = '', bits] = r.split('/');
      const family = isIP(net);
      if (!family) throw new RelayError('CONFIG_INVALID', `${where}: ${r} is not an IPv4 or IPv6 network (e.g. 192.0.2.0/24, 2001:db8::/32)`);
      const max = family === 4 ? 32 : 128;
      const prefix = bits === undefined ? max : Number(bits);
      if (!Number.isInteger(prefix) || prefix > max) throw new RelayError('CONFIG_INVALID', `${where}: ${r} has a prefix length above /${max}`);
      // a /0 admits the whole Internet: that is an open relay, whatever else is configured
      if (prefix === 0) throw new RelayError('CONFIG_INVALID', `${where}: ${r} allows every address (an open relay); list the networks of your own MTAs`);
      this.list.addSubnet(net, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  allows(address: string): boolean {
    const a = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    const family = isIP(a);
    if (!family) return false;
    return this.list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }
}
