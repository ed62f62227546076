/**
 * DATA stage: read the message (bounded by the size limit) into its canonical form, hand it to the
 * pipeline, answer with the pipeline's reply. Nothing is acknowledged before the pipeline says we
 * own the message.
 *
 * Line endings are made CRLF here, on the stream, before anything inspects the message: mailsplit
 * splits lines on LF and nodemailer turns bare CR and LF into CRLF on the way out, so a message
 * with bare line endings would otherwise be inspected as one thing and delivered as another.
 * `smtp.bareLineEndings: reject` refuses such a message instead (as Postfix's
 * `smtpd_forbid_bare_newline` does).
 */
import type { SMTPServerDataStream } from 'smtp-server';
import { RelayError } from '../errors.js';
import { LineEndingCanonicaliser } from '../mime/canonical.js';
import { fromRelayError, smtpError, type SmtpError } from './reply.js';

export type BareLineEndings = 'normalise' | 'reject';

export interface ReadOptions {
  readonly maxBytes: number;
  readonly bareLineEndings: BareLineEndings;
}

export async function readMessage(stream: SMTPServerDataStream, o: ReadOptions): Promise<Buffer | SmtpError> {
  const canon = new LineEndingCanonicaliser();
  const chunks: Buffer[] = [];
  let total = 0;
  let kept = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    // keep draining an oversized (or refused) message so the connection stays in sync, but stop buffering it
    if (total > o.maxBytes || (canon.bare > 0 && o.bareLineEndings === 'reject')) continue;
    const c = canon.push(chunk);
    chunks.push(c);
    kept += c.length;
  }
  if (stream.sizeExceeded || total > o.maxBytes) return smtpError(552, '5.3.4', `message size exceeds the limit of ${o.maxBytes} bytes`);
  const tail = canon.end();
  if (canon.bare > 0 && o.bareLineEndings === 'reject') {
    return fromRelayError(new RelayError('BARE_LINE_ENDINGS', 'message has bare CR or LF line endings; lines must end in CRLF (RFC 5321 section 2.3.8)'));
  }
  chunks.push(tail);
  return Buffer.concat(chunks, kept + tail.length);
}
