import { describe, expect, it } from 'vitest';
import { decodeWith } from '../../../src/rewrite/decoders/index.js';
import { loadRuleSet } from '../../../src/rewrite/rules/load.js';

// The unwrap arguments written in trackers.yaml, checked against the real decoders:
// [tracking link, expected rule id, expected destination]
const CASES: [string, string, string][] = [
  ['https://www.google.com/url?q=https%3A%2F%2Fexample.com%2Fa&sa=D', 'google.click', 'https://example.com/a'],
  ['https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2Fb&h=AT0', 'facebook.click', 'https://example.com/b'],
  ['https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fexample.com%2Fc&urlhash=x', 'linkedin.click', 'https://example.com/c'],
  ['https://t.yesware.com/tl/abc/def?ytl=https%3A%2F%2Fexample.com%2Fd', 'yesware.click', 'https://example.com/d'],
  ['https://mailtrack.io/trace/link/abc?url=https%3A%2F%2Fexample.com%2Fe&userId=1', 'mailtrack.click', 'https://example.com/e'],
  ['https://abcd.r.us-east-1.awstrack.me/L0/https:%2F%2Fexample.com%2Ff/1/0100018a/abc=123', 'amazon-ses.click', 'https://example.com/f'],
  ['https://click.pstmrk.it/3s/example.com%2Fg/AbCd/EfGh', 'postmark.click', 'https://example.com/g'],
  // base64url("https://example.com/h")
  ['https://click.convertkit-mail2.com/v8uo3o7rl8/qvh8h7hx0q/aHR0cHM6Ly9leGFtcGxlLmNvbS9o', 'convertkit.click', 'https://example.com/h'],
  // base64url('{"e":"https://example.com/i"}')
  ['https://substack.com/redirect/2/eyJlIjoiaHR0cHM6Ly9leGFtcGxlLmNvbS9pIn0', 'substack.click', 'https://example.com/i'],
  ['https://bl-1.com/c/abc?url=https%3A%2F%2Fexample.com%2Fj', 'bananatag.open', 'https://example.com/j'],
];

describe('unwrap arguments fit their decoders', () => {
  const rules = loadRuleSet();
  it.each(CASES)('%s', (link, id, destination) => {
    const match = rules.matchUrl(new URL(link), 'click');
    expect(match?.ruleId).toBe(id);
    const spec = match?.rule.unwrap;
    expect(spec).toBeDefined();
    if (spec) expect(decodeWith(new URL(link), spec)).toBe(destination);
  });
});
