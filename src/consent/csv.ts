/**
 * CSV as CRMs and spreadsheets write it (RFC 4180 plus what exports do in practice): a UTF-8 BOM,
 * CRLF or LF, quoted fields with "" for a quote and line breaks inside quotes, and `;` as the
 * separator where the header line uses it (spreadsheets in locales with a decimal comma).
 * Each record keeps the line it started on, so an import can name the line of a bad row.
 */

interface CsvRecord {
  /** 1-based line of the file the record starts on. */
  readonly line: number;
  readonly fields: readonly string[];
}

export type CsvResult = { readonly ok: true; readonly records: readonly CsvRecord[] } | { readonly ok: false; readonly line: number; readonly error: string };

export function parseCsv(text: string): CsvResult {
  const src = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const firstLine = src.slice(0, src.search(/\r?\n|$/));
  const sep = (firstLine.match(/;/g)?.length ?? 0) > (firstLine.match(/,/g)?.length ?? 0) ? ';' : ',';
  const records: CsvRecord[] = [];
  let line = 1;
  let i = 0;
  while (i < src.length) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let wasQuoted = false;
    for (;;) {
      if (i >= src.length) {
        if (quoted) return { ok: false, line: start, error: 'a quoted field is never closed (a " is missing)' };
        fields.push(field);
        break;
      }
      const ch = src[i]!;
      if (quoted) {
        if (ch === '"') {
          if (src[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
          }
        } else {
          if (ch === '\n') line++;
          field += ch;
          i++;
        }
        continue;
      }
      if (ch === '"' && field === '' && !wasQuoted) {
        quoted = true;
        wasQuoted = true;
        i++;
      } else if (ch === sep) {
        fields.push(field);
        field = '';
        wasQuoted = false;
        i++;
      } else if (ch === '\r' && src[i + 1] === '\n') {
        i += 2;
        line++;
        fields.push(field);
        break;
      } else if (ch === '\n') {
        i++;
        line++;
        fields.push(field);
        break;
      } else if (wasQuoted) {
        return { ok: false, line, error: `text after a closing quote in field ${fields.length + 1}` };
      } else {
        field += ch;
        i++;
      }
    }
    // blank lines (a trailing newline, spacing in hand-edited files) are not records
    if (!(fields.length === 1 && fields[0]!.trim() === '')) records.push({ line: start, fields });
  }
  return { ok: true, records };
}

/** One CSV field, quoted when it needs to be; a leading =, +, - or @ is prefixed with ' so a spreadsheet does not run it as a formula. */
function csvField(value: string): string {
  const v = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n;]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function csvLine(values: readonly string[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
