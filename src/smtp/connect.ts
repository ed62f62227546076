/**
 * Connect stage helper: which addresses are this machine. Who may connect to which listener is
 * decided by its mode (listeners.ts).
 */
import { isIP } from 'node:net';

export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '');
  if (a === 'localhost') return true;
  return (isIP(a) === 4 && a.startsWith('127.')) || (isIP(a) === 6 && /^(0*:)*:?0*1$/.test(a));
}
