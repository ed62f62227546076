/**
 * RCPT TO stage: look up the recipient's consent now, so DATA only groups and filters. A consent
 * store that cannot answer fails the recipient temporarily: we never guess consent.
 */
import type { SMTPServerAddress } from 'smtp-server';
import type { ConsentStore } from '../consent/store.js';
import { RelayError, isRelayError } from '../errors.js';
import { NO_CONSENT, type Consent } from '../rewrite/types.js';
import { isValidAddress } from './mail-from.js';
import { fromRelayError, smtpError, type SmtpError } from './reply.js';

export async function checkRcptTo(
  rcpt: SMTPServerAddress,
  accepted: number,
  maxRecipients: number,
  store: ConsentStore,
): Promise<{ error: SmtpError } | { consent: Consent }> {
  if (!isValidAddress(rcpt.address)) return { error: smtpError(553, '5.1.3', `recipient address <${rcpt.address.slice(0, 64)}> is not a valid address`) };
  if (accepted >= maxRecipients) return { error: smtpError(452, '4.5.3', `too many recipients in one transaction (limit ${maxRecipients}); send the rest in another`) };
  try {
    const map = await store.lookup([rcpt.address]);
    return { consent: map.get(rcpt.address.toLowerCase()) ?? [...map.values()][0] ?? NO_CONSENT };
  } catch (err) {
    // whatever the store threw (a corrupt row reads as a USAGE error), the recipient is fine:
    // the store could not answer, and that is temporary
    const e = isRelayError(err) && err.temporary ? err : new RelayError('CONSENT_STORE_UNAVAILABLE', 'consent store unavailable, try again later', { cause: err });
    return { error: fromRelayError(e) };
  }
}
