/**
 * What delivery reports to the log. Typed events rather than log strings, so the composition root
 * decides how to log them. They carry ids and counts, never addresses or message bodies: the log
 * must not become a second copy of who mailed whom (decision 8).
 */
import type { DsnSuppression } from './dsnPolicy.js';
export type DeliveryEvent =
  | { readonly type: 'spooled'; readonly id: string; readonly consentClass: string; readonly recipients: number }
  | { readonly type: 'spool-rollback'; readonly id: string }
  | { readonly type: 'retry-delivered'; readonly id: string; readonly accepted: number }
  | {
      readonly type: 'retry-deferred';
      readonly id: string;
      readonly remaining: number;
      readonly attempts: number;
      readonly nextAttemptAt: string;
      readonly lastError: string;
    }
  | { readonly type: 'gave-up'; readonly id: string; readonly recipients: number; readonly permanent: boolean }
  | { readonly type: 'dsn-sent'; readonly forId: string | null; readonly recipients: number }
  | { readonly type: 'dsn-queued'; readonly forId: string | null; readonly id: string }
  | { readonly type: 'dsn-suppressed'; readonly forId: string | null; readonly reason: DsnSuppression }
  | { readonly type: 'dsn-undeliverable'; readonly forId: string | null; readonly code: number }
  | { readonly type: 'worker-error'; readonly id: string | null; readonly error: string }
  /** Dispositions could not be recorded (dispositions.ts); delivery went on regardless. */
  | { readonly type: 'audit-failed'; readonly id: string | null; readonly error: string };

export type DeliveryEventSink = (event: DeliveryEvent) => void;

export const ignoreEvents: DeliveryEventSink = () => undefined;
