import { describe } from 'vitest';

import { vectors, type Vector } from './helpers.js';

const DATA =
  '&data=05%7C02%7Cbob%40contoso.com%7C1d2c3b4a%7C72f988bf86f141af91ab2d7cd011db47%7C0%7C0%7C638400000000000000%7CUnknown%7CTWFpbGZsb3d8eyJWIjoiMC4wLjAwMDAiLCJQIjoiV2luMzIiLCJBTiI6Ik1haWwiLCJXVCI6Mn0%3D%7C0%7C%7C%7C&sdata=AbCdEf%2BgHiJkLmNoPqRsTuVwXyZ0123456789%3D&reserved=0';

describe('safelinks decoder', () => {
  vectors({ decoder: 'safelinks' }, [
    ['Safe Links', `https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.example.com%2Freport%3Fid%3D7%26lang%3Den${DATA}`, 'https://www.example.com/report?id=7&lang=en'],
    ['other region, http destination', `https://eur03.safelinks.protection.outlook.com/?url=http%3A%2F%2Fexample.org%2F${DATA}`, 'http://example.org/'],
    ['unencoded destination', 'https://nam04.safelinks.protection.outlook.com/?url=https://example.com/x&data=05&reserved=0', 'https://example.com/x'],
    ['javascript: refused', `https://nam12.safelinks.protection.outlook.com/?url=javascript%3Aalert(1)${DATA}`, null],
    ['no url parameter', `https://nam12.safelinks.protection.outlook.com/?${DATA.slice(1)}`, null],
  ] satisfies Vector[]);
});
