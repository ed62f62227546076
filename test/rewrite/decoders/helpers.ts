import { expect, it } from 'vitest';

import { decoders } from '../../../src/rewrite/decoders/index.js';
import type { UnwrapSpec } from '../../../src/rewrite/rules/types.js';

/** One test vector: a name, the tracking URL, and the destination expected (null: not decodable). */
export type Vector = readonly [name: string, input: string, expected: string | null];

/** Run the decoder itself (not decodeWith, whose re-validation would hide a contract breach). */
export function decode(spec: UnwrapSpec, input: string): string | null {
  const decoder = decoders.get(spec.decoder);
  if (decoder === undefined) throw new Error(`no decoder ${spec.decoder}`);
  return decoder.decode(new URL(input), spec);
}

/** One `it` per vector. */
export function vectors(spec: UnwrapSpec, table: readonly Vector[]): void {
  it.each(table.map((v) => [...v]))('%s', (_name, input, expected) => {
    const out = decode(spec, input as string);
    expect(out).toBe(expected);
    if (out !== null) expect(new URL(out).protocol).toMatch(/^https?:$/);
  });
}

export const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
export const b64url = (s: string | Buffer): string => Buffer.from(s).toString('base64url');

/** A query value or path segment of about 1 MB, for "hostile size is refused quickly" cases. */
export const HUGE = 'A'.repeat(1024 * 1024);

/**
 * Runs `fn` and fails if it takes longer than `ms`. A hang guard, not a speed measurement (speed is
 * `npm run bench:scan`'s job): a decoder that went quadratic on a 1 MB value would take minutes, so
 * the bound is generous enough never to trip on a loaded CI machine.
 */
export function quickly<T>(fn: () => T, ms = 10_000): T {
  const start = performance.now();
  const out = fn();
  expect(performance.now() - start).toBeLessThan(ms);
  return out;
}
