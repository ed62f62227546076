/**
 * Labelling aid for fixtures/real/: lists a message's URLs grouped by host and path template
 * (digits, hex and long opaque runs folded), with where they occur (element@attribute, header,
 * plain text), their link text or image hints, and, when the message has a second recipient's copy,
 * whether the group's URLs differ between the two copies (the per-recipient ground truth).
 * With labels present it shows the label each URL gets. It never runs the engine.
 *
 *   node dist/bench/real-urls.js MESSAGE.eml [PAIR.eml] [--labels FILE] [--all]
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { labelsSchema, labelUrls, occurrences, toAddresses, headerValue, type Labels, type Occurrence } from './real.js';

function template(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.slice(0, 60);
  }
  // a path segment that is short, numeric or long and opaque is folded to "*" (its extension kept)
  const fold = (path: string): string =>
    path
      .split('/')
      .map((seg) => {
        const ext = /\.[a-z0-9]{2,5}$/i.exec(seg)?.[0] ?? '';
        const stem = seg.slice(0, seg.length - ext.length);
        return stem && (stem.length <= 2 || /\d/.test(stem) || stem.length >= 16) ? `*${ext}` : seg;
      })
      .join('/');
  const q = [...u.searchParams.keys()].sort().join('&');
  return `${u.host}${fold(u.pathname)}${q ? `?${q}` : ''}`;
}

const args = process.argv.slice(2);
const all = args.includes('--all');
const li = args.indexOf('--labels');
const labelsFile = li >= 0 ? args[li + 1] : undefined;
const files = args.filter((a, i) => !a.startsWith('--') && (li < 0 || i !== li + 1));
const [file, pairFile] = files;
if (!file) {
  console.error('usage: node dist/bench/real-urls.js MESSAGE.eml [PAIR.eml] [--labels FILE] [--all]');
  process.exit(2);
}
const raw = readFileSync(file);
const occ = await occurrences(raw);
const pairUrls = pairFile ? new Set((await occurrences(readFileSync(pairFile))).map((o) => o.url)) : null;
let labels: Labels | null = null;
const lf = labelsFile ?? file.replace(/\.eml$/, '.labels.yaml');
if (existsSync(lf)) labels = labelsSchema.parse(parseYaml(readFileSync(lf, 'utf8')));
const labelOf = new Map(labels ? labelUrls(occ, labels).map((u) => [u.url, u.label]) : []);

console.log(`# ${file}`);
for (const h of ['From', 'To', 'Subject', 'Date', 'X-Mailer', 'List-Unsubscribe']) {
  const v = headerValue(raw, h);
  if (v !== null) console.log(`# ${h}: ${v.slice(0, 200)}`);
}
console.log(`# recipients (To): ${toAddresses(raw).join(', ')}`);

const groups = new Map<string, Occurrence[]>();
for (const o of occ) {
  const k = template(o.url);
  let g = groups.get(k);
  if (!g) {
    g = [];
    groups.set(k, g);
  }
  g.push(o);
}
for (const [k, g] of groups) {
  const distinct = [...new Set(g.map((o) => o.url))];
  const where = [...new Set(g.map((o) => o.element))].join(',');
  const varies = pairUrls ? distinct.filter((u) => !pairUrls.has(u)).length : null;
  const labelSet = labels ? [...new Set(distinct.map((u) => labelOf.get(u) ?? '?'))].join(',') : '';
  console.log(
    `\n== ${k}   [${g.length} occ, ${distinct.length} distinct; ${where}]${varies !== null ? `  differs-in-pair: ${varies}/${distinct.length}` : ''}${labelSet ? `  label: ${labelSet}` : ''}`,
  );
  const show = all ? g : g.slice(0, 1);
  for (const o of show) console.log(`   ${o.where.padEnd(6)} ${all ? o.url : o.url.slice(0, 200)}${all && o.context ? `  «${o.context}»` : ''}`);
  if (!all) console.log(`   contexts: ${[...new Set(g.map((o) => o.context).filter(Boolean))].slice(0, 8).join(' | ').slice(0, 300)}`);
}
