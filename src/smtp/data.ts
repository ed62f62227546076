/**
 * DATA stage: read the message (bounded by the size limit), hand it to the pipeline, answer with
 * the pipeline's reply. Nothing is acknowledged before the pipeline says we own the message.
 */
import type { SMTPServerDataStream } from 'smtp-server';
import { smtpError, type SmtpError } from './reply.js';

export async function readMessage(stream: SMTPServerDataStream, maxBytes: number): Promise<Buffer | SmtpError> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    // keep draining an oversized message so the connection stays in sync, but stop buffering it
    if (total <= maxBytes) chunks.push(chunk);
  }
  if (stream.sizeExceeded || total > maxBytes) return smtpError(552, '5.3.4', `message size exceeds the limit of ${maxBytes} bytes`);
  return Buffer.concat(chunks, total);
}
