/**
 * The HTTP side of the relay (fastify): consent pages, the gate, `/healthz` and `/metrics`.
 *
 * Rules every route keeps:
 *  - a GET never changes consent (mail security scanners fetch every link in a message): it
 *    shows a page; the change is recorded on POST only;
 *  - nothing about the person is logged: fastify's request logging is off and the routes log
 *    nothing; the gate counts, it does not record;
 *  - tokens are verified (constant-time MAC, expiry, key not retired) before anything else.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';

import type { ConsentEvent, ConsentScope, ConsentStore, NewConsentEvent } from '../consent/store.js';
import { asRelayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { KeyRing } from './keys.js';
import { CONSENT_PATH, GATE_PATH } from './links.js';
import { M, type Metrics } from './metrics.js';
import { escapeHtml, form, layout, paragraphs } from './pages.js';
import type { LinkSubjects } from './subjects.js';
import { verifyToken, type TokenClaims, type TokenFailure } from './token.js';
import { fill, scopesText, shown, type ShownWording, type Wording } from './wording.js';

export interface WebServerDeps {
  readonly keys: KeyRing;
  readonly subjects: LinkSubjects;
  readonly consent: ConsentStore;
  readonly metrics: Metrics;
  readonly wording: Wording;
  readonly logger: Logger;
  /** Called after a change is recorded: the audit chain's consent-changed event (src/audit/consent.ts). */
  readonly onConsentChange?: (event: ConsentEvent) => Promise<void>;
  /** PEM certificate and key: serve HTTPS. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** For tests: the clock tokens are checked against. */
  readonly now?: () => number;
}

/** A 1×1 transparent GIF: what a pixel gets once opens consent is gone. */
export const TRANSPARENT_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

interface TokenParams {
  token: string;
}
type FormBody = Record<string, string | string[] | undefined> | undefined;

export function buildWebServer(deps: WebServerDeps): FastifyInstance {
  // tokens of gate links carry the tracker URL: far longer than fastify's 100-character default
  const options = { logger: false, bodyLimit: 16 * 1024, forceCloseConnections: true, return503OnClosing: true, routerOptions: { maxParamLength: 16 * 1024 } } as const;
  const app = (deps.tls ? Fastify({ ...options, https: { cert: deps.tls.cert, key: deps.tls.key } }) : Fastify(options)) as unknown as FastifyInstance;
  void app.register(formbody);
  const now = deps.now ?? Date.now;
  const w = deps.wording;
  const count = (page: string, method: string, outcome: string): void => deps.metrics.inc(M.pages[0], M.pages[1], { page, method, outcome });

  app.addHook('onSend', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
  });

  app.get('/healthz', async (_req, reply) => {
    try {
      await deps.consent.lookup([]);
      return reply.type('text/plain; charset=utf-8').send('ok\n');
    } catch {
      return reply.code(503).type('text/plain; charset=utf-8').send('consent store unavailable\n');
    }
  });

  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await deps.metrics.render()));

  const html = (reply: FastifyReply, code: number, title: string, body: string): FastifyReply =>
    reply
      .code(code)
      .type('text/html; charset=utf-8')
      .send(layout(w, title, body));

  const invalid = (reply: FastifyReply, reason: TokenFailure | 'action'): FastifyReply =>
    html(reply, reason === 'expired' ? 410 : 404, w.invalid.title, paragraphs(reason === 'expired' ? w.invalid.expired : w.invalid.body));

  /** The lines a consent page shows (what the POST records the hash of). */
  const consentLines = (claims: TokenClaims): { title: string; lines: string[]; button: string; done: string } => {
    const p = claims.action === 'opt-in' ? w['opt-in'] : w['opt-out'];
    const scopes = scopesText(w, claims.scopes);
    return { title: p.title, lines: [p.title, fill(p.body, { scopes }), p.button], button: p.button, done: fill(p.done, { scopes }) };
  };

  const consentToken = (token: string): TokenResultFor => {
    const r = verifyToken(deps.keys, token, now());
    if (!r.ok) return r;
    if (r.claims.action !== 'opt-in' && r.claims.action !== 'opt-out') return { ok: false, reason: 'malformed' };
    return r;
  };

  app.get<{ Params: TokenParams }>(`${CONSENT_PATH}:token`, async (req, reply) => {
    const r = consentToken(req.params.token);
    if (!r.ok) {
      count('consent', 'GET', r.reason);
      return invalid(reply, r.reason);
    }
    count(r.claims.action, 'GET', 'shown');
    const c = consentLines(r.claims);
    return html(reply, 200, c.title, paragraphs(c.lines[1]!) + form(w.version, [{ name: 'confirm', value: 'yes', label: c.button, primary: true }]));
  });

  app.post<{ Params: TokenParams; Body: FormBody }>(`${CONSENT_PATH}:token`, async (req, reply) => {
    const r = consentToken(req.params.token);
    if (!r.ok) {
      count('consent', 'POST', r.reason);
      return invalid(reply, r.reason);
    }
    const claims = r.claims;
    const body = req.body ?? {};
    // RFC 8058 one-click: a mail client POSTs "List-Unsubscribe=One-Click" without showing our page
    const oneClick = claims.action === 'opt-out' && body['List-Unsubscribe'] === 'One-Click';
    const c = consentLines(claims);
    if (!oneClick && body.wording !== w.version) {
      count(claims.action, 'POST', 'wording-changed');
      return html(
        reply,
        409,
        c.title,
        `<p class="note">${escapeHtml(w.changed)}</p>\n${paragraphs(c.lines[1]!)}${form(w.version, [{ name: 'confirm', value: 'yes', label: c.button, primary: true }])}`,
      );
    }
    const address = deps.subjects.resolve(claims.recipient!);
    if (!address) {
      count(claims.action, 'POST', 'unknown-recipient');
      return invalid(reply, 'action');
    }
    const wording = oneClick ? shown(w, [w.notice.link]) : shown(w, c.lines);
    let recorded: ConsentEvent;
    try {
      recorded = await deps.consent.record(consentEvent(address, claims.action === 'opt-in' ? 'grant' : 'withdraw', claims.scopes, wording, evidence(deps.subjects, req), oneClick));
    } catch (err) {
      const e = asRelayError(err, 'CONSENT_STORE_UNAVAILABLE', 'consent store unavailable');
      deps.logger.error({ code: e.code }, 'web: consent change not recorded');
      count(claims.action, 'POST', 'store-error');
      return html(reply, 503, c.title, paragraphs(w.invalid.body));
    }
    try {
      await deps.onConsentChange?.(recorded);
    } catch (err) {
      // the change itself is recorded and in force; only its chained audit event is missing
      deps.logger.error({ code: asRelayError(err, 'AUDIT_UNAVAILABLE', 'audit log unavailable').code, consentEventId: recorded.id }, 'web: consent change recorded but not chained in the audit log');
    }
    deps.metrics.inc(M.consentChanges[0], M.consentChanges[1], { action: claims.action === 'opt-in' ? 'grant' : 'withdraw', method: 'link' });
    count(claims.action, 'POST', 'recorded');
    return html(reply, 200, c.title, paragraphs(c.done));
  });

  app.get<{ Params: TokenParams }>(`${GATE_PATH}:token`, async (req, reply) => {
    const r = verifyToken(deps.keys, req.params.token, now());
    if (!r.ok || !r.claims.target) {
      deps.metrics.inc(M.gate[0], M.gate[1], { result: r.ok ? 'malformed' : r.reason });
      return invalid(reply, r.ok ? 'malformed' : r.reason);
    }
    const { claims } = r;
    const target = claims.target!;
    const vendor = target.vendor ?? w.notice.unknownVendor;
    if (claims.action === 'ask') {
      deps.metrics.inc(M.gate[0], M.gate[1], { result: 'ask-shown' });
      return html(
        reply,
        200,
        w.ask.title,
        paragraphs(fill(w.ask.body, { vendor })) +
          form(w.version, [
            { name: 'choice', value: 'continue', label: fill(w.ask.continue, { vendor }), primary: true },
            { name: 'choice', value: 'cancel', label: w.ask.cancel },
          ]),
      );
    }
    if (claims.action !== 'gate') return invalid(reply, 'action');
    const address = deps.subjects.resolve(claims.recipient!);
    let holds = false;
    if (address) {
      try {
        const consent = (await deps.consent.lookup([address])).get(address);
        holds = claims.scopes.every((s: ConsentScope) => consent?.[s] === true);
      } catch {
        // cannot tell whether consent still holds: fail closed, as if withdrawn
        holds = false;
      }
    }
    if (holds && webUrl(target.url)) {
      deps.metrics.inc(M.gate[0], M.gate[1], { result: 'followed', kind: target.kind });
      return reply.code(302).header('location', target.url).send();
    }
    if (target.kind === 'pixel') {
      deps.metrics.inc(M.gate[0], M.gate[1], { result: 'blank', kind: 'pixel' });
      return reply.code(200).type('image/gif').send(TRANSPARENT_GIF);
    }
    if (target.destination && webUrl(target.destination)) {
      deps.metrics.inc(M.gate[0], M.gate[1], { result: 'unwrapped', kind: 'link' });
      return reply.code(302).header('location', target.destination).send();
    }
    deps.metrics.inc(M.gate[0], M.gate[1], { result: 'explained', kind: 'link' });
    return html(reply, 200, w['gate-withdrawn'].title, paragraphs(fill(w['gate-withdrawn'].body, { vendor })));
  });

  app.post<{ Params: TokenParams; Body: FormBody }>(`${GATE_PATH}:token`, async (req, reply) => {
    const r = verifyToken(deps.keys, req.params.token, now());
    if (!r.ok || r.claims.action !== 'ask' || !r.claims.target) {
      deps.metrics.inc(M.gate[0], M.gate[1], { result: r.ok ? 'malformed' : r.reason });
      return invalid(reply, r.ok ? 'malformed' : r.reason);
    }
    if (req.body?.choice === 'continue' && webUrl(r.claims.target.url)) {
      deps.metrics.inc(M.gate[0], M.gate[1], { result: 'ask-continued' });
      return reply.code(303).header('location', r.claims.target.url).send();
    }
    deps.metrics.inc(M.gate[0], M.gate[1], { result: 'ask-cancelled' });
    return html(reply, 200, w.ask.title, paragraphs(w.ask.cancelled));
  });

  return app;
}

type TokenResultFor = ReturnType<typeof verifyToken>;

/** Only http(s) is redirected to, even from a signed token: a javascript: or data: URL from a message is never followed. */
function webUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

/** Evidence of who acted, that names no one: a keyed hash of the client address and user agent. */
function evidence(subjects: LinkSubjects, req: FastifyRequest): string {
  return subjects.evidenceHash(`${req.ip}\n${req.headers['user-agent'] ?? ''}`);
}

/** The consent event a link records: the wording shown in its own fields, the client as a keyed hash. */
function consentEvent(address: string, action: 'grant' | 'withdraw', scopes: readonly ConsentScope[], wording: ShownWording, clientHash: string, oneClick: boolean): NewConsentEvent {
  return {
    address,
    action,
    scopes,
    source: oneClick ? 'one-click withdrawal (RFC 8058) from a link in mail' : action === 'grant' ? 'opt-in link' : 'opt-out link',
    method: 'link',
    evidence: `client hmac-sha256:${clientHash}`,
    recordedBy: 'consent-relay web',
    wordingVersion: wording.version,
    wordingSha256: wording.sha256,
  };
}
