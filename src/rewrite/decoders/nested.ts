/**
 * Wrappers inside wrappers (a Safe Links URL around an ESP redirect around a Google redirect):
 * apply `step` until it finds nothing more, at most `maxDepth` times, stopping on a loop.
 * `destination` is the innermost URL reached, null when the first step already fails; `hops`
 * counts successful steps. A loop or the depth limit ends the walk at the last new URL; the
 * caller decides whether that URL is acceptable (it may still be a tracker).
 */
export function unwrapNested(url: string, step: (u: URL) => string | null, maxDepth = 5): { destination: string | null; hops: number } {
  let current = url;
  let hops = 0;
  const seen = new Set<string>([url]);
  while (hops < maxDepth) {
    let next: string | null;
    let nextHref: string;
    try {
      const u = new URL(current);
      seen.add(u.href);
      next = step(u);
      if (next === null) break;
      nextHref = new URL(next).href;
    } catch {
      // a throwing step or an unparsable result ends the walk like a null
      break;
    }
    if (seen.has(next) || seen.has(nextHref)) break;
    seen.add(next);
    current = next;
    hops++;
  }
  return { destination: hops === 0 ? null : current, hops };
}
