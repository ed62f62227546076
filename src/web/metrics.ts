/**
 * Counters for `/metrics` (Prometheus text exposition format 0.0.4). Counts only: no label ever
 * holds an address, a URL or a token, so the endpoint can be scraped without exposing anyone.
 */

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly values: Map<string, number>;
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly gauges = new Map<string, { help: string; read: () => Promise<number> }>();

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    let f = this.families.get(name);
    if (!f) {
      f = { help, type: 'counter', values: new Map() };
      this.families.set(name, f);
    }
    const key = labelText(labels);
    f.values.set(key, (f.values.get(key) ?? 0) + by);
  }

  /** A value read at scrape time (the spool size). */
  gauge(name: string, help: string, read: () => Promise<number>): void {
    this.gauges.set(name, { help, read });
  }

  /** One family's value for one label set (tests, health). */
  value(name: string, labels: Labels = {}): number {
    return this.families.get(name)?.values.get(labelText(labels)) ?? 0;
  }

  async render(): Promise<string> {
    const out: string[] = [];
    for (const [name, f] of [...this.families].sort(([a], [b]) => a.localeCompare(b))) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const [labels, v] of [...f.values].sort(([a], [b]) => a.localeCompare(b))) out.push(`${name}${labels} ${v}`);
    }
    for (const [name, g] of this.gauges) {
      let v: number;
      try {
        v = await g.read();
      } catch {
        v = Number.NaN;
      }
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${Number.isNaN(v) ? 'NaN' : v}`);
    }
    return `${out.join('\n')}\n`;
  }
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`).join(',')}}`;
}

/** The metric names, in one place (README lists them). */
export const M = {
  messages: ['consent_relay_messages_total', 'Messages filtered (one per SMTP transaction past DATA)'],
  copies: ['consent_relay_copies_total', 'Copies filtered, by consent class'],
  findings: ['consent_relay_findings_total', 'Trackers found, by technique and action'],
  upstreamErrors: ['consent_relay_upstream_errors_total', 'Recipients the upstream did not accept, by temporary/permanent'],
  consentChanges: ['consent_relay_consent_changes_total', 'Consent changes recorded through this relay, by action and method'],
  gate: ['consent_relay_gate_requests_total', 'Requests to the gate, by result'],
  pages: ['consent_relay_web_requests_total', 'Requests to consent pages, by page, method and outcome'],
  spool: ['consent_relay_spool_entries', 'Copies waiting in the spool for a retry'],
} as const;
