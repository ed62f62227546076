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
import { z } from 'zod';
import { parseYaml } from '../../yaml.js';
import { readArtefact } from './artefact.js';
import { compileRuleData, limit, type RuleFileData } from './compile.js';
import type { RuleSet } from './types.js';

export { nestedQuantifierAt } from './compile.js';

/** Where the shipped rules live: <package root>/src/rewrite/rules/trackers.yaml. */
export function defaultRulesPath(): string {
  // Walk up rather than use a fixed "../.." so the same code works from src/ (vitest, tsx)
  // and from dist/src/ (compiled), whose depths differ.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'src', 'rewrite', 'rules', 'trackers.yaml');
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find the package root (a directory with package.json) above ${fileURLToPath(import.meta.url)}; pass the rules file path explicitly`);
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
  // the build's compiled copy of this very text (same SHA-256) spares the YAML parse and the schema
  const compiled = readArtefact<RuleFileData>('trackers', text);
  if (compiled) return compileRuleData(compiled, knownDecoders, file);
  return parseRuleSet(text, knownDecoders, file);
}

/** As loadRuleSet, from YAML text; `source` names it in error messages. */
export function parseRuleSet(text: string, knownDecoders?: ReadonlySet<string>, source = '<rules>'): RuleSet {
  return compileRuleData(validateRuleFile(text, source), knownDecoders, source);
}

/** The YAML parsed and checked against the schema: the data the build compiles into the artefact. */
export function validateRuleFile(text: string, source = '<rules>'): RuleFileData {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new Error(`rules file ${source} is not valid YAML: ${(err as Error).message}`);
  }
  const parsed = FileSchema.safeParse(doc);
  if (!parsed.success) {
    throw new Error(`rules file ${source} is invalid:\n${formatIssues(parsed.error.issues, doc)}`);
  }
  return parsed.data;
}

// ------------------------------------------------------------------------------------------------
// Schema of the file as written. Everything is strict: an unknown key is almost always a typo
// (hots: for host:) that would silently widen a rule.

const HOST_RE = /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$/;
const Host = z.string({ error: 'must be a host name' }).refine((h) => HOST_RE.test(h) && !h.includes('..'), {
  error: 'must be a lower-case host name without scheme, port, path or leading/trailing dot (e.g. "list-manage.com")',
});
const Pattern = z.string({ error: 'must be a regular expression in a string' }).min(1, { error: 'must not be empty' });
const ArgValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())], {
  error: 'decoder arguments must be strings, numbers, booleans or lists of strings',
});
const Unwrap = z.object({ decoder: z.string({ error: 'unwrap needs a decoder id' }).min(1) }).catchall(ArgValue);

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

// the schema's output must be what the compiler takes: a change to one without the other fails to build
const _schemaMatchesCompiler: (d: z.infer<typeof FileSchema>) => RuleFileData = (d) => d;
void _schemaMatchesCompiler;

function formatIssues(issues: readonly z.core.$ZodIssue[], doc: unknown): string {
  return limit(
    issues.map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      const where = describePath(issue.path, doc);
      if (keys.length > 0) {
        return `${where}: unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')} (allowed: see the comment at the top of trackers.yaml)`;
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
  const id: unknown = (entry as Record<string, unknown>).id;
  return typeof id === 'string' ? id : undefined;
}
