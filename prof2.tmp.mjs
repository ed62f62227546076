import { readFileSync } from 'node:fs';
import { rewriteMessage } from './dist/src/rewrite/engine.js';
import { loadRules } from './dist/src/rewrite/rules/index.js';
const base = readFileSync('fixtures/golden/50-newsletter-large.eml', 'latin1');
const rules = loadRules();
const opts = { consent: { opens: false, clicks: false }, rules, recipients: ['kim@example.org'] };
// every copy its own tokens: hex digits after "qs=3D" and in other hex runs rotated per copy
const variant = (i) => Buffer.from(base.replace(/([0-9a-f]{12,})/g, (m) => m.slice(0, 4) + ((parseInt(m.slice(4, 10), 16) + i * 7919) % 0xffffff).toString(16).padStart(6, '0') + m.slice(10)), 'latin1');
const msgs = Array.from({ length: 170 }, (_, i) => variant(i + 1));
for (let i = 0; i < 20; i++) await rewriteMessage(msgs[i], opts);
const c0 = process.cpuUsage(); const t = performance.now(); const N = 150;
for (let i = 0; i < N; i++) await rewriteMessage(msgs[20 + i], opts);
const c = process.cpuUsage(c0); console.log('unique copies: ms/msg wall', ((performance.now() - t) / N).toFixed(2), 'cpu', ((c.user + c.system) / 1000 / N).toFixed(2));
