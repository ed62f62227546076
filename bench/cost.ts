/**
 * `npm run bench:cost`: what one message costs in memory while the engine filters it, against the
 * bytes of the text parts it inspects. This is where smtp/budget.ts's TEXT_FACTOR and
 * MESSAGE_FLOOR come from. Each case runs in a fresh process (so the high-water mark is its own):
 * the engine is warmed up on the newsletter fixture, then filters one message from a file, and
 * the growth of the process's peak RSS (VmHWM) is divided by the inspected bytes.
 *
 *   npm run bench:cost                 # HTML of 2, 8 and 24 MB, newsletter-dense and prose; one 48 MB attachment
 *   BENCH_COST_MB=4,16 npm run bench:cost
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toCanonical } from '../src/mime/canonical.js';
import { packageRoot } from '../src/paths.js';
import { rewriteSegments } from '../src/rewrite/engine.js';
import { loadRules } from '../src/rewrite/rules/index.js';

type Kind = 'newsletter' | 'prose' | 'attachment';

const NEWSLETTER = toCanonical(readFileSync(join(packageRoot(), 'fixtures', 'golden', '50-newsletter-large.eml')));

function hwm(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** A message of about `size` bytes: one big HTML part (tracker-dense or prose), or a small one and an attachment. */
function message(kind: Kind, size: number): Buffer {
  const text = NEWSLETTER.toString('latin1');
  const htmlStart = text.indexOf('\r\n\r\n', text.indexOf('Content-Type: text/html')) + 4;
  const htmlBody = text.slice(htmlStart, text.indexOf('\r\n------=_Part', htmlStart));
  const head = ['From: a@example.com', 'To: alice@example.org', 'Subject: cost', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', '--b'];
  if (kind === 'attachment') {
    const b64 = randomBytes(Math.floor((size * 3) / 4))
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n');
    return Buffer.from(
      [
        ...head,
        'Content-Type: text/html; charset=utf-8',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        htmlBody,
        '--b',
        'Content-Type: application/octet-stream',
        'Content-Disposition: attachment; filename="a.bin"',
        'Content-Transfer-Encoding: base64',
        '',
        b64,
        '--b--',
        '',
      ].join('\r\n'),
      'latin1',
    );
  }
  const unit = kind === 'newsletter' ? `${htmlBody}\r\n` : '<p>Quarterly figures, region by region, with the notes the board asked for and a few more words.</p>\r\n';
  const body = unit.repeat(Math.ceil(size / unit.length));
  return Buffer.from(
    [...head, 'Content-Type: text/html; charset=utf-8', `Content-Transfer-Encoding: ${kind === 'newsletter' ? 'quoted-printable' : '7bit'}`, '', body, '--b--', ''].join('\r\n'),
    'latin1',
  );
}

async function child(kind: Kind, size: number): Promise<void> {
  const rules = loadRules();
  const opts = { consent: { opens: false, clicks: false }, rules, recipients: ['alice@example.org'], limits: { maxTextPartBytes: 256 * 1024 * 1024 } };
  for (let i = 0; i < 3; i++) await rewriteSegments([NEWSLETTER], opts);
  const dir = mkdtempSync(join(tmpdir(), 'consent-relay-cost-'));
  const path = join(dir, 'm.eml');
  writeFileSync(path, message(kind, size));
  const bytes = readFileSync(path).length;
  // the message is built and written before the baseline, and its buffers are garbage by now
  (globalThis as { gc?: () => void }).gc?.();
  const base = hwm();
  const t = Date.now();
  const r = await rewriteSegments([{ path, start: 0, end: bytes }], opts);
  const ms = Date.now() - t;
  const peak = hwm();
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ kind, bytes, inspected: r.inspectedBytes, grew: peak - base, ms, findings: r.findings.length }));
}

if (process.argv[2] === 'child') {
  await child(process.argv[3] as Kind, Number(process.argv[4]));
} else {
  const sizes = (process.env['BENCH_COST_MB'] ?? '2,8,24').split(',').map(Number);
  const cases: Array<[Kind, number]> = [
    ...sizes.flatMap(
      (mb): Array<[Kind, number]> => [
        ['newsletter', mb * 1e6],
        ['prose', mb * 1e6],
      ],
    ),
    ['attachment', 48e6],
  ];
  const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;
  console.log('cost: peak RSS growth while the engine filters one message from a file (fresh process each, after warm-up)');
  for (const [kind, size] of cases) {
    const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), 'child', kind, String(size)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const r = JSON.parse(out) as { kind: string; bytes: number; inspected: number; grew: number; ms: number; findings: number };
    const factor = r.inspected > 0 ? (r.grew / r.inspected).toFixed(1) : '-';
    console.log(`  ${r.kind.padEnd(10)} message ${mb(r.bytes)}, inspected ${mb(r.inspected)}: peak grew ${mb(r.grew)} (${factor} × inspected), ${r.findings} findings, ${(r.ms / 1000).toFixed(1)} s`);
  }
}
