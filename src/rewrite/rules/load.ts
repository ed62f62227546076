/**
 * Loads the tracker rules file (trackers.yaml), validates it and compiles it into a RuleSet.
 *
 * Contract: either a complete, frozen RuleSet or an Error whose message names the file, the
 * entry (index and id) and the key to fix. Nothing half-loaded: the relay fails closed on a bad
 * rules file rather than sending mail through a partial filter.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import type { TrackingKind } from '../types.js';
import type { ParamRule, RuleSet, TrackerMatch, TrackerRule, UnwrapSpec } from './types.js';

/** Where the shipped rules live: <package root>/src/rewrite/rules/trackers.yaml. */
export function defaultRulesPath(): string {
  // Walk up rather than use a fixed "../.." so the same code works from src/ (vitest, tsx)
  // and from dist/src/ (compiled), whose depths differ.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'src', 'rewrite', 'rules', 'trackers.yaml');
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `cannot find the package root (a directory with package.json) above ${fileURLToPath(import.meta.url)}; ` +
          'pass the rules file path explicitly',
      );
    }
    dir = parent;
  }
}

/** Reads and compiles a rules file. `knownDecoders`: when given, unwrap decoder ids must be in it. */
export function loadRuleSet(file: string = defaultRulesPath(), knownDecoders?: ReadonlySet<string>): RuleSet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read rules file ${file}: ${(err as Error).message}`);
  }
  return parseRuleSet(text, knownDecoders, file);
}

/** As loadRuleSet, from YAML text; `source` names it in error messages. */
export function parseRuleSet(text: string, knownDecoders?: ReadonlySet<string>, source = '<rules>'): RuleSet {
  let doc: unknown;
  try {
    doc = parse(text, { uniqueKeys: true });
  } catch (err) {
    throw new Error(`rules file ${source} is not valid YAML: ${(err as Error).message}`);
  }
  const parsed = FileSchema.safeParse(doc);
  if (!parsed.success) {
    throw new Error(`rules file ${source} is invalid:\n${formatIssues(parsed.error.issues, doc)}`);
  }
  const problems: string[] = [];
  const ruleSet = compile(parsed.data, knownDecoders, problems);
  if (problems.length > 0) {
    throw new Error(`rules file ${source} is invalid:\n${limit(problems).join('\n')}`);
  }
  return ruleSet;
}

// ------------------------------------------------------------------------------------------------
// Schema of the file as written. Everything is strict: an unknown key is almost always a typo
// (hots: for host:) that would silently widen a rule.

const HOST_RE = /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$/;
const Host = z
  .string({ error: 'must be a host name' })
  .refine((h) => HOST_RE.test(h) && !h.includes('..'), {
    error: 'must be a lower-case host name without scheme, port, path or leading/trailing dot (e.g. "list-manage.com")',
  });
const Pattern = z.string({ error: 'must be a regular expression in a string' }).min(1, { error: 'must not be empty' });
const ArgValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())], {
  error: 'decoder arguments must be strings, numbers, booleans or lists of strings',
});
const Unwrap = z
  .object({ decoder: z.string({ error: 'unwrap needs a decoder id' }).min(1) })
  .catchall(ArgValue);

const TrackerEntry = z.strictObject({
  id: z.string({ error: 'every tracker needs an id' }).regex(/^[a-z0-9][a-z0-9_.-]*$/, {
    error: 'id must be lower-case letters, digits, ".", "-" or "_" (e.g. "mailchimp.open")',
  }),
  vendor: z.string({ error: 'vendor must be a name' }).min(1),
  kind: z.enum(['open', 'click', 'both'], { error: 'kind must be one of open, click, both' }),
  host: z.union([Host, z.array(Host).min(1)], { error: 'host must be a host name or a non-empty list of them' }).optional(),
  path: Pattern.optional(),
  query: Pattern.optional(),
  url: Pattern.optional(),
  unwrap: Unwrap.optional(),
  content: z.boolean({ error: 'content must be true or false' }).optional(),
});

const ParamEntry = z.strictObject({
  id: z.string({ error: 'every param needs an id' }).regex(/^[a-z0-9][a-z0-9_.*-]*$/, {
    error: 'id must be lower-case letters, digits, ".", "-", "_" (e.g. "param.mc_eid")',
  }),
  vendor: z.string({ error: 'vendor must be a name or null' }).min(1).nullable(),
  name: z.string({ error: 'name must be a parameter name' }).regex(/^[^\s*]+\*?$/, {
    error: 'name must be a parameter name, or a prefix ending in "*" (no spaces, "*" only at the end)',
  }),
  host: Host.optional(),
  campaign: z.boolean({ error: 'campaign must be true or false' }).optional(),
});

const FileSchema = z.strictObject({
  version: z.string({ error: 'version must be a quoted string such as "2026.11.29-1"' }).min(1),
  trackers: z.array(TrackerEntry, { error: 'trackers must be a list' }),
  params: z.array(ParamEntry, { error: 'params must be a list' }).default([]),
});

type FileData = z.infer<typeof FileSchema>;
type TrackerData = z.infer<typeof TrackerEntry>;

function formatIssues(issues: readonly z.core.$ZodIssue[], doc: unknown): string {
  return limit(
    issues.map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      const where = describePath(issue.path, doc);
      if (keys.length > 0) {
        return `${where}: unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}` +
          ' (allowed: see the comment at the top of trackers.yaml)';
      }
      return `${where}: ${issue.message}`;
    }),
  ).join('\n');
}

/** "trackers[12] (id "x.open").path" from a zod path, reading the id from the raw document. */
function describePath(path: readonly PropertyKey[], doc: unknown): string {
  const [section, index, ...rest] = path;
  if (section === undefined) return 'top level';
  let out = String(section);
  if (typeof index === 'number') {
    out += `[${index}]`;
    const id = idAt(doc, String(section), index);
    if (id !== undefined) out += ` (id "${id}")`;
  } else if (index !== undefined) {
    out += `.${String(index)}`;
  }
  for (const k of rest) out += typeof k === 'number' ? `[${k}]` : `.${String(k)}`;
  return out;
}

function idAt(doc: unknown, section: string, index: number): string | undefined {
  if (typeof doc !== 'object' || doc === null) return undefined;
  const list: unknown = (doc as Record<string, unknown>)[section];
  if (!Array.isArray(list)) return undefined;
  const entry: unknown = list[index];
  if (typeof entry !== 'object' || entry === null) return undefined;
  const id: unknown = (entry as Record<string, unknown>)['id'];
  return typeof id === 'string' ? id : undefined;
}

function limit(lines: readonly string[], max = 20): string[] {
  return lines.length <= max ? [...lines] : [...lines.slice(0, max), `... and ${lines.length - max} more`];
}

// ------------------------------------------------------------------------------------------------
// Compilation and the matcher.

interface Indexed {
  readonly rule: TrackerRule;
  readonly order: number;
}

function compile(data: FileData, knownDecoders: ReadonlySet<string> | undefined, problems: string[]): RuleSet {
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

function compileTracker(
  entry: TrackerData,
  where: string,
  knownDecoders: ReadonlySet<string> | undefined,
  problems: string[],
): TrackerRule | null {
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
      problems.push(
        `${where}.unwrap.decoder: unknown decoder "${entry.unwrap.decoder}"; known: ${[...knownDecoders].sort().join(', ')}`,
      );
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
    problems.push(
      `${where}: /${source}/ repeats a group that itself repeats (at offset ${nested}); ` +
        'that can take exponential time on hostile URLs, rewrite it without nested quantifiers',
    );
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
    (rule.kind === kind || rule.kind === 'both') &&
    (!rule.path || rule.path.test(url.pathname)) &&
    (!rule.query || rule.query.test(url.search)) &&
    (!rule.url || rule.url.test(url.href));

  const hit = (rule: TrackerRule): TrackerMatch => ({ ruleId: rule.id, vendor: rule.vendor, rule });

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
  return Object.freeze(ruleSet);
}
