import type { UnwrapSpec } from '../rules/types.js';

/**
 * An offline redirect decoder: recovers the destination a click-tracking URL carries, without
 * fetching anything (a request would register the click). Pure and total: returns null, never
 * throws, when the URL does not carry what it expects.
 */
export interface Decoder {
  readonly id: string;
  /** One line for the rules file's documentation. */
  readonly description: string;
  /** The destination as an absolute http(s) URL string, or null. `spec` is the rule's unwrap entry. */
  decode(url: URL, spec: UnwrapSpec): string | null;
}
