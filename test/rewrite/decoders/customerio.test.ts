import { describe } from 'vitest';

import { b64url, vectors, type Vector } from './helpers.js';

const payload = (v: unknown): string => b64url(JSON.stringify(v));
const SIG = '07115b1fd7a19811050d0899a5766c709ca365d348046d3446afc329524e28ba';

describe('customerio decoder', () => {
  vectors({ decoder: 'customerio' }, [
    [
      'literal vector',
      `https://e.customeriomail.com/e/c/eyJlbWFpbF9pZCI6ImRnU1JpQWNCQU9xaWZlbWlmUUdKQUVBLTNIbVFGaVVzVXFRU2NfQT0iLCJocmVmIjoiaHR0cHM6Ly9kb2NzLmV4YW1wbGUuY29tL2d1aWRlP3V0bV9zb3VyY2U9Y3VzdG9tZXIuaW8meD0xIiwiaW50ZXJuYWwiOiI5MTg4MDc0NGE5NjFlYWEyN2QiLCJsaW5rX2lkIjoyNH0/${SIG}`,
      'https://docs.example.com/guide?utm_source=customer.io&x=1',
    ],
    [
      '\\u0026 escapes in href',
      `https://e.customeriomail.com/e/c/${b64url('{"email_id":"dgTiqwoAAKM1ojUBlIowic9M6qdvQIHg1E5r","href":"https://go.example.com/visit/?bta=35452\\u0026brand=rent","internal":"e2ab0a00a235a335","link_id":10}')}/${SIG}`,
      'https://go.example.com/visit/?bta=35452&brand=rent',
    ],
    ['branded tracking domain', `https://links.example.com/e/c/${payload({ email_id: 'x', href: 'https://example.com/p', position: 2 })}/${SIG}`, 'https://example.com/p'],
    ['JWT-like dotted segment', `https://e.customeriomail.com/e/c/${payload({ alg: 'HS256' })}.${payload({ href: 'https://example.com/jwt' })}.c2lnbmF0dXJl/${SIG}`, 'https://example.com/jwt'],
    ['javascript: href refused', `https://e.customeriomail.com/e/c/${payload({ href: 'javascript:alert(1)' })}/${SIG}`, null],
    ['payload without href', `https://e.customeriomail.com/e/c/${payload({ email_id: 'x', link_id: 3 })}/${SIG}`, null],
    ['truncated payload', `https://e.customeriomail.com/e/c/${payload({ email_id: 'x', href: 'https://example.com/p' }).slice(0, 30)}/${SIG}`, null],
    ['open pixel', `https://e.customeriomail.com/e/o/${payload({ email_id: 'x' })}`, null],
  ] satisfies Vector[]);
});
