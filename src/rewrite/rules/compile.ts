/**
 * Rule data (the rules file as validated, plain JSON) → a RuleSet with its host-indexed matcher.
 * Shared by the YAML loader (load.ts) and the compiled artefact written at build time
 * (artefact.ts), so both paths run the same checks: duplicate ids, regexes that do not compile or
 * could backtrack exponentially, unknown decoder ids.
 */
import type { TrackingKind } from '../types.js';
import type { ParamRule, RuleSet, TrackerMatch, TrackerRule, UnwrapSpec } from './types.js';

/** One tracker entry as written in the rules file, after schema validation. */
interface TrackerData {
  readonly id: string;
  readonly vendor: string;
  readonly kind: 'open' | 'click' | 'both';
  readonly host?: string | readonly string[] | undefined;
  readonly path?: string | undefined;
  readonly query?: string | undefined;
  readonly url?: string | undefined;
  readonly unwrap?: { readonly decoder: string; readonly [arg: string]: string | number | boolean | readonly string[] } | undefined;
  readonly content?: boolean | undefined;
}

interface ParamData {
  readonly id: string;
  readonly vendor: string | null;
  readonly name: string;
  readonly host?: string | undefined;
  readonly campaign?: boolean | undefined;
}

/** The rules file as validated: what the build writes into the artefact. */
export interface RuleFileData {
  readonly version: string;
  readonly trackers: readonly TrackerData[];
  readonly params: readonly ParamData[];
}

/** Compiles validated rule data; throws an Error listing every problem (nothing half-loaded). */
export function compileRuleData(data: RuleFileData, knownDecoders: ReadonlySet<string> | undefined, source: string): RuleSet {
  const problems: string[] = [];
  const ruleSet = compile(data, knownDecoders, problems);
  if (problems.length > 0) {
    throw new Error(`rules file ${source} is invalid:\n${limit(problems).join('\n')}`);
  }
  return ruleSet;
}

export function limit(lines: readonly string[], max = 20): string[] {
  return lines.length <= max ? [...lines] : [...lines.slice(0, max), `... and ${lines.length - max} more`];
}

// ------------------------------------------------------------------------------------------------
// Compilation and the matcher.

interface Indexed {
  readonly rule: TrackerRule;
  readonly order: number;
}

function compile(data: RuleFileData, knownDecoders: ReadonlySet<string> | undefined, problems: string[]): RuleSet {
  const ids = new Map<string, string>();
  const trackers: TrackerRule[] = [];
  data.trackers.forEach((entry, index) => {
    const where = `trackers[${index}] (id "${entry.id}")`;
    const seen = ids.get(entry.id);
    if (seen !== undefined) problems.push(`${where}: duplicate id, already used by ${seen}; ids must be unique`);
    else ids.set(entry.id, `trackers[${index}]`);
    const rule = compileTracker(entry, where, knownDecoders, problems);
    if (rule) trackers.push(rule);
  });

  const params: ParamRule[] = [];
  const paramKeys = new Map<string, string>();
  data.params.forEach((entry, index) => {
    const where = `params[${index}] (id "${entry.id}")`;
    const seen = ids.get(entry.id);
    if (seen !== undefined) problems.push(`${where}: duplicate id, already used by ${seen}; ids must be unique`);
    else ids.set(entry.id, `params[${index}]`);
    const key = `${entry.name.toLowerCase()}@${entry.host ?? ''}`;
    const dup = paramKeys.get(key);
    if (dup !== undefined) {
      problems.push(`${where}: parameter "${entry.name}"${entry.host ? ` on ${entry.host}` : ''} is already listed as ${dup}`);
    } else paramKeys.set(key, entry.id);
    const rule: ParamRule = {
      id: entry.id,
      vendor: entry.vendor,
      name: entry.name,
      ...(entry.host !== undefined ? { host: entry.host } : {}),
      ...(entry.campaign !== undefined ? { campaign: entry.campaign } : {}),
    };
    params.push(Object.freeze(rule));
  });

  return buildRuleSet(data.version, trackers, params);
}

function compileTracker(entry: TrackerData, where: string, knownDecoders: ReadonlySet<string> | undefined, problems: string[]): TrackerRule | null {
  const before = problems.length;
  const hosts = entry.host === undefined ? [] : typeof entry.host === 'string' ? [entry.host] : entry.host;
  if (hosts.length === 0 && !entry.path && !entry.query && !entry.url) {
    problems.push(`${where}: needs at least one of host, path, query, url (otherwise it matches every URL)`);
  }
  const path = compileRegex(entry.path, `${where}.path`, problems);
  const query = compileRegex(entry.query, `${where}.query`, problems);
  const url = compileRegex(entry.url, `${where}.url`, problems);
  let unwrap: UnwrapSpec | undefined;
  if (entry.unwrap) {
    if (entry.kind === 'open') {
      problems.push(`${where}.unwrap: only click (or both) rules can be unwrapped; remove unwrap or change kind`);
    }
    if (knownDecoders && !knownDecoders.has(entry.unwrap.decoder)) {
      problems.push(`${where}.unwrap.decoder: unknown decoder "${entry.unwrap.decoder}"; known: ${[...knownDecoders].sort().join(', ')}`);
    }
    unwrap = Object.freeze({ ...entry.unwrap }) as UnwrapSpec;
  }
  if (problems.length > before) return null;
  const rule: TrackerRule = {
    id: entry.id,
    vendor: entry.vendor,
    kind: entry.kind,
    ...(hosts.length > 0 ? { host: hosts[0], hosts: Object.freeze([...hosts]) } : {}),
    ...(path ? { path } : {}),
    ...(query ? { query } : {}),
    ...(url ? { url } : {}),
    ...(unwrap ? { unwrap } : {}),
    ...(entry.content ? { servesContent: true } : {}),
  };
  return Object.freeze(rule);
}

function compileRegex(source: string | undefined, where: string, problems: string[]): RegExp | undefined {
  if (source === undefined) return undefined;
  const nested = nestedQuantifierAt(source);
  if (nested >= 0) {
    problems.push(`${where}: /${source}/ repeats a group that itself repeats (at offset ${nested}); that can take exponential time on hostile URLs, rewrite it without nested quantifiers`);
    return undefined;
  }
  try {
    return new RegExp(source, 'i');
  } catch (err) {
    problems.push(`${where}: invalid regular expression /${source}/: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * Offset of an unbounded quantifier applied to a group that already contains one ((a+)+,
 * (?:x*\.)*, (a+){2,}), or -1. A cheap guard against catastrophic backtracking: every URL of
 * every message is tested against the hostless rules.
 */
export function nestedQuantifierAt(source: string): number {
  const groups: boolean[] = []; // per open group: does it contain an unbounded quantifier?
  let inClass = false;
  const unboundedAt = (i: number): boolean => {
    const c = source[i];
    return c === '*' || c === '+' || (c === '{' && /^\{\d*,\}/.test(source.slice(i)));
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') groups.push(false);
    else if (c === ')') {
      const inner = groups.pop() ?? false;
      const outer = unboundedAt(i + 1);
      if (inner && outer) return i + 1;
      if ((inner || outer) && groups.length > 0) groups[groups.length - 1] = true;
    } else if (unboundedAt(i) && groups.length > 0) groups[groups.length - 1] = true;
  }
  return -1;
}

function hostMatches(host: string, suffix: string): boolean {
  return host === suffix || (host.endsWith(suffix) && host.charCodeAt(host.length - suffix.length - 1) === 46);
}

function buildRuleSet(version: string, trackers: readonly TrackerRule[], params: readonly ParamRule[]): RuleSet {
  // Index by every host suffix a rule names; a URL host is looked up suffix by suffix, most
  // specific first, so only a handful of rules are tested per URL. Hostless rules (custom
  // tracking domains recognised by path) are the only linear scan.
  const byHost = new Map<string, Indexed[]>();
  const hostless: Indexed[] = [];
  trackers.forEach((rule, order) => {
    if (!rule.hosts) {
      hostless.push({ rule, order });
      return;
    }
    for (const h of new Set(rule.hosts)) {
      const bucket = byHost.get(h);
      if (bucket) bucket.push({ rule, order });
      else byHost.set(h, [{ rule, order }]);
    }
  });

  const indexFor = (kind: TrackingKind): { all: TrackerRule[]; rest: TrackerRule[]; pathOnly: RegExp } => {
    const all = hostless.map((x) => x.rule).filter((r) => r.kind === kind || r.kind === 'both');
    const pathOnly = all.filter((r) => r.path && !r.query && !r.url);
    const rest = all.filter((r) => !pathOnly.includes(r));
    // (?!) never matches: an empty alternation must not match every path
    const combined = pathOnly.length ? pathOnly.map((r) => `(?:${r.path!.source})`).join('|') : '(?!)';
    return { all, rest, pathOnly: new RegExp(combined, 'i') };
  };
  const hostlessIndex: Record<TrackingKind, ReturnType<typeof indexFor>> = { open: indexFor('open'), click: indexFor('click') };

  const test = (rule: TrackerRule, url: URL, kind: TrackingKind): boolean =>
    (rule.kind === kind || rule.kind === 'both') && (!rule.path || rule.path.test(url.pathname)) && (!rule.query || rule.query.test(url.search)) && (!rule.url || rule.url.test(url.href));

  const hit = (rule: TrackerRule): TrackerMatch => Object.freeze({ ruleId: rule.id, vendor: rule.vendor, rule });

  const exact = new Map<string, ParamRule>();
  const scopedExact = new Map<string, ParamRule[]>();
  const prefixes: ParamRule[] = [];
  for (const p of params) {
    if (p.name.endsWith('*')) prefixes.push(p);
    else if (p.host) {
      const key = p.name.toLowerCase();
      const list = scopedExact.get(key);
      if (list) list.push(p);
      else scopedExact.set(key, [p]);
    } else exact.set(p.name.toLowerCase(), p);
  }
  // A site-scoped rule says more than a global one, and a longer prefix more than a shorter one.
  prefixes.sort((a, b) => Number(Boolean(b.host)) - Number(Boolean(a.host)) || b.name.length - a.name.length);

  const ruleSet: RuleSet = {
    version,
    trackers: Object.freeze([...trackers]),
    params: Object.freeze([...params]),
    matchUrl(url: URL, kind: TrackingKind): TrackerMatch | null {
      // each distinct URL is matched once: the classifier, the needed-link check, the destination
      // unwrapping and the analysers ask about the same links (bounded; a full memo starts over)
      const key = kind === 'open' ? `o${url.href}` : `c${url.href}`;
      const known = memo.get(key);
      if (known !== undefined) return known;
      const found = match(url, kind);
      if (memo.size >= 8192) memo.clear();
      memo.set(key, found);
      return found;
    },
    matchParam(name: string, host: string): ParamRule | null {
      const key = name.toLowerCase();
      const h = host.toLowerCase().replace(/\.$/, '');
      for (const p of scopedExact.get(key) ?? []) if (p.host && hostMatches(h, p.host)) return p;
      const global = exact.get(key);
      if (global) return global;
      for (const p of prefixes) {
        if (p.host && !hostMatches(h, p.host)) continue;
        if (key.startsWith(p.name.slice(0, -1).toLowerCase())) return p;
      }
      return null;
    },
  };
  const memo = new Map<string, TrackerMatch | null>();
  function match(url: URL, kind: TrackingKind): TrackerMatch | null {
    let host = url.hostname.toLowerCase();
    if (host.endsWith('.')) host = host.slice(0, -1);
    for (let i = 0; ; ) {
      const bucket = byHost.get(i === 0 ? host : host.slice(i));
      if (bucket) {
        for (const { rule } of bucket) if (test(rule, url, kind)) return hit(rule);
      }
      const dot = host.indexOf('.', i);
      if (dot < 0) break;
      i = dot + 1;
    }
    // Hostless rules: one combined test of the path-only patterns decides whether the ordered
    // scan is needed at all; most URLs match none, and this keeps them off a 100-regex loop.
    const h = hostlessIndex[kind];
    if (h.pathOnly.test(url.pathname)) {
      for (const rule of h.all) if (test(rule, url, kind)) return hit(rule);
      return null;
    }
    for (const rule of h.rest) if (test(rule, url, kind)) return hit(rule);
    return null;
  }
  return Object.freeze(ruleSet);
}
