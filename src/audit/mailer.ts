/**
 * The sending tool a message names (X-Mailer, else User-Agent), kept on its `relayed` event so the
 * report can show which tools add the most trackers (a plug-in an employee installed, a CRM).
 * A product name and version, not personal data; cut short and stripped of anything address-shaped.
 */
import { redactText } from './redact.js';

const MAX_MAILER = 120;

export function extractMailer(raw: Buffer): string | null {
  const headEnd = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, headEnd < 0 ? Math.min(raw.length, 65536) : headEnd).toString('latin1');
  for (const name of ['x-mailer', 'user-agent']) {
    const m = new RegExp(`^${name}:[ \\t]*((?:.|\\r?\\n[ \\t])*)`, 'im').exec(head);
    const v = m?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
    if (v) return redactText(v.slice(0, MAX_MAILER));
  }
  return null;
}
