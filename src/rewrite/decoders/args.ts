import type { UnwrapSpec } from '../rules/types.js';

/**
 * Typed access to a rule's unwrap arguments. A missing or mistyped argument reads as undefined,
 * so a bad rules entry makes its decoder return null instead of throwing mid-message; the rules
 * loader is the place that reports such entries.
 */

export function stringArg(spec: UnwrapSpec, name: string): string | undefined {
  const v = spec[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A string or a list of strings; a single string reads as a one-element list. */
export function stringListArg(spec: UnwrapSpec, name: string): readonly string[] | undefined {
  const v = spec[name];
  if (typeof v === 'string') return v === '' ? undefined : [v];
  if (Array.isArray(v)) {
    const list = v.filter((x): x is string => typeof x === 'string' && x !== '');
    return list.length > 0 ? list : undefined;
  }
  return undefined;
}

/** An integer; numeric strings are accepted because hand-written YAML often quotes them. */
export function intArg(spec: UnwrapSpec, name: string): number | undefined {
  const v = spec[name];
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d{1,6}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}
