/**
 * Making links: the one place that turns an address and an action into a signed URL under
 * `http.publicUrl`. Remembering the address's keyed hash (subjects.ts) is part of making a link
 * for it, so every link the relay hands out can be resolved when the person follows it.
 */
import { ALL_SCOPES, type ConsentScope } from '../consent/store.js';
import type { KeyRing } from './keys.js';
import type { LinkSubjects } from './subjects.js';
import { signToken, type TrackedTarget } from './token.js';

export const CONSENT_PATH = '/c/';
export const GATE_PATH = '/g/';

export interface LinkLifetimes {
  /** Opt-in links (`consent invite`, the placeholder). */
  readonly inviteMs: number;
  /** Withdrawal and gate links in delivered mail. */
  readonly linkMs: number;
}

export class WebLinks {
  private readonly base: string;

  constructor(
    private readonly keys: KeyRing,
    private readonly subjects: LinkSubjects,
    publicUrl: string,
    private readonly lifetimes: LinkLifetimes,
    private readonly now: () => number = Date.now,
  ) {
    this.base = publicUrl.replace(/\/+$/, '');
  }

  optIn(address: string, scopes: readonly ConsentScope[] = ALL_SCOPES): string {
    const recipient = this.subjects.remember(address);
    return this.base + CONSENT_PATH + signToken(this.keys, { action: 'opt-in', recipient, scopes, expires: this.now() + this.lifetimes.inviteMs });
  }

  optOut(address: string, scopes: readonly ConsentScope[] = ALL_SCOPES): string {
    const recipient = this.subjects.remember(address);
    return this.base + CONSENT_PATH + signToken(this.keys, { action: 'opt-out', recipient, scopes, expires: this.now() + this.lifetimes.linkMs });
  }

  /** A kept tracker of a consenting recipient, routed through the gate. */
  gate(address: string, target: TrackedTarget): string {
    const recipient = this.subjects.remember(address);
    const scopes: ConsentScope[] = [target.kind === 'pixel' ? 'opens' : 'clicks'];
    return this.base + GATE_PATH + signToken(this.keys, { action: 'gate', recipient, scopes, target, expires: this.now() + this.lifetimes.linkMs });
  }

  /** An opaque tracked link of a recipient without consent: the gate asks before following it. Names no one. */
  ask(target: TrackedTarget): string {
    return this.base + GATE_PATH + signToken(this.keys, { action: 'ask', scopes: ['clicks'], target, expires: this.now() + this.lifetimes.linkMs });
  }
}
