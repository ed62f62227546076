/**
 * A consent store with no records: what a data directory without consent.db holds. Read
 * commands use it instead of creating a store, and tests build failing stores on it.
 */
import { RelayError } from '../errors.js';
import { NO_CONSENT } from '../rewrite/types.js';
import { normaliseAddress, validateConsentKey } from './address.js';
import type { ConsentState, ConsentStore } from './store.js';

export function emptyConsentStore(): ConsentStore {
  const cannot = async (): Promise<never> => {
    throw new RelayError('CONSENT_STORE_UNAVAILABLE', 'the empty stand-in store cannot record');
  };
  return {
    lookup: async (addresses) => new Map(addresses.map((a) => [normaliseAddress(a), NO_CONSENT])),
    record: cannot,
    recordMany: cannot,
    show: async (address): Promise<ConsentState> => ({ address: validateConsentKey(address), consent: NO_CONSENT, history: [], domainHistory: [] }),
    list: async () => [],
    doNotContact: async () => new Set<string>(),
    object: cannot,
    objection: async () => null,
    erase: async () => ({ consentEvents: 0, suppressionKept: false }),
    rectify: async () => 0,
    purge: async () => ({ consentEvents: 0 }),
    close: async () => undefined,
  };
}
