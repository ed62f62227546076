/**
 * Finds every remote reference in CSS (a stylesheet or a style attribute's declaration list) with
 * the span of the declaration or at-rule that would have to go to remove it. Not a full CSS
 * parser: it tracks comments, strings, parentheses and blocks, which is what deciding
 * "this url() belongs to that declaration" needs.
 */
import { decodeEntities } from '../html/entities.js';

type CssTechnique = 'css-url' | 'css-import' | 'css-font-face';

export interface CssRef {
  readonly technique: CssTechnique;
  /** The URL as the client would resolve it (quotes, escapes and HTML entities removed). */
  readonly url: string;
  /** Absolute span of the URL token text (inside url(...) or the @import string). */
  readonly urlStart: number;
  readonly urlEnd: number;
  /** Absolute span of the declaration or at-rule statement, including its ";" if any. */
  readonly stmtStart: number;
  readonly stmtEnd: number;
  /** Inside @media print: fetched only when the mail is printed, which only a tracker wants to know. */
  readonly printOnly?: boolean;
  /** In a rule that styles quoted mail (a reply or forward): fetched when our recipient forwards it. */
  readonly quotedOnly?: boolean;
}

type Block = 'rule' | 'quoted-rule' | 'font-face' | 'group' | 'print' | 'other';

/** Selectors of the quoted part of replies and forwards in Gmail, Outlook, Apple Mail, Yahoo, Thunderbird. */
const QUOTED_SELECTOR =
  /blockquote|\.gmail_quote|#divrplyfwdmsg|#appendonsend|\.moz-cite-prefix|\[type=["']?cite|\.yahoo_quoted|#olk_src_body_section|\.outlook_quote|#x_divrplyfwdmsg|\.protonmail_quote/;

interface Pending {
  url: string;
  urlStart: number;
  urlEnd: number;
}

function unquote(raw: string): string {
  let s = decodeEntities(raw).trim();
  if ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'"))) s = s.slice(1, -1);
  return s.replace(/\\([0-9a-fA-F]{1,6}\s?|.)/g, (_m, e: string) => (/^[0-9a-fA-F]/.test(e) ? String.fromCodePoint(parseInt(e.trim(), 16) || 0xfffd) : e));
}

/**
 * @param css   the CSS text (a slice of the part text)
 * @param base  absolute offset of css[0] in the part text
 * @param mode  'sheet' for <style> content and CSS parts, 'declarations' for a style attribute
 */
export function scanCss(css: string, base: number, mode: 'sheet' | 'declarations'): CssRef[] {
  const out: CssRef[] = [];
  const stack: Block[] = [];
  const n = css.length;
  let stmtStart = -1;
  let pending: Pending[] = [];
  let atImport = false;

  const inDeclarations = (): boolean => {
    const top = stack[stack.length - 1];
    return top === undefined ? mode === 'declarations' : top === 'rule' || top === 'quoted-rule' || top === 'font-face' || top === 'other';
  };
  const technique = (): CssTechnique => (atImport ? 'css-import' : stack[stack.length - 1] === 'font-face' ? 'css-font-face' : 'css-url');
  const endStmt = (endExclusive: number): void => {
    if (pending.length && stmtStart >= 0) {
      let e = endExclusive;
      while (e > stmtStart && /\s/.test(css[e - 1]!)) e--;
      const printOnly = stack.includes('print');
      const quotedOnly = stack.includes('quoted-rule');
      for (const p of pending)
        out.push({
          technique: technique(),
          url: p.url,
          urlStart: base + p.urlStart,
          urlEnd: base + p.urlEnd,
          stmtStart: base + stmtStart,
          stmtEnd: base + e,
          ...(printOnly ? { printOnly } : {}),
          ...(quotedOnly ? { quotedOnly } : {}),
        });
    }
    pending = [];
    stmtStart = -1;
    atImport = false;
  };

  let i = 0;
  while (i < n) {
    const c = css[i]!;
    if (c === '/' && css[i + 1] === '*') {
      const close = css.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2;
      continue;
    }
    if (stmtStart < 0 && !/\s/.test(c) && c !== ';' && c !== '}') {
      stmtStart = i;
      if (!inDeclarations() && css.startsWith('@import', i)) atImport = true;
      if (mode === 'sheet' && stack.length === 0 && /^@import/i.test(css.slice(i, i + 7))) atImport = true;
    }
    if (c === '"' || c === "'") {
      const end = skipString(css, i);
      if (atImport && pending.length === 0) pending.push({ url: unquote(css.slice(i, end)), urlStart: i + 1, urlEnd: Math.max(i + 1, end - 1) });
      i = end;
      continue;
    }
    if ((c === 'u' || c === 'U') && /^url\(/i.test(css.slice(i, i + 4)) && !/[\w-]/.test(css[i - 1] ?? ' ')) {
      let j = i + 4;
      let k = j;
      // the url( token ends at the first ")" outside quotes (entity-encoded quotes are text here)
      while (k < n && css[k] !== ')') {
        if (css[k] === '"' || css[k] === "'") k = skipString(css, k);
        else k++;
      }
      while (j < k && /\s/.test(css[j]!)) j++;
      let e = k;
      while (e > j && /\s/.test(css[e - 1]!)) e--;
      pending.push({ url: unquote(css.slice(j, e)), urlStart: j, urlEnd: e });
      i = Math.min(n, k + 1);
      continue;
    }
    if (c === '(') {
      // image-set("a.png" 1x, url(b.png) 2x) loads plain strings too
      if (/(?:^|[^\w-])(?:-webkit-)?image-set$/i.test(css.slice(Math.max(0, i - 18), i))) {
        const end = skipParens(css, i);
        for (const m of css.slice(i, end).matchAll(/(["'])(.*?)\1/g)) {
          const at = i + m.index + 1;
          pending.push({ url: unquote(m[2]!), urlStart: at, urlEnd: at + m[2]!.length });
        }
      }
      i = skipParens(css, i);
      continue;
    }
    if (c === ';') {
      endStmt(i + 1);
      i++;
      continue;
    }
    if (c === '{') {
      const prelude = stmtStart >= 0 ? css.slice(stmtStart, i).trim().toLowerCase() : '';
      let kind: Block;
      if (inDeclarations() && stack.length > 0) kind = 'other';
      else if (prelude.startsWith('@font-face')) kind = 'font-face';
      else if (/^@media\b/.test(prelude) && /\bprint\b/.test(prelude) && !/\b(screen|all)\b/.test(prelude)) kind = 'print';
      else if (/^@(media|supports|document|-moz-document|layer|container|scope)\b/.test(prelude)) kind = 'group';
      else if (prelude.startsWith('@')) kind = 'other';
      else kind = QUOTED_SELECTOR.test(prelude) ? 'quoted-rule' : 'rule';
      // urls in a prelude (rare) belong to the whole block; drop them with the statement
      pending = [];
      stmtStart = -1;
      atImport = false;
      stack.push(kind);
      i++;
      continue;
    }
    if (c === '}') {
      endStmt(i);
      stack.pop();
      i++;
      continue;
    }
    i++;
  }
  endStmt(n);
  return out;
}

function skipString(s: string, i: number): number {
  const q = s[i];
  let k = i + 1;
  while (k < s.length && s[k] !== q && s[k] !== '\n') {
    if (s[k] === '\\') k++;
    k++;
  }
  return Math.min(s.length, k + 1);
}

function skipParens(s: string, i: number): number {
  let depth = 0;
  let k = i;
  while (k < s.length) {
    const c = s[k];
    if (c === '"' || c === "'") {
      k = skipString(s, k);
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) return k + 1;
    } else if (c === ';' || c === '{' || c === '}') return k;
    k++;
  }
  return k;
}
