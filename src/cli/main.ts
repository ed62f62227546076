/**
 * Command-line wiring only: parse arguments, load the configuration, call a command function,
 * turn its errors into one line and an exit status.
 */
import { Command, CommanderError } from 'commander';
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { AUDIT_EVENT_TYPES, type AuditEventType } from '../audit/events.js';
import type { AuditFormat } from '../audit/report.js';
import { REPORT_DIMENSIONS, REPORT_FORMATS, type ReportDimension, type ReportFormat } from '../audit/summary.js';
import type { ConsentScope } from '../consent/store.js';
import { RelayError, isRelayError } from '../errors.js';
import type { ExportFormat } from '../consent/commands.js';
import { listenerFlags, parseAuditFormat, parseAuditType, parseChoice, parseExportFormat, parseLimit, parseScopeOption, parseWhen, type ListenerFlags } from './parse.js';

interface Wording {
  wordingVersion?: string;
  wordingFile?: string;
  wordingSha256?: string;
}

function wordingOf(o: Wording): Wording {
  return {
    ...(o.wordingVersion === undefined ? {} : { wordingVersion: o.wordingVersion }),
    ...(o.wordingFile === undefined ? {} : { wordingFile: o.wordingFile }),
    ...(o.wordingSha256 === undefined ? {} : { wordingSha256: o.wordingSha256 }),
  };
}

interface CommonOptions {
  config?: string;
  dataDir?: string;
}

function withCommon(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (YAML); see config/relay.example.yaml')
    .option('-d, --data-dir <dir>', 'directory of the consent store, audit log and spool (default ./data)');
}

function configFrom(o: CommonOptions, extra: ConfigOverrides = {}): ReturnType<typeof loadConfig> {
  return loadConfig(o.config, { ...extra, ...(o.dataDir ? { dataDir: o.dataDir } : {}) });
}

const PROGRAM_HELP = `
Commands that touch stored data take --config FILE and --data-dir DIR (default ./data), which
holds consent.db, audit.db + audit.key, and spool/.

Examples:
  consent-relay serve --config /etc/consent-relay/relay.yaml
  consent-relay scan message.eml > stripped.eml
  consent-relay consent grant alice@example.org --scope opens,clicks --source "signup form, 2026-10"
  consent-relay consent withdraw alice@example.org
  consent-relay audit list --since 7d --recipient alice@example.org
  consent-relay queue list

Exit status: 0 ok, 64 usage, 65 message cannot be filtered, 66 input unreadable,
69/75 upstream or store unavailable, 74 spool write failed, 78 bad configuration.
Run "consent-relay <command> --help" for a command's options.`;

// Command modules are imported when their command runs: `serve` pulls in the SMTP stack and
// `scan` the rules, and `queue list` or `--help` should not wait for either.
const load = {
  serve: () => import('./commands/serve.js'),
  scan: () => import('./commands/scan.js'),
  consent: () => import('./commands/consent.js'),
  invite: () => import('./commands/invite.js'),
  audit: () => import('./commands/audit.js'),
  queue: () => import('./commands/queue.js'),
  sink: () => import('./commands/sink.js'),
  users: () => import('./commands/users.js'),
  subject: () => import('./commands/subject.js'),
};

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('consent-relay')
    .description('Outbound SMTP relay that removes email trackers for recipients who have not consented, and records what it removed')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('after', PROGRAM_HELP);

  withCommon(program.command('serve'))
    .description('run the relay: SMTP in on --listen, filtered copies out to --upstream')
    .option('-l, --listen <host:port>', "the local (loopback-only) listener's address (default 127.0.0.1:2525)")
    .option('-u, --upstream <host:port>', 'upstream MTA (default 127.0.0.1:25)')
    .option('--http <host:port>', 'HTTP listener for consent pages, the gate, /healthz and /metrics (http.listen)')
    .option('--public-url <url>', 'base URL recipients reach the HTTP listener at (http.publicUrl)')
    .option('--submission <host:port>', 'add a submission listener (STARTTLS, or implicit TLS on port 465; AUTH required); needs --tls-cert and --tls-key')
    .option('--tls-cert <file>', 'certificate chain (PEM) for --submission / --smarthost')
    .option('--tls-key <file>', 'private key (PEM) for --tls-cert')
    .option('--smarthost <host:port>', 'add a smart-host listener for the MTAs in --allow (STARTTLS too when --tls-cert is given)')
    .option('--allow <cidrs>', 'networks allowed on --smarthost, e.g. 192.0.2.0/24,2001:db8::/32')
    .addHelpText(
      'after',
      '\nStops on SIGTERM/SIGINT after finishing the transactions in flight; re-reads TLS certificates on\nSIGHUP. Spooled copies are retried every spool.scanInterval (see config/relay.example.yaml).\nUsers for submission listeners: consent-relay users add NAME --senders ADDR|@DOMAIN[,...]',
    )
    .action(async (o: CommonOptions & ListenerFlags & { listen?: string; upstream?: string; http?: string; publicUrl?: string }) => {
      const web = { ...(o.http ? { http: o.http } : {}), ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}) };
      const addListeners = listenerFlags(o);
      setExit(await (await load.serve()).serveCommand(configFrom(o, { ...(o.listen ? { listen: o.listen } : {}), ...(o.upstream ? { upstream: o.upstream } : {}), ...web, addListeners })));
    });

  withCommon(program.command('scan'))
    .description('write FILE (or - for stdin) as RECIPIENT would receive it; summary of trackers on stderr')
    .argument('<files...>', 'message file (.eml), or - for standard input; several with --campaign')
    .option('-r, --recipient <addr>', 'recipient whose recorded consent applies (default: no consent)')
    .option('-o, --out <file>', 'write the message here instead of stdout (with --campaign: a directory)')
    .option('--json', 'print the findings as JSON on stdout (needs --out)')
    .option('--campaign', 'the files are copies of one campaign: learn the per-recipient URL positions from all, then filter each')
    .addHelpText(
      'after',
      `
Uses the same rules and engine as the relay. Exit 65 if the message cannot be filtered
(the relay would answer 451 and not send it).

With --campaign, positions of a URL whose values differ between the copies (recipient tokens)
are removed from every copy, as the relay does from the second copy of a campaign on; the
learned URL templates (host and path shape, no values) are listed on stderr. Without --out the
filtered messages follow each other on stdout, each after a "==> FILE <==" line.

Examples:
  consent-relay scan newsletter.eml > as-received.eml
  consent-relay scan newsletter.eml --recipient alice@example.org --data-dir /var/lib/consent-relay
  consent-relay scan - --out stripped.eml --json < newsletter.eml
  consent-relay scan --campaign copy-alice.eml copy-bob.eml copy-carol.eml --out filtered/`,
    )
    .action(async (files: string[], o: CommonOptions & { recipient?: string; out?: string; json?: boolean; campaign?: boolean }) => {
      const rest = { ...(o.recipient ? { recipient: o.recipient } : {}), ...(o.out ? { out: o.out } : {}), json: Boolean(o.json) };
      if (o.campaign) {
        setExit(await (await load.scan()).scanCampaignCommand(configFrom(o), { files, ...rest }));
        return;
      }
      if (files.length !== 1) throw new RelayError('USAGE', `scan takes one file (or - for stdin), not ${files.length}; several copies of one campaign need --campaign`);
      setExit(await (await load.scan()).scanCommand(configFrom(o), { file: files[0]!, ...rest }));
    });

  const consent = program
    .command('consent')
    .description("record and read recipients' consent to open and click tracking (consent.db)")
    .addHelpText('after', '\nConsent is a history of events; the current state is derived from it. No record means no consent.');

  withCommon(consent.command('grant'))
    .description('record that ADDR agreed to tracking of the given scopes')
    .argument('<addr>', 'recipient email address')
    .option('-s, --scope <scopes>', 'what was agreed to: opens, clicks, or opens,clicks (or all); required', parseScopeOption)
    .option('--source <text>', 'where the consent came from, e.g. "signup form on example.com"; required')
    .option('--evidence <text>', 'reference to proof: ticket, form submission id, copy of the form text')
    .option('--until <date>', 'the grant lapses then: a date (2027-12-31), a time, or a duration from now (365d)', (v: string) => parseWhen(v, '--until', 1))
    .option('--by <name>', 'who records it (default: the user running the command)')
    .option('--wording-version <v>', 'the version of the consent wording the person was shown, e.g. "signup form v3"')
    .option('--wording-file <file>', "a file with that wording's text: its SHA-256 is recorded (the text is not)")
    .option('--wording-sha256 <hex>', "the SHA-256 of that wording's text, if you have it rather than the file")
    .addHelpText(
      'after',
      '\nADDR may be a whole domain, @customer.example (e.g. a customer contract covering everyone there);\nan individual withdrawal always wins over it.\n\nExample:\n  consent-relay consent grant alice@example.org --scope opens,clicks --source "webinar signup 2026-10" --evidence "form #1234" --until 365d --wording-version v3 --wording-file form-v3.txt',
    )
    .action(async (address: string, o: CommonOptions & Wording & { scope?: ConsentScope[]; source?: string; evidence?: string; until?: string; by?: string }) => {
      setExit(
        await (await load.consent()).consentGrantCommand(configFrom(o), {
          address,
          ...(o.scope ? { scopes: o.scope } : {}),
          ...(o.source === undefined ? {} : { source: o.source }),
          ...(o.evidence === undefined ? {} : { evidence: o.evidence }),
          ...(o.until === undefined ? {} : { until: o.until }),
          ...(o.by === undefined ? {} : { by: o.by }),
          ...wordingOf(o),
        }),
      );
    });

  withCommon(consent.command('withdraw'))
    .description('record that ADDR withdrew consent (every scope unless --scope)')
    .argument('<addr>', 'recipient email address')
    .option('-s, --scope <scopes>', 'withdraw only these: opens, clicks (default: all)', parseScopeOption)
    .option('--source <text>', 'how the withdrawal arrived, e.g. "unsubscribe reply" (default: withdrawal)')
    .option('--evidence <text>', 'reference to the request, if any')
    .option('--by <name>', 'who records it (default: the user running the command)')
    .addHelpText(
      'after',
      '\nOnly ADDR is required. Takes effect for the next message the relay receives; a copy already waiting in\nthe spool is filtered again under the lesser consent before its next attempt (audit: spool-refiltered).',
    )
    .action(async (address: string, o: CommonOptions & { scope?: ConsentScope[]; source?: string; evidence?: string; by?: string }) => {
      setExit(
        await (await load.consent()).consentWithdrawCommand(configFrom(o), {
          address,
          ...(o.scope ? { scopes: o.scope } : {}),
          ...(o.source === undefined ? {} : { source: o.source }),
          ...(o.evidence === undefined ? {} : { evidence: o.evidence }),
          ...(o.by === undefined ? {} : { by: o.by }),
        }),
      );
    });

  withCommon(consent.command('invite'))
    .description("print a signed opt-in URL for ADDR: opening it shows what tracking means; ADDR's confirmation is recorded with its evidence")
    .argument('<addr>', 'recipient email address')
    .option('-s, --scope <scopes>', 'what to ask for: opens, clicks (default: all)', parseScopeOption)
    .option('--public-url <url>', "base URL of the relay's HTTP side (http.publicUrl)")
    .addHelpText('after', "\nThe link is valid for http.inviteLifetime. In a message, {{consent-relay:opt-in}} is replaced by each\nrecipient's own link.")
    .action(async (address: string, o: CommonOptions & { scope?: ConsentScope[]; publicUrl?: string }) => {
      setExit(await (await load.invite()).consentInviteCommand(configFrom(o, o.publicUrl ? { publicUrl: o.publicUrl } : {}), { address, ...(o.scope ? { scopes: o.scope } : {}) }));
    });

  withCommon(consent.command('show'))
    .description('current consent of ADDR per scope, and every event that led to it')
    .argument('<addr>', 'recipient email address')
    .action(async (address: string, o: CommonOptions) => {
      setExit(await (await load.consent()).consentShowCommand(configFrom(o), { address }));
    });

  withCommon(consent.command('import'))
    .description('record consent from a CSV file: a consent-relay export, or a HubSpot, Salesforce or Pipedrive contact export')
    .argument('<file>', 'CSV file, or - for standard input')
    .option('--dry-run', 'check every row and report bad ones with their line numbers; record nothing')
    .option('-s, --scope <scopes>', "what a CRM row's opt-in covers: opens, clicks or opens,clicks (required when the CRM file has opt-ins)", parseScopeOption)
    .option('--source <text>', 'source recorded on CRM rows (default: "import of <format> export")')
    .option('--by <name>', 'who records it (default: the user running the command)')
    .option('--wording-version <v>', 'the version of the consent wording these people were shown')
    .option('--wording-file <file>', "a file with that wording's text (its SHA-256 is recorded)")
    .option('--wording-sha256 <hex>', 'the SHA-256 of that text')
    .addHelpText(
      'after',
      `
All or nothing: if any row is bad, every bad row is listed with its line number, nothing is recorded
and the exit status is 65. Every event records the file's SHA-256 and its row's line. The column
mapping per CRM is in the README (Recording consent).

Examples:
  consent-relay consent import hubspot-contacts.csv --scope opens,clicks --dry-run
  consent-relay consent import consent-backup.csv          # a file written by consent export`,
    )
    .action(async (file: string, o: CommonOptions & Wording & { dryRun?: boolean; scope?: ConsentScope[]; source?: string; by?: string }) => {
      setExit(
        await (await load.consent()).consentImportCommand(configFrom(o), {
          file,
          dryRun: Boolean(o.dryRun),
          ...(o.scope ? { scopes: o.scope } : {}),
          ...(o.source === undefined ? {} : { source: o.source }),
          ...(o.by === undefined ? {} : { by: o.by }),
          ...wordingOf(o),
        }),
      );
    });

  withCommon(consent.command('export'))
    .description('every consent event (domain-wide ones too) as CSV (the format import reads) or JSON, on stdout')
    .option('-f, --format <format>', 'csv or json', parseExportFormat, 'csv' as ExportFormat)
    .action(async (o: CommonOptions & { format: ExportFormat }) => {
      setExit(await (await load.consent()).consentExportCommand(configFrom(o), { format: o.format }));
    });

  withCommon(consent.command('list'))
    .description('every address with a consent record and its current consent')
    .action(async (o: CommonOptions) => {
      setExit(await (await load.consent()).consentListCommand(configFrom(o)));
    });

  const audit = program.command('audit').description('read the audit log of what was removed, for whom, and why (audit.db)');

  withCommon(audit.command('list'))
    .description('audit events, oldest first (with --limit: the most recent N)')
    .option('--since <when>', 'events at or after: a date (2026-10-01), a time, or a duration ago (7d, 12h)', (v: string) => parseWhen(v, '--since'))
    .option('--until <when>', 'events before: a date, a time, or a duration ago', (v: string) => parseWhen(v, '--until'))
    .option('-r, --recipient <addr>', 'events concerning this recipient (matched by its keyed hash)')
    .option('--sender <addr>', 'events of messages from this envelope sender')
    .option('-t, --type <type>', `${AUDIT_EVENT_TYPES.join(', ')}`, parseAuditType)
    .option('-q, --queue-id <id>', "one message's whole record: the queue id from the relay's 250 reply or any row")
    .option('-n, --limit <n>', 'at most N rows, the most recent ones', parseLimit)
    .option('-f, --format <format>', 'table, csv or json', parseAuditFormat, 'table' as AuditFormat)
    .addHelpText(
      'after',
      `
Rows name recipients only by a keyed hash and carry redacted URLs, never bodies or raw tokens.

Examples:
  consent-relay audit list --since 7d --type finding
  consent-relay audit list --recipient alice@example.org --format csv > alice.csv
  consent-relay audit list --queue-id 1a2b3c4d --format json      # accepted, spooled, retried, bounced ...`,
    )
    .action(async (o: CommonOptions & { since?: string; until?: string; recipient?: string; sender?: string; type?: AuditEventType; queueId?: string; limit?: number; format: AuditFormat }) => {
      setExit(
        await (await load.audit()).auditListCommand(configFrom(o), {
          format: o.format,
          ...(o.since === undefined ? {} : { since: o.since }),
          ...(o.until === undefined ? {} : { until: o.until }),
          ...(o.recipient === undefined ? {} : { recipient: o.recipient }),
          ...(o.sender === undefined ? {} : { sender: o.sender }),
          ...(o.type === undefined ? {} : { type: o.type }),
          ...(o.queueId === undefined ? {} : { queueId: o.queueId }),
          ...(o.limit === undefined ? {} : { limit: o.limit }),
        }),
      );
    });

  withCommon(audit.command('report'))
    .description('what was removed, how often, by whom: figures by sender, vendor, technique or day; consent coverage; top senders and tools')
    .option('--by <dimension>', `group by ${REPORT_DIMENSIONS.join(', ')}`, (v: string) => parseChoice(v, '--by', REPORT_DIMENSIONS), 'vendor' as ReportDimension)
    .option('--since <when>', 'events at or after: a date, a time, or a duration ago (30d)', (v: string) => parseWhen(v, '--since'))
    .option('--until <when>', 'events before: a date, a time, or a duration ago', (v: string) => parseWhen(v, '--until'))
    .option('--top <n>', 'rows in the top senders / tools / vendors lists (default 10)', parseLimit)
    .option('-f, --format <format>', 'table, csv, json or html (one self-contained page)', (v: string) => parseChoice(v, '--format', REPORT_FORMATS), 'table' as ReportFormat)
    .addHelpText(
      'after',
      '\nSenders are personal data: the report is for compliance, not for operational logs.\n\nExamples:\n  consent-relay audit report --by sender --since 30d\n  consent-relay audit report --by day --since 2026-11-01 --until 2026-12-01 --format csv > november.csv\n  consent-relay audit report --since 30d --format html > report.html',
    )
    .action(async (o: CommonOptions & { by: ReportDimension; since?: string; until?: string; top?: number; format: ReportFormat }) => {
      setExit(
        await (await load.audit()).auditReportCommand(configFrom(o), {
          by: o.by,
          format: o.format,
          ...(o.since === undefined ? {} : { since: o.since }),
          ...(o.until === undefined ? {} : { until: o.until }),
          ...(o.top === undefined ? {} : { top: o.top }),
        }),
      );
    });

  withCommon(audit.command('verify'))
    .description('check that no audit event was edited, deleted, reordered or (with --checkpoint) cut away')
    .option('--checkpoint <file>', 'a checkpoint printed earlier by "audit checkpoint": also prove the log still holds every event it counted')
    .option('--public-key <file>', "the checkpoint must be signed by this Ed25519 public key (PEM; default: the data directory's)")
    .option('--json', 'the report as JSON')
    .addHelpText(
      'after',
      '\nExit 0 when everything holds; 65 with one line per problem (event number and what is wrong) otherwise.\n\nExamples:\n  consent-relay audit verify\n  consent-relay audit verify --checkpoint /mnt/worm/checkpoint-2026-11-30.json --public-key relay-checkpoints.pem',
    )
    .action(async (o: CommonOptions & { checkpoint?: string; publicKey?: string; json?: boolean }) => {
      setExit(
        await (await load.audit()).auditVerifyCommand(configFrom(o), {
          ...(o.checkpoint === undefined ? {} : { checkpoint: o.checkpoint }),
          ...(o.publicKey === undefined ? {} : { publicKey: o.publicKey }),
          json: Boolean(o.json),
        }),
      );
    });

  withCommon(audit.command('checkpoint'))
    .description('print a signed statement of the audit chain (event count, head MAC, time) to keep elsewhere')
    .option('--public-key', 'print the Ed25519 public key (PEM) that signs checkpoints, instead')
    .addHelpText(
      'after',
      '\nKeep the statement away from this machine; "audit verify --checkpoint FILE" then proves that\nnothing before it was changed or cut away.\n\nExamples:\n  consent-relay audit checkpoint > checkpoint-$(date +%F).json\n  consent-relay audit checkpoint --public-key > relay-checkpoints.pem',
    )
    .action(async (o: CommonOptions & { publicKey?: boolean }) => {
      setExit(await (await load.audit()).auditCheckpointCommand(configFrom(o), { publicKey: Boolean(o.publicKey) }));
    });

  const subject = program
    .command('subject')
    .description('data-subject requests: what is held about a person, erasure, objection to contact, a changed address')
    .addHelpText('after', "\nEach request is recorded in the audit log (subject-request); an erasure's record names no one.");

  withCommon(subject.command('export'))
    .description('everything held about ADDR: consent history, audit events about mail to them, do-not-contact state, retention')
    .argument('<addr>', "the person's email address")
    .option(
      '-f, --format <format>',
      'text (a readable report) or json',
      (v: string) => {
        const f = v.trim().toLowerCase();
        if (f !== 'text' && f !== 'json') throw new RelayError('USAGE', `--format must be text or json, not "${v}"`);
        return f;
      },
      'text',
    )
    .action(async (address: string, o: CommonOptions & { format: 'text' | 'json' }) => {
      setExit(await (await load.subject()).subjectExportCommand(configFrom(o), { address, format: o.format }));
    });

  withCommon(subject.command('erase'))
    .description('erase ADDR: consent history and every stored address go; audit events stay counted but no longer linked to them')
    .argument('<addr>', "the person's email address")
    .option('--yes', 'confirm (erasure cannot be undone)')
    .addHelpText('after', '\nIf the person objected to contact, a keyed hash stays on the suppression list so they are not contacted again.\nPrints a receipt with no personal data.')
    .action(async (address: string, o: CommonOptions & { yes?: boolean }) => {
      setExit(await (await load.subject()).subjectEraseCommand(configFrom(o), { address, yes: Boolean(o.yes) }));
    });

  withCommon(subject.command('object'))
    .description('ADDR objected to contact: the relay refuses mail to them at RCPT (550 5.7.1; rights.doNotContact) and their tracking consent is withdrawn')
    .argument('<addr>', "the person's email address")
    .option('--source <text>', 'how the objection arrived (default: objection to contact)')
    .option('--by <name>', 'who records it (default: the user running the command)')
    .action(async (address: string, o: CommonOptions & { source?: string; by?: string }) => {
      setExit(await (await load.subject()).subjectObjectCommand(configFrom(o), { address, ...(o.source === undefined ? {} : { source: o.source }), ...(o.by === undefined ? {} : { by: o.by }) }));
    });

  withCommon(subject.command('rectify'))
    .description('the address changed from OLD to NEW: consent history, objection, audit history and web links follow it')
    .argument('<old>', 'the old address')
    .argument('<new>', 'the new address')
    .action(async (from: string, to: string, o: CommonOptions) => {
      setExit(await (await load.subject()).subjectRectifyCommand(configFrom(o), { from, to }));
    });

  const maintenance = program.command('maintenance').description('housekeeping of the data directory');
  withCommon(maintenance.command('purge'))
    .description('delete what retention.* says is expired (a serving relay also does this every retention.purgeInterval)')
    .action(async (o: CommonOptions) => {
      setExit(await (await load.subject()).maintenancePurgeCommand(configFrom(o)));
    });

  const queue = program
    .command('queue')
    .description('copies waiting for redelivery in the spool (<data-dir>/spool)')
    .addHelpText('after', '\nThese commands change the spool files; a running relay picks the change up at its next spool scan.');

  withCommon(queue.command('list'))
    .description('spooled entries: id, consent class, recipient count, attempts, next attempt, last error')
    .action(async (o: CommonOptions) => {
      setExit(await (await load.queue()).queueListCommand(configFrom(o)));
    });

  withCommon(queue.command('retry'))
    .description('make entry ID (or all entries) due now; a running relay retries at its next spool scan')
    .argument('<id>', 'entry id from "queue list", or all')
    .action(async (id: string, o: CommonOptions) => {
      setExit(await (await load.queue()).queueRetryCommand(configFrom(o), { id }));
    });

  withCommon(queue.command('drop'))
    .description('delete entry ID without delivering it and without sending a bounce (recorded in the audit log as "dropped")')
    .argument('<id>', 'entry id from "queue list"')
    .action(async (id: string, o: CommonOptions) => {
      setExit(await (await load.queue()).queueDropCommand(configFrom(o), { id }));
    });

  program
    .command('sink')
    .description('a stand-in upstream for trying the relay without an MTA: stores every message it receives in --dir')
    .option('-l, --listen <host:port>', 'where to listen (loopback only)', '127.0.0.1:2526')
    .option('--dir <dir>', 'folder for the received messages (.eml as delivered, plus the envelope as .json)', './sink')
    .addHelpText(
      'after',
      '\nExample (three terminals):\n  consent-relay sink\n  consent-relay serve --upstream 127.0.0.1:2526\n  curl smtp://127.0.0.1:2525 --mail-from you@example.com --mail-rcpt alice@example.org --upload-file newsletter.eml',
    )
    .action(async (o: { listen: string; dir: string }) => {
      setExit(await (await load.sink()).sinkCommand({ listen: o.listen, dir: o.dir }));
    });

  const users = program
    .command('users')
    .description('logins for submission listeners and the envelope senders each may use (<data-dir>/users.db)')
    .addHelpText(
      'after',
      '\nPasswords are read from the terminal without echo, or with --password-stdin from the first line of\nstandard input; never from the command line. They are stored as scrypt hashes.',
    );

  withCommon(users.command('add'))
    .description('add login NAME that may send only from --senders')
    .argument('<name>', 'login name (letters, digits, . _ @ + -)')
    .option('--senders <list>', 'envelope senders this login may use: addresses and @domains, comma-separated; required')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .addHelpText('after', '\nExample:\n  printf %s "$PW" | consent-relay users add alice --senders alice@example.com,@sales.example.com --password-stdin')
    .action(async (name: string, o: CommonOptions & { senders?: string; passwordStdin?: boolean }) => {
      setExit(await (await load.users()).usersAddCommand(configFrom(o), { name, ...(o.senders === undefined ? {} : { senders: o.senders }), passwordStdin: !!o.passwordStdin }));
    });

  withCommon(users.command('passwd'))
    .description("change NAME's password (and with --senders, its senders)")
    .argument('<name>', 'login name')
    .option('--senders <list>', 'replace the senders this login may use')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (name: string, o: CommonOptions & { senders?: string; passwordStdin?: boolean }) => {
      setExit(await (await load.users()).usersPasswdCommand(configFrom(o), { name, ...(o.senders === undefined ? {} : { senders: o.senders }), passwordStdin: !!o.passwordStdin }));
    });

  withCommon(users.command('remove'))
    .description('delete login NAME (its sessions can send no further message)')
    .argument('<name>', 'login name')
    .action(async (name: string, o: CommonOptions) => {
      setExit(await (await load.users()).usersRemoveCommand(configFrom(o), { name }));
    });

  withCommon(users.command('list'))
    .description('every login and its senders')
    .action(async (o: CommonOptions) => {
      setExit(await (await load.users()).usersListCommand(configFrom(o)));
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  // belt and braces: everything this process creates is private even where a mode is forgotten
  // (the stores and the spool set their modes explicitly, see src/store/dataDir.ts)
  if (process.platform !== 'win32') process.umask(0o077);
  let exit = 0;
  const program = buildProgram((c) => (exit = c));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 64;
      return;
    }
    if (isRelayError(err)) {
      process.stderr.write(`consent-relay: ${err.reason}\n`);
      process.exitCode = err.spec.exit;
      return;
    }
    process.stderr.write(`consent-relay: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
    return;
  }
  process.exitCode = exit;
}
