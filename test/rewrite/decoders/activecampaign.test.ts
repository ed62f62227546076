import { describe } from 'vitest';

import { b64, vectors, type Vector } from './helpers.js';

/** ActiveCampaign's redirectUrl: base64 of the percent-encoded destination. */
const redirectUrl = (dest: string): string => encodeURIComponent(b64(encodeURIComponent(dest)));
const TAIL =
  '&sig=8qmHnkQkeFgS3NxHzrEp754UXV6SxWbgpVxm4gzfkV3G&iat=1635518073&a=%7C%7C225362583%7C%7C&account=example%2Eactivehosted%2Ecom&email=rcnACfXAw2TQUyfpj7YMwBdIU0DsLaDSPK6rhDqV%2BUXVt3QtV0xS&s=0ad92c0c4a2ff86eed94873b1c9268b7&i=19A27A1A54';

describe('activecampaign decoder', () => {
  vectors({ decoder: 'activecampaign' }, [
    [
      'literal link-tracker vector',
      `https://example.lt.acemlnb.com/Prod/link-tracker?redirectUrl=aHR0cHMlM0ElMkYlMkZ3d3cuZXhhbXBsZS5jb20lMkZ3ZWJpbmFyJTNGdXRtX3NvdXJjZSUzREFjdGl2ZUNhbXBhaWduJTI2dXRtX21lZGl1bSUzRGVtYWls${TAIL}`,
      'https://www.example.com/webinar?utm_source=ActiveCampaign&utm_medium=email',
    ],
    ['padded token on lt.emlnk9.com', `https://example.lt.emlnk9.com/Prod/link-tracker?redirectUrl=${redirectUrl('https://www.example.com/c/channel')}${TAIL}`, 'https://www.example.com/c/channel'],
    ['base64 of a plain URL', `https://example.lt.acemlna.com/Prod/link-tracker?redirectUrl=${b64('https://example.com/plain')}${TAIL}`, 'https://example.com/plain'],
    ['lt.php with plain l', 'https://example.activehosted.com/lt.php?s=f9562afb580de308c86d8005457849e4&i=7251A7261A22A411982&l=https%3A%2F%2Fexample.com%2Foffer', 'https://example.com/offer'],
    ['lt.php with base64 l', `https://example.acemlna.com/lt.php?s=f9562afb&i=7251A7261A22&l=${b64('https://example.com/b64')}`, 'https://example.com/b64'],
    ['lt.php with s and i only (opaque)', 'https://example.acemlna.com/lt.php?s=4e19c639cd3fdb5a660d5ffda9189c07&i=572A643A16A8421', null],
    ['lt.php l=open (open tracking)', 'https://example.acemlna.com/lt.php?s=abc&i=1A2B&l=open', null],
    ['javascript: refused', `https://example.lt.acemlnb.com/Prod/link-tracker?redirectUrl=${redirectUrl('javascript:alert(1)')}${TAIL}`, null],
    ['garbage redirectUrl', `https://example.lt.acemlnb.com/Prod/link-tracker?redirectUrl=%25%25%25${TAIL}`, null],
  ] satisfies Vector[]);
});
