/**
 * Reading upstream replies. nodemailer hands over a reply as one string, possibly several lines
 * ("550-5.1.1 first\n550 5.1.1 second"); the relay needs its code, its enhanced status code (RFC 3463)
 * and a one-line text to pass on to its own client or into a DSN.
 */

export interface ParsedReply {
  readonly code: number | null;
  /** "x.y.z" when the reply carried one. */
  readonly enhanced: string | null;
  /** The reply text without codes, lines joined by a space, no CR/LF (safe for a header or a reply line). */
  readonly text: string;
}

const LINE = /^(\d{3})(?:[ -]|$)(?:\s*([245]\.\d{1,3}\.\d{1,3})(?:\s|$))?\s*(.*)$/;

export function parseReply(response: string): ParsedReply {
  let code: number | null = null;
  let enhanced: string | null = null;
  const texts: string[] = [];
  for (const line of response.split(/\r?\n|\r/)) {
    if (line.trim() === '') continue;
    const m = LINE.exec(line.trim());
    if (m === null) {
      texts.push(line.trim());
      continue;
    }
    code ??= Number(m[1]);
    enhanced ??= m[2] ?? null;
    if (m[3]) texts.push(m[3]);
  }
  return {
    code,
    enhanced,
    text: texts
      .join(' ')
      .replace(/[\x00-\x1f\x7f]/g, ' ')
      .trim(),
  };
}

/** RFC 5321 reply classes; 503 (bad sequence) is a session problem, not a verdict on the message. */
export function isTemporaryCode(code: number): boolean {
  return (code >= 400 && code < 500) || code === 503;
}

/** A single line with no control characters, for SMTP reply text and header fields. */
export function oneLine(text: string): string {
  return text
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
