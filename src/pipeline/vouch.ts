/**
 * Whether the listener stands behind a transaction's envelope sender, which decides whether a DSN
 * may go to it (src/delivery/dsnPolicy.ts). A listener that knows more says so in
 * `Transaction.senderVouch` (a smart host on its allowlist: 'allowlisted'); otherwise it is read off
 * what the transaction carries: an authenticated session, or a client on loopback (the `local`
 * listener, whose clients are the operator's own processes). Anything else is not vouched for.
 */
import type { SenderVouch } from '../delivery/dsnPolicy.js';
import { isLoopbackLiteral } from '../delivery/upstreamTls.js';
import type { TraceInfo } from './received.js';

export function senderVouch(tx: { readonly senderVouch?: SenderVouch | undefined; readonly trace: Pick<TraceInfo, 'auth' | 'clientAddress'> }): SenderVouch {
  if (tx.senderVouch !== undefined) return tx.senderVouch;
  if (tx.trace.auth !== undefined) return 'authenticated';
  return isLoopbackLiteral(tx.trace.clientAddress.replace(/^::ffff:/i, '')) ? 'local' : 'none';
}
