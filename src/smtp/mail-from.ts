/** MAIL FROM stage: a syntactically sane sender (or the null sender) starts a transaction. */
import type { SMTPServerAddress } from 'smtp-server';
import { smtpError, type SmtpError } from './reply.js';

const ADDRESS = /^[^\s@<>()[\]\\,;:"]+(?:\.[^\s@<>()[\]\\,;:"]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$|^[^\s@<>]+@\[[0-9A-Fa-f:.]+\]$/;

export function isValidAddress(addr: string): boolean {
  return addr.length <= 320 && (ADDRESS.test(addr) || /^"[^"\r\n]+"@[A-Za-z0-9.-]+$/.test(addr));
}

export function checkMailFrom(from: SMTPServerAddress): SmtpError | null {
  if (from.address === '') return null;
  if (!isValidAddress(from.address)) return smtpError(553, '5.1.7', `sender address <${from.address.slice(0, 64)}> is not a valid address`);
  return null;
}
