/**
 * Command-line wiring only: parse arguments, load the configuration, call a command function,
 * turn its errors into one line and an exit status.
 */
import { Command, CommanderError } from 'commander';
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { isRelayError } from '../errors.js';
import { scanCommand } from './commands/scan.js';
import { serveCommand } from './commands/serve.js';

interface CommonOptions {
  config?: string;
  dataDir?: string;
}

function withCommon(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'configuration file (YAML); see config/relay.example.yaml').option('-d, --data-dir <dir>', 'directory of the consent store, audit log and spool (default ./data)');
}

function configFrom(o: CommonOptions, extra: ConfigOverrides = {}): ReturnType<typeof loadConfig> {
  return loadConfig(o.config, { ...extra, ...(o.dataDir ? { dataDir: o.dataDir } : {}) });
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('consent-relay')
    .description('Outbound SMTP relay that removes email trackers for recipients who have not consented')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();

  withCommon(program.command('serve'))
    .description('run the relay: SMTP in on --listen, filtered copies out to --upstream')
    .option('-l, --listen <host:port>', 'listen address (default 127.0.0.1:2525; loopback only until AUTH/allowlists exist)')
    .option('-u, --upstream <host:port>', 'upstream MTA (default 127.0.0.1:25)')
    .action(async (o: CommonOptions & { listen?: string; upstream?: string }) => {
      setExit(await serveCommand(configFrom(o, { ...(o.listen ? { listen: o.listen } : {}), ...(o.upstream ? { upstream: o.upstream } : {}) })));
    });

  withCommon(program.command('scan'))
    .description('write FILE (or - for stdin) as RECIPIENT would receive it; summary of trackers on stderr')
    .argument('<file>', 'message file (.eml), or - for standard input')
    .option('-r, --recipient <addr>', 'recipient whose recorded consent applies (default: no consent)')
    .option('-o, --out <file>', 'write the message here instead of stdout')
    .option('--json', 'print the findings as JSON on stdout (needs --out)')
    .action(async (file: string, o: CommonOptions & { recipient?: string; out?: string; json?: boolean }) => {
      setExit(await scanCommand(configFrom(o), { file, ...(o.recipient ? { recipient: o.recipient } : {}), ...(o.out ? { out: o.out } : {}), json: Boolean(o.json) }));
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
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
      process.stderr.write(`consent-relay: ${err.message}\n`);
      process.exitCode = err.spec.exit;
      return;
    }
    process.stderr.write(`consent-relay: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
    return;
  }
  process.exitCode = exit;
}
