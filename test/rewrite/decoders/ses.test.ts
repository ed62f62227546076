import { describe } from 'vitest';

import { vectors, type Vector } from './helpers.js';

const TAIL = '/1/0100018c7d6a1b2c-3d4e5f60-7182-93a4-b5c6-d7e8f9a0b1c2-000000/AbCdEfGhIj0123456789=123';

describe('ses decoder', () => {
  vectors({ decoder: 'ses' }, [
    ['L0 link', `https://abc.r.us-east-1.awstrack.me/L0/https:%2F%2Fexample.com%2Fpage%3Fa=1${TAIL}`, 'https://example.com/page?a=1'],
    ['CL0 link on a custom tracking domain', `https://tracking.example.com/CL0/https:%2F%2Fexample.com%2Fnews${TAIL}`, 'https://example.com/news'],
    ['http destination kept http', `https://abc.r.us-east-1.awstrack.me/L0/http:%2F%2Fexample.com%2F${TAIL}`, 'http://example.com/'],
    ['L0 not first segment is not SES', `https://abc.r.us-east-1.awstrack.me/x/L0/https:%2F%2Fexample.com%2F${TAIL}`, null],
    ['data: refused', `https://abc.r.us-east-1.awstrack.me/L0/data:text%2Fhtml,hi${TAIL}`, null],
    ['open pixel', 'https://abc.r.us-east-1.awstrack.me/I0/0100018c7d6a1b2c-000000/AbCd=123', null],
  ] satisfies Vector[]);
});
