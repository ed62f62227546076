import type { Consent } from '../rewrite/types.js';

/** What the relay keeps per SMTP transaction besides smtp-server's envelope. */
export interface TransactionState {
  /** Consent per accepted recipient, looked up at RCPT time. Keys as given in RCPT TO. */
  readonly consent: Map<string, Consent>;
  /** Recipients accepted although they objected to contact (rights.doNotContact.mode: warn). */
  readonly objected: Set<string>;
}

/** Per-connection state, keyed by smtp-server's session id. */
export class Sessions {
  private readonly byId = new Map<string, TransactionState>();

  get(id: string): TransactionState {
    let s = this.byId.get(id);
    if (!s) {
      s = { consent: new Map(), objected: new Set() };
      this.byId.set(id, s);
    }
    return s;
  }

  /** A new MAIL FROM starts a new transaction. */
  reset(id: string): void {
    this.byId.set(id, { consent: new Map(), objected: new Set() });
  }

  drop(id: string): void {
    this.byId.delete(id);
  }
}
