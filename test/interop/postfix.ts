/**
 * Interop harness: drive programs nobody here wrote — Debian's `swaks` (an SMTP client) and
 * Debian's `postfix` (as a smart-host client whose relayhost is our relay, and as an upstream
 * our relay delivers to) — from vitest, on 127.0.0.1 only.
 *
 *   const pf = await startPostfix({ relayhost: `127.0.0.1:${relayPort}`, name: 'client' });
 *   await postfixSendmail(pf, { from: 'a@example.test', to: ['b@example.test'], raw });
 *   await pf.queueEmpty(10_000);          // rejects (with queue + log tail) if mail is still queued
 *   await pf.stop();
 *
 *   const r = await sendViaSwaks({ port, from, to: ['x@example.test'], data: raw });
 *   expect(r.code).toBe(0);               // swaks exit code; r.stdout is the SMTP transcript
 *
 * Install the programs with `bash .ci/install-interop.sh` (root; CI does it in .ci/run).
 * `requireTools()` throws a message saying so when they are missing; the tests never skip.
 *
 * ## How a private Postfix instance is built (Postfix 3.7 on Debian 12)
 *
 * Every instance lives in its own mkdtemp dir D (mode 0755, so the unprivileged `postfix` user
 * can reach its queue): D/etc = config_directory (main.cf + master.cf written by us, owned by
 * root), D/spool = queue_directory, D/lib = data_directory, D/maillog = the log.
 * We lay out the queue subdirectories ourselves with the owners/modes of
 * /etc/postfix/postfix-files (e.g. maildrop postfix:postdrop 0730, public postfix:postdrop 0710,
 * pid root 0755, the rest postfix 0700) and drop a `quick-start` marker, so `postfix start`
 * skips post-install create-missing / postsuper / check-warn (~2 s); pass fullChecks: true to
 * run them instead. `postfix -c D/etc start` returns once master is up (`master -w`): ~0.1 s.
 * stop() runs `postfix -c D/etc abort` (SIGTERM to master, which passes it to its process group;
 * `postfix stop` does the same but polls in 1 s steps), waits for master to exit, SIGKILLs the
 * process group for leftovers, and removes D. Nothing under /etc/postfix or /var/spool/postfix
 * is touched; the Debian package may stay unconfigured ("No configuration"). Must run as root
 * (master refuses otherwise).
 *
 * main.cf keys and why:
 *   compatibility_level = 3.6       modern defaults, no "using backwards-compatible default" noise.
 *   config_directory, queue_directory, data_directory
 *                                   private dirs under D: instances never share state, so several
 *                                   can run at once.
 *   mail_owner = postfix, setgid_group = postdrop
 *                                   the users/groups the Debian package creates.
 *   syslog_name = postfix-NAME      distinct per instance, so log lines say which one spoke.
 *   maillog_file = D/maillog, maillog_file_prefixes = D
 *                                   no syslog daemon in a container: log to a file via the
 *                                   postlogd service (master.cf `postlog`). The prefix list must
 *                                   allow the path (default only /var and /dev/stdout).
 *   myhostname = NAME.interop.test, mydomain = interop.test, myorigin = $myhostname
 *                                   explicit FQDN: the VM's hostname may not be one, and a
 *                                   distinct name per instance keeps Postfix's "mail for
 *                                   HOSTNAME loops back to myself" check (greeting name ==
 *                                   myhostname) from firing when two instances are chained.
 *   mydestination = , local_recipient_maps = , alias_maps = , alias_database =
 *   relay_domains = , local_transport = error:...
 *                                   nothing is delivered locally, everything is relayed.
 *   mynetworks = 127.0.0.0/8, smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
 *                                   loopback clients may relay anywhere (it all goes to relayhost).
 *   inet_interfaces = 127.0.0.1, inet_protocols = ipv4
 *                                   loopback only; the smtpd listener itself is the master.cf
 *                                   line `127.0.0.1:PORT inet ... smtpd`.
 *   relayhost = [HOST]:PORT         brackets: no MX lookup, connect to exactly that address.
 *   smtp_dns_support_level = disabled, smtp_host_lookup = native, smtpd_peername_lookup = no
 *                                   no DNS at all (there is no network); the 3.x replacements
 *                                   for the deprecated disable_dns_lookups.
 *   smtp_tls_security_level = none, smtpd_tls_security_level = none
 *                                   plain SMTP on loopback; no certificates needed.
 *   queue_run_delay = 1s, minimal_backoff_time = 1s, maximal_backoff_time = 2s
 *                                   deferred mail is retried within ~1-2 s instead of minutes.
 *   default_destination_rate_delay = 0s, in_flow_delay = 0s
 *                                   no artificial pacing of deliveries/submissions.
 *   smtp_connect_timeout = 5s       a dead relay fails fast.
 *   delay_warning_time = 0h, notify_classes =
 *                                   no "delayed mail" warnings or postmaster notices that would
 *                                   show up as extra messages at the relay. (Real bounces for
 *                                   5xx rejections are still generated and relayed.)
 *   biff = no, append_dot_mydomain = no, smtputf8_enable = yes
 *                                   no comsat; addresses are passed on unchanged.
 *
 * master.cf: a minimal service table. Every service has chroot = n (the chroot jail would need
 * copies of /etc files inside the queue dir), the smtpd line binds 127.0.0.1:PORT, and
 * `postlog unix-dgram ... postlogd` serves maillog_file.
 *
 * Pitfalls found:
 *   - Postfix commands wait (0.3 s polls, ~2 s) while main.cf was modified in the last seconds
 *     ("still being edited"): freshly written main.cf/master.cf are backdated with utimes, also
 *     after reconfigure()'s postconf -e, or every start/reload costs ~2 s.
 *   - The daemonised master's parent is PID 1, which here reaps late: kill(pid, 0) succeeds on
 *     the zombie, so "is it still running" reads /proc/PID/stat and treats state Z as dead.
 *     Defunct master/pickup/qmgr entries may linger in `ps` for a while; they hold no ports.
 *   - maillog_file is refused unless it starts with one of maillog_file_prefixes (default
 *     /var, /dev/stdout), and needs the postlog service in master.cf, else start fails with
 *     "missing 'postlog' service in master.cf".
 *   - `postqueue -c DIR` / `sendmail -C DIR` (set-gid postdrop) work with a private config
 *     directory as root. Run as another user they first read /etc/postfix/main.cf (absent with
 *     "No configuration": fatal) and need DIR in its alternate_config_directories. The tests run
 *     as root, so /etc/postfix is left alone.
 *   - swaks rewrites DATA unless told not to (token substitution like %DATE%, literal "\n",
 *     "From " line stripping, header rebuilding, dot-stuffing only after a newline). sendViaSwaks
 *     therefore sends the raw message with --no-data-fixup, doing CRLF normalisation and
 *     dot-stuffing itself, so what arrives is exactly `data` (CRLF line ends).
 *   - Postfix adds its own Received: header ("Received: by NAME.interop.test (Postfix, from
 *     userid 0)" for sendmail, "Received: from ..." for SMTP) and Message-ID/Date if missing
 *     (the client is in mynetworks): compare bodies, not whole messages, across a Postfix hop.
 *   - A Postfix whose relayhost greets with Postfix's own myhostname bounces with "mail for X
 *     loops back to myself": each instance gets a distinct myhostname.
 */
import { spawn } from 'node:child_process';
import { type Dirent, existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

// ---------------------------------------------------------------------------------------------
// Tools

const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...SBIN_DIRS];
  for (const dir of dirs) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export interface Tools {
  /** Path of the swaks binary, if installed. */
  readonly swaks: string | undefined;
  /** Path of the postfix command, if installed (with postconf, sendmail, postqueue beside it). */
  readonly postfix: string | undefined;
  readonly postconf: string | undefined;
  readonly sendmail: string | undefined;
  readonly postqueue: string | undefined;
  /** Whether this process runs as root (a private Postfix master needs it). */
  readonly root: boolean;
  /** Human-readable reasons the interop tests cannot run; empty when all is there. */
  readonly missing: string[];
}

let toolsCache: Tools | undefined;

/** Which of swaks / postfix exist here (cached). */
export function availableTools(): Tools {
  if (toolsCache) return toolsCache;
  const swaks = findBinary('swaks');
  const postfix = findBinary('postfix');
  const postconf = findBinary('postconf');
  const sendmail = postfix ? join(dirname(postfix), 'sendmail') : undefined;
  const postqueue = findBinary('postqueue');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const missing: string[] = [];
  if (!swaks) missing.push('swaks is not installed');
  if (!postfix || !postconf || !postqueue) missing.push('postfix is not installed');
  if (sendmail && !existsSync(sendmail)) missing.push(`${sendmail} (postfix sendmail) is missing`);
  if (!root) missing.push('not running as root (a private Postfix master must start as root)');
  toolsCache = {
    swaks,
    postfix,
    postconf,
    sendmail: sendmail && existsSync(sendmail) ? sendmail : undefined,
    postqueue,
    root,
    missing,
  };
  return toolsCache;
}

export interface ResolvedTools {
  readonly swaks: string;
  readonly postfix: string;
  readonly postconf: string;
  readonly sendmail: string;
  readonly postqueue: string;
}

/** Throws a clear, actionable error when the interop tools are unavailable (or not root). */
export function requireTools(): ResolvedTools {
  const t = availableTools();
  if (t.missing.length > 0 || !t.swaks || !t.postfix || !t.postconf || !t.sendmail || !t.postqueue) {
    throw new Error(`interop tests need swaks and postfix, run as root: ${t.missing.join('; ')}.\nInstall them with: sudo bash .ci/install-interop.sh`);
  }
  return { swaks: t.swaks, postfix: t.postfix, postconf: t.postconf, sendmail: t.sendmail, postqueue: t.postqueue };
}

// ---------------------------------------------------------------------------------------------
// Process helpers

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface RunOptions {
  readonly input?: Buffer | string;
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** Run a program, feed it `input`, and collect its exit code and output (never throws on exit != 0). */
function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code: code ?? 128,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: timedOut ? `${stderr}\n[killed after ${opts.timeoutMs ?? 30_000} ms]` : signal ? `${stderr}\n[signal ${signal}]` : stderr,
      });
    });
    // The child may exit before reading stdin (e.g. a refused connection): ignore EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// swaks

export interface SwaksOptions {
  readonly port: number;
  /** Defaults to 127.0.0.1. */
  readonly host?: string;
  /** Envelope sender; '' sends MAIL FROM:<>. */
  readonly from: string;
  readonly to: readonly string[];
  /**
   * The raw message. Sent byte-exact (bare LF → CRLF, dot-stuffed, terminated) with swaks's
   * --no-data-fixup. Omit to let swaks generate its default test message.
   */
  readonly data?: Buffer | string;
  /** Let swaks process `data` itself (tokens, header rebuild, its dot quoting). Default false. */
  readonly dataFixup?: boolean;
  /** EHLO name; defaults to swaks.interop.test (swaks would otherwise look up the hostname). */
  readonly ehlo?: string;
  /** AUTH, if the server wants it. */
  readonly auth?: { readonly user: string; readonly password: string; readonly type?: string };
  /** Extra swaks arguments (e.g. ['--pipeline']). */
  readonly extraArgs?: readonly string[];
  readonly timeoutMs?: number;
}

/**
 * Prepare a raw message for SMTP DATA exactly as a careful client would: normalise bare LF and
 * bare CR to CRLF, make sure it ends with CRLF, and dot-stuff lines starting with '.'. Returns
 * the bytes up to but excluding the final ".\r\n".
 */
export function smtpDataBytes(raw: Buffer | string): Buffer {
  const text = (Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8')).toString('latin1');
  let s = text.replace(/\r\n|\r|\n/g, '\r\n');
  if (!s.endsWith('\r\n')) s += '\r\n';
  s = s.replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(s, 'latin1');
}

/** Run swaks against 127.0.0.1:port. Resolves with swaks's exit code (0 = accepted) and transcript. */
export async function sendViaSwaks(opts: SwaksOptions): Promise<RunResult> {
  const { swaks } = availableTools();
  if (!swaks) throw new Error('swaks is not installed. Install it with: sudo bash .ci/install-interop.sh');
  const args = [
    '--server',
    opts.host ?? '127.0.0.1',
    '--port',
    String(opts.port),
    '--ehlo',
    opts.ehlo ?? 'swaks.interop.test',
    '--from',
    opts.from === '' ? '<>' : opts.from,
    '--to',
    opts.to.join(','),
    '--timeout',
    `${Math.max(1, Math.ceil((opts.timeoutMs ?? 20_000) / 1000) - 1)}s`,
  ];
  let input: Buffer | undefined;
  if (opts.data !== undefined) {
    args.push('--data', '-');
    if (opts.dataFixup) {
      input = Buffer.isBuffer(opts.data) ? opts.data : Buffer.from(opts.data, 'utf8');
    } else {
      args.push('--no-data-fixup');
      // swaks sends the data followed by CRLF, so "...CRLF." on the wire ends as "CRLF.CRLF".
      input = Buffer.concat([smtpDataBytes(opts.data), Buffer.from('.', 'latin1')]);
    }
  }
  if (opts.auth) {
    args.push('--auth', opts.auth.type ?? 'PLAIN', '--auth-user', opts.auth.user, '--auth-password', opts.auth.password);
  }
  args.push(...(opts.extraArgs ?? []));
  return run(swaks, args, { input: input ?? '', timeoutMs: opts.timeoutMs ?? 20_000 });
}

// ---------------------------------------------------------------------------------------------
// Postfix

export interface StartPostfixOptions {
  /** Port for the instance's smtpd on 127.0.0.1; 0 or omitted picks a free one. */
  readonly listenPort?: number;
  /** Where everything is relayed: 'HOST:PORT' (bracketed automatically) or '[HOST]:PORT'. */
  readonly relayhost: string;
  /** Instance name: used in syslog_name, myhostname and the temp dir. Defaults to 'pfN'. */
  readonly name?: string;
  /** Extra/overriding main.cf settings, e.g. { maximal_queue_lifetime: '10s' }. */
  readonly config?: Readonly<Record<string, string>>;
  /**
   * Run Postfix's own start-up integrity checks (post-install create-missing, postsuper,
   * check-warn: ~2 s) instead of laying out the queue ourselves and using `quick-start`.
   * Default false.
   */
  readonly fullChecks?: boolean;
}

interface QueueEntry {
  readonly queue_name: string;
  readonly queue_id: string;
  readonly sender: string;
  readonly recipients: ReadonlyArray<{ readonly address: string; readonly delay_reason?: string }>;
}

export interface PostfixInstance {
  readonly name: string;
  /** smtpd port on 127.0.0.1. */
  readonly port: number;
  /** Temp dir holding etc/ (config_directory), spool/ (queue), lib/ (data) and maillog. */
  readonly dir: string;
  readonly configDir: string;
  readonly queueDir: string;
  /** Stop master and every child, then remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  /**
   * Resolves once no message is in the incoming/active/deferred/hold/maildrop queues; rejects
   * after timeoutMs (default 15 s) with the queue listing and the log tail.
   */
  queueEmpty(timeoutMs?: number): Promise<void>;
  /** The queue as `postqueue -j` reports it. */
  queue(): Promise<QueueEntry[]>;
  /** `postqueue -f`: retry deferred mail now. */
  flush(): Promise<void>;
  /** Change main.cf settings (postconf -e) and `postfix reload`. */
  reconfigure(settings: Readonly<Record<string, string>>): Promise<void>;
  /** Everything Postfix logged (maillog_file) plus our start/stop command output. */
  logs(): string;
}

let instanceCounter = 0;
const live = new Set<PostfixInstance>();

function bracketRelayhost(relayhost: string): string {
  if (relayhost.startsWith('[')) return relayhost;
  const m = /^(.*):(\d+)$/.exec(relayhost);
  if (!m) return `[${relayhost}]`;
  return `[${m[1] ?? ''}]:${m[2] ?? ''}`;
}

function sanitizeName(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s === '' ? 'pf' : s;
}

function mainCf(o: { name: string; dir: string; configDir: string; queueDir: string; dataDir: string; maillog: string; relayhost: string; extra: Readonly<Record<string, string>> }): string {
  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    config_directory: o.configDir,
    queue_directory: o.queueDir,
    data_directory: o.dataDir,
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    syslog_name: `postfix-${o.name}`,
    maillog_file: o.maillog,
    maillog_file_prefixes: o.dir,
    myhostname: `${o.name}.interop.test`,
    mydomain: 'interop.test',
    myorigin: '$myhostname',
    mydestination: '',
    relay_domains: '',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    local_transport: 'error:local delivery is disabled in this test instance',
    mynetworks: '127.0.0.0/8',
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    relayhost: o.relayhost,
    smtp_dns_support_level: 'disabled',
    smtp_host_lookup: 'native',
    smtpd_peername_lookup: 'no',
    smtp_tls_security_level: 'none',
    smtpd_tls_security_level: 'none',
    queue_run_delay: '1s',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '2s',
    default_destination_rate_delay: '0s',
    in_flow_delay: '0s',
    smtp_connect_timeout: '5s',
    delay_warning_time: '0h',
    notify_classes: '',
    biff: 'no',
    append_dot_mydomain: 'no',
    smtputf8_enable: 'yes',
    smtpd_banner: '$myhostname ESMTP $mail_name (interop test instance)',
    ...o.extra,
  };
  return (
    `# Private Postfix test instance '${o.name}' written by test/interop/postfix.ts\n` +
    Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n') +
    '\n'
  );
}

function masterCf(port: number): string {
  // service type private unpriv chroot wakeup maxproc command
  const rows: Array<[string, string, string, string, string, string, string, string]> = [
    [`127.0.0.1:${port}`, 'inet', 'n', '-', 'n', '-', '-', 'smtpd'],
    ['pickup', 'unix', 'n', '-', 'n', '60', '1', 'pickup'],
    ['cleanup', 'unix', 'n', '-', 'n', '-', '0', 'cleanup'],
    ['qmgr', 'unix', 'n', '-', 'n', '300', '1', 'qmgr'],
    ['rewrite', 'unix', '-', '-', 'n', '-', '-', 'trivial-rewrite'],
    ['bounce', 'unix', '-', '-', 'n', '-', '0', 'bounce'],
    ['defer', 'unix', '-', '-', 'n', '-', '0', 'bounce'],
    ['trace', 'unix', '-', '-', 'n', '-', '0', 'bounce'],
    ['verify', 'unix', '-', '-', 'n', '-', '1', 'verify'],
    ['flush', 'unix', 'n', '-', 'n', '1000?', '0', 'flush'],
    ['proxymap', 'unix', '-', '-', 'n', '-', '-', 'proxymap'],
    ['proxywrite', 'unix', '-', '-', 'n', '-', '1', 'proxymap'],
    ['smtp', 'unix', '-', '-', 'n', '-', '-', 'smtp'],
    ['relay', 'unix', '-', '-', 'n', '-', '-', 'smtp'],
    ['showq', 'unix', 'n', '-', 'n', '-', '-', 'showq'],
    ['error', 'unix', '-', '-', 'n', '-', '-', 'error'],
    ['retry', 'unix', '-', '-', 'n', '-', '-', 'error'],
    ['discard', 'unix', '-', '-', 'n', '-', '-', 'discard'],
    ['anvil', 'unix', '-', '-', 'n', '-', '1', 'anvil'],
    ['scache', 'unix', '-', '-', 'n', '-', '1', 'scache'],
    ['postlog', 'unix-dgram', 'n', '-', 'n', '-', '1', 'postlogd'],
  ];
  return `# Private Postfix test instance: chroot = n everywhere, smtpd on loopback only.\n${rows.map((r) => r.join('\t')).join('\n')}\n`;
}

function readPid(queueDir: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(join(queueDir, 'pid', 'master.pid'), 'utf8').trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** True while pid runs. A zombie counts as dead: a daemonised master's parent is PID 1, which
 * may reap it late, and kill(pid, 0) still succeeds on a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

const QUEUES = ['maildrop', 'incoming', 'active', 'deferred', 'hold'] as const;

function countQueued(queueDir: string): number {
  let n = 0;
  const walk = (d: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(d, e.name));
      else n += 1;
    }
  };
  for (const q of QUEUES) walk(join(queueDir, q));
  return n;
}

/**
 * Postfix commands wait (polling every 0.3 s, up to ~2 s) while main.cf looks like it is still
 * being edited, i.e. was modified in the last couple of seconds. Freshly written config is
 * backdated so `postfix start` / `reload` don't pay that.
 */
async function backdate(configDir: string): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  for (const f of ['main.cf', 'master.cf']) await utimes(join(configDir, f), past, past);
}

let idsCache: { postfixUid: number; postfixGid: number; postdropGid: number } | undefined;

async function postfixIds(): Promise<{ postfixUid: number; postfixGid: number; postdropGid: number }> {
  if (idsCache) return idsCache;
  const num = async (args: string[]): Promise<number> => {
    const r = await run('id', args, { timeoutMs: 5_000 });
    const n = Number.parseInt(r.stdout.trim(), 10);
    if (r.code !== 0 || !Number.isFinite(n)) throw new Error(`id ${args.join(' ')} failed: ${r.stderr}`);
    return n;
  };
  const g = await run('getent', ['group', 'postdrop'], { timeoutMs: 5_000 });
  const postdropGid = Number.parseInt(g.stdout.split(':')[2] ?? '', 10);
  if (g.code !== 0 || !Number.isFinite(postdropGid)) throw new Error('group postdrop not found: run .ci/install-interop.sh');
  idsCache = { postfixUid: await num(['-u', 'postfix']), postfixGid: await num(['-g', 'postfix']), postdropGid };
  return idsCache;
}

/**
 * Lay out a fresh queue and data directory exactly as `post-install create-missing` would
 * (owners/modes from /etc/postfix/postfix-files), then drop a `quick-start` marker so
 * `postfix start` skips its ~2 s of integrity checks. Only valid for an empty, new queue.
 */
async function layOutQueue(queueDir: string, dataDir: string): Promise<void> {
  const { postfixUid, postdropGid } = await postfixIds();
  const dirs: Array<[string, number, number, number]> = [
    ...['active', 'bounce', 'corrupt', 'defer', 'deferred', 'flush', 'hold', 'incoming', 'private', 'saved', 'trace'].map((d): [string, number, number, number] => [
      join(queueDir, d),
      postfixUid,
      0,
      0o700,
    ]),
    [join(queueDir, 'maildrop'), postfixUid, postdropGid, 0o730],
    [join(queueDir, 'public'), postfixUid, postdropGid, 0o710],
    [join(queueDir, 'pid'), 0, 0, 0o755],
    [dataDir, postfixUid, 0, 0o700],
  ];
  for (const [d, uid, gid, mode] of dirs) {
    await mkdir(d, { recursive: true });
    await chown(d, uid, gid);
    await chmod(d, mode);
  }
  await writeFile(join(queueDir, 'quick-start'), '');
}

/** Start a private Postfix instance on 127.0.0.1 relaying everything to `relayhost`. */
export async function startPostfix(opts: StartPostfixOptions): Promise<PostfixInstance> {
  const tools = requireTools();
  instanceCounter += 1;
  const name = sanitizeName(opts.name ?? `pf${instanceCounter}`) + (opts.name ? '' : `-${process.pid}`);
  const port = opts.listenPort && opts.listenPort > 0 ? opts.listenPort : await getFreePort();
  const dir = await mkdtemp(join(tmpdir(), `interop-postfix-${name}-`));
  await chmod(dir, 0o755);
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'spool');
  const dataDir = join(dir, 'lib');
  const maillog = join(dir, 'maillog');
  await mkdir(configDir, { mode: 0o755 });
  await mkdir(queueDir, { mode: 0o755 });
  await writeFile(
    join(configDir, 'main.cf'),
    mainCf({
      name,
      dir,
      configDir,
      queueDir,
      dataDir,
      maillog,
      relayhost: bracketRelayhost(opts.relayhost),
      extra: opts.config ?? {},
    }),
    { mode: 0o644 },
  );
  await writeFile(join(configDir, 'master.cf'), masterCf(port), { mode: 0o644 });
  await backdate(configDir);

  const cmdLog: string[] = [];
  const pf = async (args: readonly string[], bin: string = tools.postfix): Promise<RunResult> => {
    const r = await run(bin, args, { timeoutMs: 20_000 });
    cmdLog.push(`$ ${bin} ${args.join(' ')} -> ${r.code}\n${r.stdout}${r.stderr}`);
    return r;
  };
  const logs = (): string => {
    let file = '';
    try {
      file = readFileSync(maillog, 'utf8');
    } catch {
      file = '(no maillog yet)\n';
    }
    return `${file}\n--- harness commands ---\n${cmdLog.join('\n')}`;
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    live.delete(instance);
    const pid = readPid(queueDir);
    // `postfix abort` = SIGTERM to master, which passes it on to its children. (`postfix stop`
    // does the same but then polls in 1 s steps, costing a second per instance.)
    await pf(['-c', configDir, 'abort']);
    if (pid !== undefined) {
      const deadline = Date.now() + 5_000;
      while (alive(pid) && Date.now() < deadline) await sleep(20);
      // master runs in its own session/process group (setsid); kill whatever is left of it.
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  const queue = async (): Promise<QueueEntry[]> => {
    const r = await run(tools.postqueue, ['-c', configDir, '-j'], { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`postqueue -j failed (${r.code}): ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as QueueEntry);
  };

  const instance: PostfixInstance = {
    name,
    port,
    dir,
    configDir,
    queueDir,
    stop,
    logs,
    queue,
    async flush(): Promise<void> {
      const r = await pf(['-c', configDir, '-f'], tools.postqueue);
      if (r.code !== 0) throw new Error(`postqueue -f failed: ${r.stderr}`);
    },
    async queueEmpty(timeoutMs = 15_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (countQueued(queueDir) === 0) return;
        if (Date.now() >= deadline) break;
        await sleep(100);
      }
      let listing = '';
      try {
        listing = JSON.stringify(await queue(), null, 2);
      } catch (e) {
        listing = String(e);
      }
      throw new Error(`postfix '${name}': queue not empty after ${timeoutMs} ms\n${listing}\n--- log tail ---\n${logs().split('\n').slice(-40).join('\n')}`);
    },
    async reconfigure(settings): Promise<void> {
      const args = ['-c', configDir, '-e', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)];
      const r = await pf(args, tools.postconf);
      if (r.code !== 0) throw new Error(`postconf failed: ${r.stderr}`);
      await backdate(configDir);
      const rl = await pf(['-c', configDir, 'reload']);
      if (rl.code !== 0) throw new Error(`postfix reload failed: ${rl.stderr}\n${logs()}`);
    },
  };

  if (!opts.fullChecks) await layOutQueue(queueDir, dataDir);
  const started = await pf(['-c', configDir, 'start']);
  if (started.code !== 0) {
    const msg = `postfix '${name}' failed to start (exit ${started.code})\n${logs()}`;
    stopped = false;
    await stop().catch(() => undefined);
    throw new Error(msg);
  }
  // `postfix start` returns when master has initialised, and master opened the listener itself;
  // still, confirm the smtpd port accepts connections before handing the instance out.
  await waitForPort(port, 10_000).catch(async (e: unknown) => {
    const msg = `postfix '${name}' not listening on 127.0.0.1:${port}: ${String(e)}\n${logs()}`;
    await stop().catch(() => undefined);
    throw new Error(msg);
  });
  live.add(instance);
  return instance;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

/** Stop every instance this process started and has not stopped (for afterAll safety nets). */
export async function stopAllPostfix(): Promise<void> {
  await Promise.all([...live].map((i) => i.stop()));
}

export interface SendmailMessage {
  /** Envelope sender (sendmail -f); '' for the null sender. */
  readonly from: string;
  readonly to: readonly string[];
  /** The raw message (headers + body); LF or CRLF line ends. */
  readonly raw: Buffer | string;
}

/**
 * Inject a message into a private Postfix the way a local program would: its own
 * `sendmail -C CONFIG_DIR -f FROM -i -- TO...` (→ postdrop → maildrop → pickup → cleanup → qmgr).
 * Resolves once the message is in the queue; throws if sendmail fails.
 */
export async function postfixSendmail(instance: PostfixInstance, msg: SendmailMessage): Promise<RunResult> {
  const { sendmail } = requireTools();
  const raw = Buffer.isBuffer(msg.raw) ? msg.raw : Buffer.from(msg.raw, 'utf8');
  // -i: a line with a single '.' does not end the message; -oi equivalent.
  const r = await run(sendmail, ['-C', instance.configDir, '-f', msg.from === '' ? '<>' : msg.from, '-i', '--', ...msg.to], {
    input: raw,
    timeoutMs: 20_000,
  });
  if (r.code !== 0) {
    throw new Error(`sendmail -C ${instance.configDir} failed (exit ${r.code}): ${r.stderr}\n${instance.logs()}`);
  }
  return r;
}
