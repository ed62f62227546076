/**
 * Connect stage: who may send here. Until listeners have AUTH / allowlists (the security work),
 * only loopback clients are served, and the listener itself refuses to bind elsewhere.
 */
import type { SMTPServerSession } from 'smtp-server';
import { smtpError, type SmtpError } from './reply.js';

export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '');
  return a === '::1' || /^127\./.test(a) || a === 'localhost';
}

export function checkConnect(session: SMTPServerSession): SmtpError | null {
  if (isLoopback(session.remoteAddress)) return null;
  return smtpError(554, '5.7.1', 'relay access denied: this listener serves local clients only');
}
