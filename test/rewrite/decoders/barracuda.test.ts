import { describe } from 'vitest';

import { vectors, type Vector } from './helpers.js';

describe('barracuda decoder', () => {
  vectors({ decoder: 'barracuda' }, [
    [
      'lower-case escapes as Barracuda writes them',
      'https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fwww.example.com%2freservations%3fpromo_code%3dGEO52125&c=E,1,gq-fB3OvXlnAOrkLqskxBnwy2poM3PfMu42tD7PtykoqJDTHZXtaZankHTnb0nu9&typo=1',
      'https://www.example.com/reservations?promo_code=GEO52125',
    ],
    ['trailing slash kept', 'https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fexample.org%2f&c=E,1,hA45iW0GZJdGWU2_lp0BOlPA2Mbu,,&typo=1', 'https://example.org/'],
    ['javascript: refused', 'https://linkprotect.cudasvc.com/url?a=javascript%3aalert(1)&c=E,1,x&typo=1', null],
    ['no a parameter', 'https://linkprotect.cudasvc.com/url?c=E,1,x&typo=1', null],
  ] satisfies Vector[]);
});
