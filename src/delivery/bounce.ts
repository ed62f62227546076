import { buildDsn, dsnEnvelope, extractHeaders } from './dsn.js';
import type { Copy, RecipientFailure } from './types.js';

/** How much of a message a DSN reads for the original's header block (the splitter's own header limit). */
export const DSN_HEAD_BYTES = 1024 * 1024;

/** Consent class recorded for DSN copies in the spool and in `queue list`. */
const DSN_CLASS = 'dsn';

export interface BounceInput {
  readonly reportingMta: string;
  /** Envelope sender of the original message; must not be '' (the caller checks). */
  readonly sender: string;
  readonly failures: readonly RecipientFailure[];
  /** The original message, or its start (only its header block goes into the DSN). */
  readonly raw: Buffer;
  readonly arrivalDate: Date;
  readonly date?: Date;
}

/** A DSN for `failures`, ready to be sent or spooled like any other copy (null envelope sender). */
export function dsnCopy(input: BounceInput): Copy & { readonly raw: Buffer } {
  const raw = buildDsn({
    reportingMta: input.reportingMta,
    originalEnvelope: { from: input.sender, to: input.failures.map((f) => f.recipient) },
    failures: input.failures,
    originalHeaders: extractHeaders(input.raw),
    arrivalDate: input.arrivalDate,
    ...(input.date !== undefined ? { date: input.date } : {}),
  });
  const id = /^Message-ID: (<[^>\r\n]+>)/im.exec(raw.subarray(0, 2048).toString('latin1'));
  return { consentClass: DSN_CLASS, envelope: dsnEnvelope(input.sender), raw, messageId: id?.[1] ?? null };
}
