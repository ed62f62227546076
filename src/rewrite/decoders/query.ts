import { stringListArg } from './args.js';
import { queryValues, toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

/** The destination held by one of the named query parameters (first that yields a URL wins). */
export function fromQuery(url: URL, names: readonly string[], schemeless: boolean): string | null {
  for (const name of names) {
    for (const v of queryValues(url, name)) {
      const d = toHttpUrl(v, { percentLevels: 1, schemeless });
      if (d !== null) return d;
    }
  }
  return null;
}

export const queryDecoder: Decoder = {
  id: 'query',
  description: 'Destination in a query parameter (param: name or list of names); one extra level of percent-encoding and scheme-less hosts ("www.example.com/x" -> https) accepted.',
  decode(url, spec) {
    const names = stringListArg(spec, 'param');
    return names === undefined ? null : fromQuery(url, names, true);
  },
};
