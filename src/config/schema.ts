/**
 * The configuration: one schema that yields the types, the defaults and the documentation
 * (config/relay.example.yaml mirrors it key for key). Unknown keys are errors.
 */
import { z } from 'zod';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s", "5m", "2h", "5d" or a number of milliseconds. */
const duration = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(DURATION, 'a duration like "30s", "5m", "2h" or "5d"')
    .transform((s) => {
      const m = DURATION.exec(s)!;
      return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
    }),
]);

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?$/i;
const UNIT_B: Record<string, number> = { b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };
/** "25MB", "512KB" or a number of bytes. */
const size = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(SIZE, 'a size like "25MB" or "512KB"')
    .transform((s) => {
      const m = SIZE.exec(s)!;
      return Math.round(Number(m[1]) * UNIT_B[(m[2] ?? 'b').toLowerCase()]!);
    }),
]);

/** host:port, with [v6]:port allowed. */
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'HOST:PORT, e.g. 127.0.0.1:2525');

/** A network in CIDR notation: 192.0.2.0/24, 2001:db8::/32, or one address (a /32 or /128). */
const cidr = z.string().regex(/^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(?:\/\d{1,3})?$/, 'a network like 192.0.2.0/24 or 2001:db8::/32');

/** A certificate chain and its private key, PEM files (re-read on SIGHUP). */
const tlsFilesSchema = z.strictObject({
  cert: z.string().min(1),
  key: z.string().min(1),
});

const listenerBase = {
  address: hostPort,
  /** Shown in the greeting and used as the DSN reporting MTA. */
  hostname: z.string().min(1).optional(),
};

/**
 * Where clients connect, one entry per socket. `local`: loopback clients only, no credentials
 * (the embedded default). `submission`: mail clients, TLS then AUTH, each user limited to their
 * own senders. `smarthost`: the company's MTAs, by source address (CIDR allowlist), optionally
 * with STARTTLS and a client certificate signed by `clientCa`.
 */
const listenerSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('local'), ...listenerBase }),
  z.strictObject({
    mode: z.literal('submission'),
    ...listenerBase,
    tls: tlsFilesSchema,
    /** true: TLS from the first byte (port 465); false: STARTTLS (port 587). */
    implicitTls: z.boolean().default(false),
  }),
  z.strictObject({
    mode: z.literal('smarthost'),
    ...listenerBase,
    allow: z.array(cidr).min(1),
    /** Offer STARTTLS with this certificate. */
    tls: tlsFilesSchema.optional(),
    /** Require STARTTLS and a client certificate signed by this CA (PEM file) before MAIL. */
    clientCa: z.string().min(1).optional(),
  }),
]);

export type ListenerConfig = z.output<typeof listenerSchema>;

/** The HTTP side (src/web/): consent pages, the gate, health and metrics. Off without `listen`. */
const httpSchema = z
  .strictObject({
    /** HOST:PORT of the HTTP listener; absent: no HTTP side (and no links in mail). */
    listen: hostPort.optional(),
    /** The base URL recipients reach the listener at (a reverse proxy terminating TLS, usually); default http://<listen>. */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    keys: z
      .strictObject({
        /** A new signing key is made when the newest is this old; older keys still verify. */
        rotateEvery: duration.default(30 * 86_400_000),
        /** A key this old is deleted: links signed with it stop working. */
        retireAfter: duration.default(400 * 86_400_000),
      })
      .default({ rotateEvery: 30 * 86_400_000, retireAfter: 400 * 86_400_000 }),
    /** How long an opt-in link from `consent invite` or the placeholder stays valid. */
    inviteLifetime: duration.default(30 * 86_400_000),
    /** How long withdrawal and gate links in delivered mail stay valid (capped by keys.retireAfter). */
    linkLifetime: duration.default(365 * 86_400_000),
    /** Serve HTTPS with this certificate and key (PEM files); absent: plain HTTP, for a reverse proxy that terminates TLS. */
    tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
    /** A YAML file overriding the page and notice wording (src/web/wording.ts lists the keys); default English. */
    wording: z.string().min(1).optional(),
  })
  .default({ keys: { rotateEvery: 30 * 86_400_000, retireAfter: 400 * 86_400_000 }, inviteLifetime: 30 * 86_400_000, linkLifetime: 365 * 86_400_000 });

export const configSchema = z.strictObject({
  hostname: z.string().min(1).default('consent-relay.localdomain'),
  dataDir: z.string().min(1).default('./data'),
  // `listen:` (a list of addresses) from before listeners had modes is read as local listeners (config/load.ts)
  listeners: z
    .array(z.preprocess((v) => (v && typeof v === 'object' && !Array.isArray(v) && !('mode' in v) ? { mode: 'local', ...v } : v), listenerSchema))
    .min(1)
    .default([{ mode: 'local', address: '127.0.0.1:2525' }]),
  auth: z
    .strictObject({
      /** Failed AUTH attempts from one address within failureWindow before it is locked out (454 4.7.0). */
      maxFailuresPerIp: z.number().int().min(1).default(10),
      /** Failed AUTH attempts for one user name within failureWindow before it is locked out. */
      maxFailuresPerUser: z.number().int().min(1).default(5),
      failureWindow: duration.default(900_000),
      /** The first lockout; each further one for the same address or name doubles it, up to 24 h. */
      lockout: duration.default(300_000),
      /** Every failed attempt waits this long before its 535. */
      failureDelay: duration.default(1000),
      /** Commands a submission client may send before it authenticates (then 421). */
      maxCommandsBeforeAuth: z.number().int().min(3).default(20),
      /** Messages one user may send per minute (451 4.7.1 beyond). */
      userMessagesPerMinute: z.number().int().min(1).default(120),
      /** Recipients one user may address per minute (451 4.7.1 beyond). */
      userRecipientsPerMinute: z.number().int().min(1).default(1000),
    })
    .default({
      maxFailuresPerIp: 10,
      maxFailuresPerUser: 5,
      failureWindow: 900_000,
      lockout: 300_000,
      failureDelay: 1000,
      maxCommandsBeforeAuth: 20,
      userMessagesPerMinute: 120,
      userRecipientsPerMinute: 1000,
    }),
  upstream: z
    .strictObject({
      address: hostPort.default('127.0.0.1:25'),
      /**
       * auto: STARTTLS required and verified, except to a loopback IP literal without credentials
       * (src/delivery/upstreamTls.ts); starttls / implicit: always TLS; none: never (off loopback
       * only with allowPlaintext).
       */
      tls: z.enum(['auto', 'starttls', 'implicit', 'none']).default('auto'),
      /** The name the upstream's certificate must carry (and SNI); default: the host in address. */
      serverName: z.string().min(1).optional(),
      /** PEM file of the CA(s) that sign the upstream's certificate, instead of the system's. */
      caFile: z.string().min(1).optional(),
      /** tls: none to an upstream that is not on loopback: mail (and credentials) in clear text. */
      allowPlaintext: z.boolean().default(false),
      /** A client certificate for upstreams that ask for one. */
      clientCert: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
      /** SMTP AUTH to the upstream; the password comes from a file or an environment variable, never the config. */
      auth: z
        .strictObject({
          user: z.string().min(1),
          passwordFile: z.string().min(1).optional(),
          passwordEnv: z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
            .optional(),
        })
        .refine((a) => (a.passwordFile === undefined) !== (a.passwordEnv === undefined), 'set exactly one of passwordFile and passwordEnv')
        .optional(),
      maxConnections: z.number().int().min(1).max(100).default(5),
      connectTimeout: duration.default(10_000),
      socketTimeout: duration.default(60_000),
    })
    .default({ address: '127.0.0.1:25', tls: 'auto', allowPlaintext: false, maxConnections: 5, connectTimeout: 10_000, socketTimeout: 60_000 }),
  policy: z
    .strictObject({
      /** enforce: strip; monitor: deliver the original and only log what would have gone. */
      mode: z.enum(['enforce', 'monitor']).default('enforce'),
      /** utm_* and other campaign-level parameters that identify no one stay on links (values that carry an id go anyway). */
      keepCampaignParams: z.boolean().default(true),
      /** Read-receipt requests (Disposition-Notification-To, Return-Receipt-To) ask the recipient first: keep, or remove without opens consent. */
      readReceipts: z.enum(['keep', 'remove']).default('keep'),
    })
    .default({ mode: 'enforce', keepCampaignParams: true, readReceipts: 'keep' }),
  campaign: z
    .strictObject({
      /** Learn per-recipient URL positions from the copies of one campaign (campaigns.db in dataDir). */
      enabled: z.boolean().default(false),
      /** A campaign is forgotten this long after its last copy. */
      window: duration.default(24 * 3_600_000),
      /** Campaigns remembered at once; the least recently seen is forgotten first. */
      maxCampaigns: z.number().int().min(1).max(10_000_000).default(10_000),
      /** URLs remembered per campaign; further links of a bigger message are not learned. */
      maxUrlsPerCampaign: z.number().int().min(1).max(100_000).default(500),
    })
    .default({ enabled: false, window: 24 * 3_600_000, maxCampaigns: 10_000, maxUrlsPerCampaign: 500 }),
  engine: z
    .strictObject({
      /** Worker threads that run the engine off the SMTP event loop; absent: one per core; 0: inline (tests, debugging). */
      workers: z.number().int().min(0).max(256).optional(),
      /** Worker busy time one message may take; over it the message is refused (554 5.3.4) and the worker replaced. */
      cpuBudget: duration.default(30_000),
    })
    .default({ cpuBudget: 30_000 }),
  rules: z
    .strictObject({
      /** Path to a tracker rules file; default: the one shipped with the package. */
      file: z.string().min(1).optional(),
    })
    .default({}),
  smtp: z
    .strictObject({
      /** Bare CR or LF in a message: made CRLF before inspection (normalise) or refused with 550 5.5.2 (reject). */
      bareLineEndings: z.enum(['normalise', 'reject']).default('normalise'),
      /** Connections one client address may hold at once. */
      maxConnectionsPerIp: z.number().int().min(1).default(50),
      /** Of limits.maxClients, slots only for addresses that hold no connection yet. */
      reservedConnections: z.number().int().min(0).default(20),
      /** Commands per connection; then 421 and the client reconnects. */
      maxCommands: z.number().int().min(10).default(2000),
      /** No byte from the client for this long: 421. */
      idleTimeout: duration.default(60_000),
      /** From connect (or the end of the last message) to the end of the next message's DATA. */
      commandTimeout: duration.default(300_000),
      /** A whole DATA transfer, however fast it is going. */
      dataTimeout: duration.default(600_000),
      /** DATA must average this many bytes per second after dataRateGrace. */
      minDataRate: size.default(1024),
      dataRateGrace: duration.default(10_000),
      /**
       * When a limit would refuse a new connection, a connection with no transaction open that has
       * completed nothing for this long is closed (421) to make room; 0 turns eviction off.
       */
      evictIdleAfter: duration.default(10_000),
    })
    .default({
      bareLineEndings: 'normalise',
      maxConnectionsPerIp: 50,
      reservedConnections: 20,
      maxCommands: 2000,
      idleTimeout: 60_000,
      commandTimeout: 300_000,
      dataTimeout: 600_000,
      minDataRate: 1024,
      dataRateGrace: 10_000,
      evictIdleAfter: 10_000,
    }),
  limits: z
    .strictObject({
      maxMessageSize: size.default(50 * 1024 * 1024),
      maxRecipients: z.number().int().min(1).max(10_000).default(500),
      maxMimeDepth: z.number().int().min(2).max(200).default(32),
      maxMimeParts: z.number().int().min(2).max(100_000).default(1000),
      maxClients: z.number().int().min(1).default(200),
      /** Memory for messages in flight in the whole relay; each is charged a floor plus 40 × its inspected text bytes (src/smtp/budget.ts). */
      memoryBudget: size.default(256 * 1024 * 1024),
      /** How long a message waits for room in the budget before 452 4.3.1. */
      memoryWait: duration.default(15_000),
    })
    .default({ maxMessageSize: 50 * 1024 * 1024, maxRecipients: 500, maxMimeDepth: 32, maxMimeParts: 1000, maxClients: 200, memoryBudget: 256 * 1024 * 1024, memoryWait: 15_000 }),
  spool: z
    .strictObject({
      retryInitial: duration.default(60_000),
      retryFactor: z.number().min(1).max(10).default(2),
      retryMax: duration.default(3_600_000),
      giveUpAfter: duration.default(5 * 86_400_000),
      scanInterval: duration.default(5_000),
    })
    .default({ retryInitial: 60_000, retryFactor: 2, retryMax: 3_600_000, giveUpAfter: 5 * 86_400_000, scanInterval: 5_000 }),
  http: httpSchema,
  consent: z
    .strictObject({
      /** Route trackers kept for consenting recipients through the relay's gate, so a later withdrawal reaches mail already sent (needs http.listen). */
      gate: z.boolean().default(false),
      /** Add a notice naming the tracking vendors, with a one-click withdrawal link, to mail whose trackers are kept by consent (needs http.listen). */
      disclose: z.boolean().default(true),
    })
    .default({ gate: false, disclose: true }),
  links: z
    .strictObject({
      /** An opaque tracked link without consent: neutralise (the link loses its URL) or ask (a gate page names the tracker and lets the reader decide; needs http.listen). */
      opaque: z.enum(['neutralise', 'ask']).default('neutralise'),
    })
    .default({ opaque: 'neutralise' }),
  rights: z
    .strictObject({
      doNotContact: z
        .strictObject({
          /** A recipient who objected to contact (subject object): reject at RCPT (550 5.7.1), or warn (accept and record in the audit log). */
          mode: z.enum(['reject', 'warn']).default('reject'),
          /** The text after "550 5.7.1" (one line of printable ASCII). */
          reply: z
            .string()
            .regex(/^[\x20-\x7e]{1,400}$/, 'one line of printable ASCII text, at most 400 characters')
            .default('the recipient has asked not to be contacted; remove the address from your list'),
        })
        .default({ mode: 'reject', reply: 'the recipient has asked not to be contacted; remove the address from your list' }),
    })
    .default({ doNotContact: { mode: 'reject', reply: 'the recipient has asked not to be contacted; remove the address from your list' } }),
  retention: z
    .strictObject({
      /** A key's consent history goes this long after its latest event, once nothing in it is in force; 0 keeps it forever. */
      consentHistory: duration.default(3 * 365 * 86_400_000),
      /** Audit events older than this are deleted; 0 keeps them forever. */
      auditEvents: duration.default(2 * 365 * 86_400_000),
      /** An address behind audit hashes is forgotten when no event about it is newer than this (its events stay, unlinked); 0 never. */
      addresses: duration.default(365 * 86_400_000),
      /** Files left in spool/ (crash leftovers) and incoming/ older than this are deleted; 0 never. */
      leftovers: duration.default(7 * 86_400_000),
      /** How often a serving relay purges; 0: only `consent-relay maintenance purge`. */
      purgeInterval: duration.default(86_400_000),
    })
    .default({ consentHistory: 3 * 365 * 86_400_000, auditEvents: 2 * 365 * 86_400_000, addresses: 365 * 86_400_000, leftovers: 7 * 86_400_000, purgeInterval: 86_400_000 }),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
});

export type Config = Readonly<z.output<typeof configSchema>>;
