/**
 * Who may receive a DSN (no backscatter). A bounce goes to the envelope sender, which the client
 * chose: sent to an address nobody vouched for, it is spam to an innocent third party whose
 * address was forged. So a DSN goes only to a sender the listener vouched for — a local client, a
 * user who authenticated and may use that sender, a smart host on the allowlist — and never to the
 * null sender (RFC 5321 4.5.5: that is what stops bounce loops). Otherwise it is suppressed, and
 * the bounce is still on record.
 */

/** Why the listener stands behind the envelope sender; 'none': it does not. */
export type SenderVouch = 'local' | 'authenticated' | 'allowlisted' | 'none';

export type DsnSuppression = 'null-sender' | 'unvouched-sender';

/** The DSN's recipient, or why there is none. `vouched` absent: entries spooled before this rule, all from loopback clients. */
export function dsnRecipient(sender: string, vouched: boolean | undefined): { readonly to: string } | { readonly suppressed: DsnSuppression } {
  if (sender === '') return { suppressed: 'null-sender' };
  if (vouched === false) return { suppressed: 'unvouched-sender' };
  return { to: sender };
}
