/**
 * RCPT TO stage: look up the recipient's consent now, so DATA only groups and filters. A consent
 * store that cannot answer fails the recipient temporarily: we never guess consent.
 *
 * A recipient who objected to contact (`subject object`, GDPR art. 21) is refused here with
 * 550 5.7.1 and the configured text, or, in `warn` mode, accepted and flagged so the transaction
 * records it in the audit log.
 */
import type { SMTPServerAddress } from 'smtp-server';
import type { ConsentStore } from '../consent/store.js';
import { RelayError, isRelayError } from '../errors.js';
import { NO_CONSENT, type Consent } from '../rewrite/types.js';
import { isValidAddress } from './mail-from.js';
import { fromRelayError, smtpError, type SmtpError } from './reply.js';

export interface DoNotContactPolicy {
  /** reject: 550 5.7.1 at RCPT; warn: accept and record. */
  readonly mode: 'reject' | 'warn';
  /** The text after "550 5.7.1". */
  readonly reply: string;
}

export async function checkRcptTo(
  rcpt: SMTPServerAddress,
  accepted: number,
  maxRecipients: number,
  store: ConsentStore,
  doNotContact: DoNotContactPolicy = { mode: 'reject', reply: 'the recipient has asked not to be contacted' },
): Promise<{ error: SmtpError } | { consent: Consent; objected: boolean }> {
  if (!isValidAddress(rcpt.address)) return { error: smtpError(553, '5.1.3', `recipient address <${rcpt.address.slice(0, 64)}> is not a valid address`) };
  if (accepted >= maxRecipients) return { error: smtpError(452, '4.5.3', `too many recipients in one transaction (limit ${maxRecipients}); send the rest in another`) };
  try {
    const [map, objected] = await Promise.all([store.lookup([rcpt.address]), store.doNotContact([rcpt.address])]);
    if (objected.size > 0 && doNotContact.mode === 'reject') return { error: fromRelayError(new RelayError('DO_NOT_CONTACT', doNotContact.reply)) };
    return { consent: map.get(rcpt.address.toLowerCase()) ?? [...map.values()][0] ?? NO_CONSENT, objected: objected.size > 0 };
  } catch (err) {
    // whatever the store threw (a corrupt row reads as a USAGE error), the recipient is fine:
    // the store could not answer, and that is temporary
    const e = isRelayError(err) && err.temporary ? err : new RelayError('CONSENT_STORE_UNAVAILABLE', 'consent store unavailable, try again later', { cause: err });
    return { error: fromRelayError(e) };
  }
}
