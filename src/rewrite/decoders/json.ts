import { toHttpUrl } from './text.js';

/**
 * Finding a destination inside a JSON payload. Vendors nest JSON inside JSON strings (Mandrill's
 * "p"), so both walks descend into string values that themselves parse as JSON.
 */

/** Bounds that keep a walk over a hostile payload cheap. */
const MAX_DEPTH = 16;
const MAX_NODES = 5000;

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function looksLikeJson(s: string): boolean {
  const t = s.trimStart();
  return t.startsWith('{') || t.startsWith('[');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The value at a dot path ("p.url"); a string met on the way is parsed as JSON and entered.
 * Array elements are addressed by index ("links.0").
 */
function valueAtPath(root: unknown, path: string): unknown {
  let node = root;
  for (const key of path.split('.')) {
    if (typeof node === 'string' && looksLikeJson(node)) node = parseJson(node);
    if (Array.isArray(node) && /^\d+$/.test(key)) node = node[Number(key)];
    else if (isRecord(node) && Object.hasOwn(node, key)) node = node[key];
    else return undefined;
  }
  return node;
}

/** The first http(s) URL string met in a depth-first walk (object keys in document order). */
export function firstHttpUrlIn(root: unknown): string | null {
  let budget = MAX_NODES;
  const walk = (node: unknown, depth: number): string | null => {
    if (--budget < 0 || depth > MAX_DEPTH) return null;
    if (typeof node === 'string') {
      const direct = toHttpUrl(node, { percentLevels: 1 });
      if (direct !== null) return direct;
      return looksLikeJson(node) ? walk(parseJson(node), depth + 1) : null;
    }
    const children = Array.isArray(node) ? node : isRecord(node) ? Object.values(node) : [];
    for (const child of children) {
      const found = walk(child, depth + 1);
      if (found !== null) return found;
    }
    return null;
  };
  return walk(root, 0);
}

/** `key` when given (scheme-less hosts allowed, the key says it is a link), else the first URL anywhere. */
export function urlFromJson(root: unknown, key?: string): string | null {
  if (key === undefined) return firstHttpUrlIn(root);
  const v = valueAtPath(root, key);
  return typeof v === 'string' ? toHttpUrl(v, { percentLevels: 1, schemeless: true }) : null;
}
