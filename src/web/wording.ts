/**
 * The words recipients see: pages, buttons and the notice added to tracked mail. English by
 * default; `http.wording` names a YAML file with the same keys (any subset) and its own
 * `version`, e.g. a translation or a lawyer's text. What a person agreed to is recorded as that
 * version and the SHA-256 of the exact text the page showed (`shown()`), so the record proves the
 * wording even after the file changes.
 *
 * Placeholders: {scopes} (what the link is about, from `scopes.*`), {vendor}, {vendors}, {url}.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';

import type { ConsentScope } from '../consent/store.js';
import { RelayError } from '../errors.js';

const page = z.strictObject({ title: z.string(), body: z.string(), button: z.string(), done: z.string() });

const wordingSchema = z.strictObject({
  version: z.string().min(1),
  lang: z.string().min(2),
  scopes: z.strictObject({ opens: z.string(), clicks: z.string(), join: z.string() }),
  'opt-in': page,
  'opt-out': page,
  ask: z.strictObject({ title: z.string(), body: z.string(), continue: z.string(), cancel: z.string(), cancelled: z.string() }),
  'gate-withdrawn': z.strictObject({ title: z.string(), body: z.string() }),
  invalid: z.strictObject({ title: z.string(), expired: z.string(), body: z.string() }),
  changed: z.string(),
  notice: z.strictObject({ text: z.string(), link: z.string(), unknownVendor: z.string() }),
});

export type Wording = z.output<typeof wordingSchema>;

export const DEFAULT_WORDING: Wording = {
  version: 'en-1',
  lang: 'en',
  scopes: { opens: 'when you open our emails', clicks: 'which links in our emails you click', join: ' and ' },
  'opt-in': {
    title: 'Allow email tracking',
    body: 'Our emails can record {scopes}. We only do this if you agree. You can withdraw at any time with the link at the bottom of our emails, and it is as easy as agreeing.',
    button: 'I agree',
    done: 'Thank you. Your consent has been recorded. You can withdraw it at any time.',
  },
  'opt-out': {
    title: 'Stop email tracking',
    body: 'Stop recording {scopes}. This also applies to emails you have already received.',
    button: 'Stop tracking',
    done: 'Done. We no longer record {scopes}.',
  },
  ask: {
    title: 'This link is tracked',
    body: 'The link you followed goes through {vendor}, a tracking service. Its destination cannot be known without asking {vendor}, which will record that you clicked.',
    continue: 'Continue — {vendor} will record this click',
    cancel: 'Cancel',
    cancelled: 'Nothing was recorded. You can close this page.',
  },
  'gate-withdrawn': {
    title: 'Link no longer tracked',
    body: 'You withdrew consent to click tracking, and this link went through {vendor}, whose destination cannot be known without telling {vendor} that you clicked. So it is not followed.',
  },
  invalid: {
    title: 'This link does not work',
    expired: 'This link has expired. Ask the sender for a new one.',
    body: 'This link is not valid. It may have been copied incompletely.',
  },
  changed: 'The wording of this page changed since it was shown to you. Please read it again and confirm.',
  notice: {
    text: 'This email contains tracking by {vendors}, because you agreed to it. Stop it with one click: {url}',
    link: 'Stop tracking',
    unknownVendor: 'an unnamed service',
  },
};

export function loadWording(file: string | undefined): Wording {
  if (!file) return DEFAULT_WORDING;
  let data: unknown;
  try {
    data = YAML.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new RelayError('CONFIG_INVALID', `http.wording ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const merged = mergeDeep(DEFAULT_WORDING, data);
  const parsed = wordingSchema.safeParse(merged);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new RelayError('CONFIG_INVALID', `http.wording ${file}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
  }
  if (data && typeof data === 'object' && !('version' in data)) {
    throw new RelayError('CONFIG_INVALID', `http.wording ${file}: set "version": records of consent name the wording by it`);
  }
  return parsed.data;
}

function mergeDeep(base: unknown, over: unknown): unknown {
  if (!over || typeof over !== 'object' || Array.isArray(over) || !base || typeof base !== 'object') return over ?? base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = mergeDeep((base as Record<string, unknown>)[k], v);
  return out;
}

export function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => values[k] ?? m);
}

export function scopesText(w: Wording, scopes: readonly ConsentScope[]): string {
  return scopes.map((s) => w.scopes[s]).join(w.scopes.join);
}

/** The wording shown, as recorded with a consent change: its version and the SHA-256 of the exact text. */
export interface ShownWording {
  readonly version: string;
  readonly sha256: string;
  readonly text: string;
}

export function shown(w: Wording, lines: readonly string[]): ShownWording {
  const text = lines.join('\n');
  return { version: w.version, sha256: createHash('sha256').update(text, 'utf8').digest('hex'), text };
}
