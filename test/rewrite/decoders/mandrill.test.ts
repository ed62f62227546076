import { describe } from 'vitest';

import { b64, b64url, vectors, type Vector } from './helpers.js';

/** PHP's json_encode, which Mandrill uses, writes "/" as "\/" at both levels. */
const phpJson = (v: unknown): string => JSON.stringify(v).replace(/\//g, '\\/');

/** Mandrill's two-level envelope: base64url({"s":sig,"v":1,"p":"<JSON of {u,v,url,id,url_ids}>"}). */
function mandrillP(url: string): string {
  const inner = phpJson({ u: 30108723, v: 1, url, id: '4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99', url_ids: ['0123456789abcdef'] });
  return b64url(phpJson({ s: 'Rz67yzDM8CBPbabmbp-RO6KSz-Y', v: 1, p: inner }));
}

describe('mandrill decoder', () => {
  vectors({ decoder: 'mandrill' }, [
    [
      'literal vector',
      'https://mandrillapp.com/track/click/30108723/www.example.com?p=eyJzIjoiUno2N3l6RE04Q0JQYmFibWJwLVJPNktTei1ZIiwidiI6MSwicCI6IntcInVcIjozMDEwODcyMyxcInZcIjoxLFwidXJsXCI6XCJodHRwczovL3d3dy5leGFtcGxlLmNvbS9wcmljaW5nP3BsYW49cHJvXCIsXCJpZFwiOlwiNGYzYzJhMWIwZTlkOGM3YjZhNWY0ZTNkMmMxYjBhOTlcIixcInVybF9pZHNcIjpbXCIwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3XCJdfSJ9',
      'https://www.example.com/pricing?plan=pro',
    ],
    [
      'built vector (PHP-escaped slashes)',
      `https://mandrillapp.com/track/click/30108723/docs.example.com?p=${mandrillP('https://docs.example.com/start#install')}`,
      'https://docs.example.com/start#install',
    ],
    ['custom tracking domain', `https://mandrill.example.com/track/click/30108723/example.com?p=${mandrillP('http://example.com/')}`, 'http://example.com/'],
    [
      'single-level variant with url at the top',
      `https://mandrillapp.com/track/click/30952215/www.example.com?p=${b64(JSON.stringify({ u: 30952215, v: 2, url: 'https://www.example.com/aviso--18191220' }))}`,
      'https://www.example.com/aviso--18191220',
    ],
    ['p is not JSON', 'https://mandrillapp.com/track/click/30363097/www.example.com?p=bm90IGpzb24', null],
    ['javascript: url refused', `https://mandrillapp.com/track/click/30108723/example.com?p=${mandrillP('javascript:alert(1)')}`, null],
    ['no p', 'https://mandrillapp.com/track/click/30108723/example.com', null],
    ['truncated p', `https://mandrillapp.com/track/click/30108723/example.com?p=${mandrillP('https://example.com/').slice(0, 60)}`, null],
  ] satisfies Vector[]);
});
