/**
 * Attribute positions inside one start tag. htmlparser2 gives element spans but not attribute
 * spans; edits need the exact bytes of one attribute, so the start tag is tokenised again here
 * with the same rules as the HTML tokenizer (quoted, unquoted and valueless attributes).
 */
export interface AttrSpan {
  /** Lower-cased attribute name. */
  readonly name: string;
  /** Start of the whitespace before the name: removing [start, end) removes the attribute cleanly. */
  readonly start: number;
  readonly end: number;
  /** The raw value (entities not decoded) and its position; absent for valueless attributes. */
  readonly value?: { readonly start: number; readonly end: number; readonly raw: string; readonly quote: string };
}

export interface StartTag {
  readonly start: number;
  /** Position just after the closing ">" of the start tag. */
  readonly end: number;
  readonly attrs: readonly AttrSpan[];
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;

/** Parse the start tag that begins at `start` (which must point at "<"). */
export function parseStartTag(src: string, start: number): StartTag {
  const n = src.length;
  let i = start + 1;
  while (i < n && !isSpace(src.charCodeAt(i)) && src[i] !== '>' && src[i] !== '/') i++;
  const attrs: AttrSpan[] = [];
  for (;;) {
    const wsStart = i;
    while (i < n && (isSpace(src.charCodeAt(i)) || src[i] === '/')) i++;
    if (i >= n) return { start, end: n, attrs };
    if (src[i] === '>') return { start, end: i + 1, attrs };
    const nameStart = i;
    // "/" ends a name as in browsers: <img a/src="x"> has the attributes a and src
    while (i < n && !isSpace(src.charCodeAt(i)) && src[i] !== '>' && src[i] !== '=' && src[i] !== '/') i++;
    if (i === nameStart) i++; // a stray "=" starts a name in HTML
    const name = src.slice(nameStart, i).toLowerCase();
    let j = i;
    while (j < n && isSpace(src.charCodeAt(j))) j++;
    if (src[j] !== '=') {
      attrs.push({ name, start: wsStart, end: i });
      continue;
    }
    j++;
    while (j < n && isSpace(src.charCodeAt(j))) j++;
    const q = src[j];
    if (q === '"' || q === "'") {
      const close = src.indexOf(q, j + 1);
      const vEnd = close < 0 ? n : close;
      attrs.push({ name, start: wsStart, end: close < 0 ? n : close + 1, value: { start: j + 1, end: vEnd, raw: src.slice(j + 1, vEnd), quote: q } });
      i = close < 0 ? n : close + 1;
    } else {
      let k = j;
      while (k < n && !isSpace(src.charCodeAt(k)) && src[k] !== '>') k++;
      attrs.push({ name, start: wsStart, end: k, value: { start: j, end: k, raw: src.slice(j, k), quote: '' } });
      i = k;
    }
  }
}

export function attr(tag: StartTag, name: string): AttrSpan | undefined {
  return tag.attrs.find((a) => a.name === name);
}
