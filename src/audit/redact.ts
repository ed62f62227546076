/**
 * What the audit log may keep of a tracking URL (decision 8): enough to see which service and
 * which kind of endpoint it was, never the per-recipient token or an address.
 *
 * Kept: scheme, host (minus user info and id-like labels), port, and the path's shape. A path
 * segment that could identify a person or a message becomes `*`; the query and fragment go
 * (a query is shown as `?…`). When in doubt a segment is starred: an auditor loses a little
 * detail, a data subject loses nothing. `redactUrl` is idempotent, so redacting twice is safe.
 */

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const HEX_ID = /^(?=[0-9a-f-]*[0-9])(?=[0-9a-f-]*[a-f])[0-9a-f-]{8,}$/i;
const HEX_RUN = /[0-9a-f]{16,}/i;
const DIGIT_RUN = /[0-9]{6,}/;
const ALL_DIGITS = /^[0-9]+$/;
const BASE64ISH = /^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])[A-Za-z0-9+/_-]{8,}={0,2}$/;
/** A short file extension kept on an id-like name: `/o/3f9a…e1.gif` → `/o/*.gif`. */
const EXTENSION = /^(.+?)(\.[A-Za-z][A-Za-z0-9]{0,4})$/;
/** Longest segment kept at all, whatever it looks like. */
const MAX_SEGMENT = 40;

const REDACTED = '*';
const UNPARSEABLE_URL = '(unparseable url)';

export function redactUrl(url: string): string {
  const raw = url.trim();
  // protocol-relative URLs (//host/path) are common in HTML mail
  const protocolRelative = raw.startsWith('//');
  let u: URL;
  try {
    u = new URL(protocolRelative ? `https:${raw}` : raw);
  } catch {
    return UNPARSEABLE_URL;
  }
  const hadQuery = u.search !== '' || /^[^#]*\?/.test(raw);
  const scheme = protocolRelative ? '' : u.protocol;
  if (!u.host) {
    // mailto:, tel:, data:, javascript: ... have no host; what follows the scheme is the payload
    return `${u.protocol}${u.pathname || hadQuery ? REDACTED : ''}`;
  }
  const host = redactHost(u.hostname);
  const port = u.port ? `:${u.port}` : '';
  const path = u.pathname
    .split('/')
    .map((seg, i) => (i === 0 || seg === '' ? seg : redactSegment(seg)))
    .join('/');
  return `${scheme}//${host}${port}${path}${hadQuery ? '?…' : ''}`;
}

/** A path segment, or `*` if it could be an id, a token or an address. */
export function redactSegment(segment: string): string {
  if (segment === REDACTED) return segment;
  const decoded = decodeRepeatedly(segment);
  if (decoded.includes('@') || segment.length > MAX_SEGMENT) return REDACTED;
  const ext = EXTENSION.exec(segment);
  if (ext?.[1] === REDACTED) return segment; // already redacted: `*.gif`
  if (!looksLikeId(decoded) && !looksLikeId(segment)) return segment;
  // an id-like name keeps its extension: whether a pixel was a .gif or a .php script matters
  const stem = ext?.[1];
  return stem !== undefined && looksLikeId(decodeRepeatedly(stem)) ? `${REDACTED}${ext?.[2] ?? ''}` : REDACTED;
}

/** Free text (an upstream reply, a reason) with anything address-shaped replaced. */
export function redactText(text: string): string {
  return text.replace(/[^\s<>()"'`,;:[\]]+@[^\s<>()"'`,;:[\]]+/g, '<redacted address>');
}

function looksLikeId(s: string): boolean {
  if (!s || s === REDACTED) return false;
  if (s.includes('=') || s.includes(';')) return true; // parameters or base64 padding in the path
  if (UUID.test(s) || HEX_ID.test(s) || HEX_RUN.test(s) || ALL_DIGITS.test(s) || DIGIT_RUN.test(s)) return true;
  if (BASE64ISH.test(s)) return true;
  return [...s].length >= 16 && charClasses(s) >= 2;
}

/** Lower, upper, digit, other; the separators of readable slugs (-, _, .) do not count. */
function charClasses(s: string): number {
  let n = 0;
  if (/[a-z]/.test(s)) n++;
  if (/[A-Z]/.test(s)) n++;
  if (/[0-9]/.test(s)) n++;
  if (/[^A-Za-z0-9._-]/.test(s)) n++;
  return n;
}

/** Host labels that look like per-recipient ids are starred too; the registrable name stays. */
function redactHost(hostname: string): string {
  if (hostname.startsWith('[') || /^[0-9.]+$/.test(hostname)) return hostname; // IP literal
  const labels = hostname.split('.');
  const keep = Math.min(2, labels.length);
  return labels.map((l, i) => (i < labels.length - keep && l !== REDACTED && (l.includes('@') || looksLikeId(l)) ? REDACTED : l)).join('.');
}

/** %-decoding up to three times: trackers double-encode addresses (%2540). */
function decodeRepeatedly(s: string): string {
  let out = s;
  for (let i = 0; i < 3 && out.includes('%'); i++) {
    try {
      out = decodeURIComponent(out);
    } catch {
      // a stray % is not an escape; decode what can be decoded
      out = out.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
  }
  return out;
}
