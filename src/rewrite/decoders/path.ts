import { stringArg } from './args.js';
import { percentDecode, rawSegments, toHttpUrl } from './text.js';
import type { Decoder } from './types.js';

/**
 * The percent-decoded segment right after the path segments spelled by `prefix` ("L0", "/L0/"
 * and "r/L0" all work). `anchored` demands the prefix start the path.
 */
function afterPathPrefix(url: URL, prefix: string, anchored: boolean): string | null {
  const want = prefix
    .split('/')
    .filter((s) => s !== '')
    .map((s) => s.toLowerCase());
  if (want.length === 0) return null;
  const segs = rawSegments(url);
  const last = anchored ? 0 : segs.length - want.length - 1;
  for (let i = 0; i <= last; i++) {
    if (!want.every((w, j) => segs[i + j]?.toLowerCase() === w)) continue;
    const seg = segs[i + want.length];
    const decoded = seg === undefined ? null : percentDecode(seg);
    return decoded === null ? null : toHttpUrl(decoded, { percentLevels: 1 });
  }
  return null;
}

export const pathDecoder: Decoder = {
  id: 'path',
  description: 'Destination percent-encoded as the path segment right after `prefix` (e.g. Amazon SES /L0/<url>/...).',
  decode(url, spec) {
    const prefix = stringArg(spec, 'prefix');
    return prefix === undefined ? null : afterPathPrefix(url, prefix, false);
  },
};

/**
 * Amazon SES click tracking (*.awstrack.me): /L0/<percent-encoded URL>/<version>/<message id>/<signature>.
 * "CL0" is the same layout seen on newer SES links.
 */
export const sesDecoder: Decoder = {
  id: 'ses',
  description: 'Amazon SES (awstrack.me): /L0/<percent-encoded destination>/1/<message-id>/<signature>; also /CL0/.',
  decode(url) {
    return afterPathPrefix(url, 'L0', true) ?? afterPathPrefix(url, 'CL0', true);
  },
};
