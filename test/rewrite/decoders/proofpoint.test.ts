import { describe } from 'vitest';

import { b64url, vectors, type Vector } from './helpers.js';

/** Proofpoint v2: percent-encode, then write "%" as "-" and "/" as "_". */
const v2 = (dest: string): string =>
  encodeURIComponent(dest)
    .replace(/[!'()*.~-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2E/g, '.')
    .replace(/%/g, '-')
    .replace(/%2F/gi, '/')
    .replace(/-2F/g, '_');

describe('proofpoint decoder', () => {
  vectors({ decoder: 'proofpoint' }, [
    // v1
    [
      'v1',
      'https://urldefense.proofpoint.com/v1/url?u=http://www.example.com/path/page.html&k=oIvRg1%2BdGAgOoM1BIlLLqw%3D%3D%0A&r=abc%3D%0A&m=def%3D%0A&s=0123abcd',
      'http://www.example.com/path/page.html',
    ],
    ['v1 with HTML-escaped ampersand', 'https://urldefense.proofpoint.com/v1/url?u=http://www.example.com/?a=1%26amp%3Bb=2&k=x', 'http://www.example.com/?a=1&b=2'],
    // v2
    [
      'v2 literal',
      'https://urldefense.proofpoint.com/v2/url?u=https-3A__www.example-2Dbank.com_login-3Fnext-3D_home-26x-3D1&d=DwMFaQ&c=euGZstcaTDllvimEN8b7jXrwqOf-v5A_CdpgnVfiiMM&r=abc&m=def&s=ghi&e=',
      'https://www.example-bank.com/login?next=/home&x=1',
    ],
    ['v2 built', `https://urldefense.proofpoint.com/v2/url?u=${v2('https://evil-login.example/verify?id=7')}&d=DwM&c=x`, 'https://evil-login.example/verify?id=7'],
    ['v2 javascript: refused', 'https://urldefense.proofpoint.com/v2/url?u=javascript-3Aalert-281-29&d=DwM', null],
    ['v2 without u', 'https://urldefense.proofpoint.com/v2/url?d=DwM&c=x', null],
    // v3
    [
      'v3 plain',
      'https://urldefense.com/v3/__https://lore.kernel.org/all/20250801065121.876793-1-dev@example.com__;!!ACWV5N9M2RV99hQ!JMgEQrzDS3VAAKdSyj3ge_ZLG1Q$',
      'https://lore.kernel.org/all/20250801065121.876793-1-dev@example.com',
    ],
    ['v3 query string stays in', 'https://urldefense.com/v3/__https://git.example.org/tree/drivers/x.c?h=v5.14__;!!CTRNKA9wMg0ARbw!0WCmLLqZ2Icl$', 'https://git.example.org/tree/drivers/x.c?h=v5.14'],
    [
      'v3 one replaced character (~)',
      'https://urldefense.com/v3/__https://wigner.example/*kadlec/pgp_public_key.txt__;fg!!GjvTz_vk!Ueht58Jfq7I9$',
      'https://wigner.example/~kadlec/pgp_public_key.txt',
    ],
    [
      'v3 replaced fragment mark (#)',
      'https://urldefense.com/v3/__http://devicetree.org/schemas/interconnect/mediatek,cci.yaml*__;Iw!!CTRNKA9wMg0ARbw!0vYE2yw$',
      'http://devicetree.org/schemas/interconnect/mediatek,cci.yaml#',
    ],
    [
      'v3 replaced "%" signs inside a wrapped gateway URL',
      'https://urldefense.com/v3/__https://protect2.fireeye.com/v1/url?k=26ebb71c&q=1&u=https*3A*2F*2Fgithub.com*2Flinux-nvme*2Fnvme-cli__;JSUlJSU!!EwVzqGoTKBqv-0DWAJBm!HyJHAJgOq3M4$',
      'https://protect2.fireeye.com/v1/url?k=26ebb71c&q=1&u=https%3A%2F%2Fgithub.com%2Flinux-nvme%2Fnvme-cli',
    ],
    ['v3 run of replaced characters (**A = 2)', `https://urldefense.com/v3/__https://example.com/**Auser/x__;${b64url('~~')}!!abc!def$`, 'https://example.com/~~user/x'],
    ['v3 run and single mixed', `https://urldefense.com/v3/__https://example.com/p*q/**Bz__;${b64url('~~~~')}!!abc!def$`, 'https://example.com/p~q/~~~z'],
    ['v3 characters the outer parser escaped', 'https://urldefense.com/v3/__https://example.com/search?q="x y"__;!!abc!def$', 'https://example.com/search?q=%22x%20y%22'],
    ['v3 more stars than replaced characters', `https://urldefense.com/v3/__https://example.com/*a*b__;${b64url('~')}!!abc!def$`, null],
    ['v3 without the __; terminator', 'https://urldefense.com/v3/__https://example.com/x', null],
    ['v3 javascript: refused', 'https://urldefense.com/v3/__javascript:alert(1)__;!!abc!def$', null],
    ['v3 garbage replacement block', 'https://urldefense.com/v3/__https://example.com/*__;%25%25!!abc!def$', null],
    ['unknown version', 'https://urldefense.com/v4/__https://example.com/__;!!a!b$', null],
  ] satisfies Vector[]);
});
