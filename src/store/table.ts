/**
 * Plain-text output shared by the consent and audit reports. Values come from operators and
 * upstream servers, so control characters are escaped: a stored "\x1b[2J" must not clear the
 * terminal of whoever reads the report, and a newline must not forge a row.
 */

/** One line, printable: control characters shown as \n, \t or \u001b. */
export function oneLine(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\r') return '\\r';
    if (ch === '\t') return '\\t';
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function textTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows].map((r) => r.map(oneLine));
  // reduce, not Math.max(...spread): an audit listing can have more rows than the stack has room for
  const widths = headers.map((_, i) => all.reduce((w, r) => Math.max(w, [...(r[i] ?? '')].length), 0));
  const line = (r: readonly string[]): string =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + (cell.length - [...cell].length))))
      .join('  ')
      .trimEnd();
  return `${all.map(line).join('\n')}\n`;
}
