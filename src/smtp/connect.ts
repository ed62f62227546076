/**
 * Connect stage: who may send here. Until listeners have AUTH / allowlists (the security work),
 * only loopback clients are served, and the listener itself refuses to bind elsewhere.
 */
import { isIP } from 'node:net';
import type { SMTPServerSession } from 'smtp-server';
import { smtpError, type SmtpError } from './reply.js';

export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '');
  if (a === 'localhost') return true;
  return (isIP(a) === 4 && a.startsWith('127.')) || (isIP(a) === 6 && /^(0*:)*:?0*1$/.test(a));
}

export function checkConnect(session: SMTPServerSession): SmtpError | null {
  if (isLoopback(session.remoteAddress)) return null;
  return smtpError(554, '5.7.1', 'relay access denied: this listener serves local clients only');
}
