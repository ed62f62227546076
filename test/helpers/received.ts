/** Reading the relay's Received: trace header back out of a delivered copy. */

/** The top-level header block's Received: fields, unfolded, in order. */
export function receivedFields(raw: Buffer): string[] {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? raw.length : end + 2).toString('latin1');
  const out: string[] = [];
  for (const m of head.matchAll(/^Received:[ \t]*((?:.*)(?:\r\n[ \t].*)*)/gim)) out.push(m[1]!.replace(/\r\n([ \t])/g, '$1'));
  return out;
}

/** The copy without its first header field, which must be the relay's Received: (what the client sent). */
export function withoutTrace(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  if (!/^Received: /.test(text)) throw new Error('the copy does not start with a Received: header');
  const m = /^Received:.*\r\n(?:[ \t].*\r\n)*/.exec(text)!;
  return raw.subarray(m[0].length);
}
