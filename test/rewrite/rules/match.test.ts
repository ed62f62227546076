import { describe, expect, it } from 'vitest';
import { loadRuleSet } from '../../../src/rewrite/rules/load.js';
import type { TrackingKind } from '../../../src/rewrite/types.js';

const rules = loadRuleSet();

// [url, asked as, expected rule id]; the vendor is checked against the rule's own vendor below.
const HITS: [string, TrackingKind, string][] = [
  // Mailchimp / Mandrill
  ['https://example.us5.list-manage.com/track/open.php?u=0a1b2c&id=3d4e5f&e=6a7b8c', 'open', 'mailchimp.open'],
  ['https://example.us5.list-manage.com/track/click?u=0a1b2c&id=3d4e5f&e=6a7b8c', 'click', 'mailchimp.click'],
  ['https://us12.mailchimp.com/mctx/opens?xid=abc&uid=1&pool=&subject=', 'open', 'mailchimp.2'],
  ['https://mandrillapp.com/track/open.php?u=30504154&id=8d9a&tags=_all', 'open', 'mandrill.open'],
  ['https://mandrillapp.com/track/click/30504154/example.com?p=eyJzIjoiYWJjIiwidiI6MSwicCI6In0', 'click', 'mandrill.click'],
  ['https://mandrill.example.com/track/click/30504154/example.com?p=eyJzIjoi', 'click', 'mandrill.3'],
  // HubSpot marketing + Sales
  ['https://d2v8tf04.na1.hubspotlinks.com/Ctc/LX+113/d2v8tf04/VWc2xj1Mk9rQW3', 'click', 'hubspot.open'],
  ['https://d2v8tf04.na1.hubspotlinks.com/Cto/LX+113/d2v8tf04/VWc2xj1Mk9rQW3', 'open', 'hubspot.open'],
  ['https://t.sidekickopen03.com/e1t/o/5/f18dQhb0S7lC8dDMPbW2n0x6l2B9nMJW7t5XX43Mx_82W1p8dCT5n', 'open', 'hubspot.click'],
  ['https://t.sidekickopen03.com/e1t/c/5/f18dQhb0S7lC8?t=https%3A%2F%2Fexample.com%2F&si=1&pi=2', 'click', 'hubspot.click'],
  ['https://info.example.com/e3t/Ctc/LX+113/cZ2xN04/VWc2xj1Mk9rQW3', 'click', 'hubspot.5'],
  ['https://info.example.com/e2t/to/VWc2xj1Mk9rQW3', 'open', 'hubspot.4'],
  // SendGrid, Mailgun, SES, Postmark, SparkPost, Mailjet, Brevo
  ['https://u1234567.ct.sendgrid.net/wf/open?upn=abcDEF123', 'open', 'sendgrid.open'],
  ['https://u1234567.ct.sendgrid.net/ls/click?upn=abcDEF123-2Bxyz', 'click', 'sendgrid.click'],
  ['https://url1234.example.com/ls/click?upn=abcDEF123-2Bxyz', 'click', 'sendgrid.3'],
  ['https://email.mg.example.com/o/eJwlzDEOgzAMAMDXwIicxHHSgYGlf', 'open', 'mailgun.open'],
  ['https://email.mg.example.com/c/eJwlzDEOgzAMAMDXwIicxHHSgYGlf', 'click', 'mailgun.click'],
  ['https://abcd.r.us-east-1.awstrack.me/I0/0100018a/abc=123', 'open', 'amazon-ses.open'],
  ['https://abcd.r.us-east-1.awstrack.me/L0/https:%2F%2Fexample.com%2Fpage/1/0100018a/abc=123', 'click', 'amazon-ses.click'],
  ['https://track.example.com/CL0/https:%2F%2Fexample.com%2F/1/0100018a/abc=123', 'click', 'amazon-ses.3'],
  ['https://pstmrk.it/open?m=v3_1.abc&k=def', 'open', 'postmark.open'],
  ['https://click.pstmrk.it/3s/example.com%2Fpage/AbCd/EfGh/IjKl', 'click', 'postmark.click'],
  ['https://go.sparkpostmail.com/q/abcDEF~~/AAAAAQA~/RgRn~~', 'open', 'sparkpost.open'],
  ['https://go.sparkpostmail.com/f/a/abcDEF~~/AAAAAQA~/RgRn~~/aHR0cHM6', 'click', 'sparkpost.click'],
  ['https://links.example.com/f/a/abcDEF~~/AAAAAQA~/RgRn~~', 'click', 'sparkpost.3'],
  ['https://x3kd2.mjt.lu/oo/AUsAAD8xYzcAAAAAAAAAAAXyz/abcdefgh/e.gif', 'open', 'mailjet.open'],
  ['https://x3kd2.mjt.lu/lnk/AUsAAD8xYzcAAAAAAAAA/1/abcdEFGH/aHR0cHM6Ly9leGFtcGxlLmNvbQ', 'click', 'mailjet.click'],
  ['https://xyz.r.sp1-brevo.net/mk/op/sh/abc/def', 'open', 'brevo.3'],
  ['https://abc.r.bh.d.sendibt3.com/mk/cl/f/sh/abc/def', 'click', 'brevo.3'],
  ['https://tracking.example.com/mk/cl/f/sh/abc/def', 'click', 'brevo.click'],
  // Klaviyo, Constant Contact, Campaign Monitor, ActiveCampaign, Customer.io, Braze, Iterable
  ['https://trk.klaviyomail.com/open?x=1', 'open', 'klaviyo.3'],
  ['https://ctrk.klclick.com/o/01HABCDEF?_kx=x', 'open', 'klaviyo.open'],
  ['https://ctrk.klclick1.com/l/01HABCDEFGHJKMNPQRS', 'click', 'klaviyo.click'],
  ['https://r20.rs6.net/on.jsp?ca=abc&a=123&c=def', 'open', 'constant-contact.open'],
  ['https://r20.rs6.net/tn.jsp?f=001abc&c=def&ch=ghi', 'click', 'constant-contact.click'],
  ['https://example.cmail20.com/t/j-o-abcdefg-l/o.gif', 'open', 'campaign-monitor.open'],
  ['https://example.createsend1.com/t/j-l-abcdefg-l-r/', 'click', 'campaign-monitor.click'],
  ['https://example.lt.acemlnb.com/Prod/link-tracker?redirectUrl=aHR0cHM6Ly9leGFtcGxlLmNvbQ%3D%3D&sig=x&a=1', 'click', 'activecampaign.click'],
  ['https://example.lt.acemlnb.com/Prod/link-tracker?nl=1&c=2&m=3&s=abc&l=open', 'open', 'activecampaign.open'],
  ['https://example.activehosted.com/lt.php?nl=1&c=2&m=3&s=abc&l=open', 'open', 'activecampaign.3'],
  ['https://e.customeriomail.com/e/o/eyJlbWFpbF9pZCI6IkRlSUJBQUFBQUFBQUFBPT0ifQ==', 'open', 'customer-io.open'],
  ['https://e.customeriomail.com/e/c/eyJlbWFpbF9pZCI6IkRlSUJBIiwiaHJlZiI6Imh0dHBzOi8vIn0=/abc', 'click', 'customer-io.click'],
  ['https://links.example.com/e/c/eyJlbWFpbF9pZCI6IkRlSUJBIn0=/abc', 'click', 'customer-io.4'],
  ['https://ablink.news.example.com/ls/click?upn=abc123', 'click', 'braze.click'],
  ['https://ablink.news.example.com/wf/open?upn=abc123', 'open', 'braze.open'],
  ['https://links.iterable.com/a/click?_t=abc&_m=def&_e=ghi', 'click', 'iterable.3'],
  ['https://links.example.com/a/click?_t=abc&_m=def&_e=ghi', 'click', 'iterable.click'],
  // Drip, ConvertKit, MailerLite, Zoho Campaigns, Substack, beehiiv
  ['https://dripemail2.com/o/abc123', 'open', 'drip.open'],
  ['https://dripemail2.com/c/abc123', 'click', 'drip.open'],
  ['https://open.convertkit-mail2.com/v8uo3o7rl8h5h5w3q7hq', 'open', 'convertkit.open'],
  ['https://click.convertkit-mail2.com/v8uo3o7rl8/qvh8h7hx0q/aHR0cHM6Ly9leGFtcGxlLmNvbQ==', 'click', 'convertkit.click'],
  ['https://clicks.mlsend.com/tj/c/eyJ2Ijoi/abc', 'click', 'mailerlite.click'],
  ['https://link.mailerlite.io/link/o/abc/def', 'open', 'mailerlite.open'],
  ['https://sender.maillist-manage.com/clicks/abc123', 'click', 'zoho-campaigns.open'],
  ['https://email.mg1.substack.com/o/eJxNkMFuwyAQRL_G3BLwAo594JBD-xVRtV', 'open', 'substack.open'],
  ['https://substack.com/redirect/2/eyJlIjoiaHR0cHM6Ly9leGFtcGxlLmNvbS8ifQ.sig', 'click', 'substack.click'],
  ['https://example.substack.com/redirect/b5d1e1e5-4d41-4d3b?j=eyJ1Ijoi', 'click', 'substack.3'],
  ['https://link.mail.beehiiv.com/ss/o/u001.abc/4bf/def_ghi/ho.gif', 'open', 'beehiiv.open'],
  ['https://link.mail.beehiiv.com/ss/c/u001.abc/4bf/def/h0/ghi', 'click', 'beehiiv.click'],
  // Marketo, Pardot, Eloqua, Salesforce Marketing Cloud
  ['https://go.example.com/trk?t=1&mid=MzQ1LUpaVi0xOTU6MTIzOjQ1Njo3ODk6MA', 'open', 'marketo.open'],
  ['https://go.pardot.com/r/123/abc/def', 'open', 'pardot.open'],
  ['https://go.pardot.com/e/823443/2023-01-02/abc123/123456789', 'click', 'pardot.click'],
  ['https://s1234.t.en25.com/e/FooterImages/FooterImage1?elqTrackId=abc&elq=def', 'open', 'eloqua.open'],
  ['https://s1234.t.eloqua.com/e/er?s=1234&lid=567&elqTrackId=abc', 'click', 'eloqua.click'],
  ['https://click.e.example.com/open.aspx?ffcb10-fe8a1675766d047c-fe2a1279', 'open', 'salesforce-marketing-cloud.open'],
  ['https://click.e.example.com/?qs=0123456789abcdef0123456789abcdef', 'click', 'salesforce-marketing-cloud.click'],
  ['https://cl.s7.exct.net/?qs=0123456789abcdef', 'click', 'salesforce-marketing-cloud.3'],
  // Sales engagement and personal trackers
  ['https://t.yesware.com/t/6e3e3c54/abc/spacer.gif', 'open', 'yesware.open'],
  ['https://t.yesware.com/tl/6e3e3c54/abc?ytl=https%3A%2F%2Fexample.com%2F', 'click', 'yesware.click'],
  ['https://mailtrack.io/trace/mail/0123456789abcdef.png?u=123', 'open', 'mailtrack.open'],
  ['https://mailtrack.io/trace/link/0123456789abcdef?url=https%3A%2F%2Fexample.com&userId=1&signature=x', 'click', 'mailtrack.click'],
  ['https://mailfoogae.appspot.com/t?sender=abc&type=zerocontent&guid=123', 'open', 'streak.open'],
  ['https://streaklinks.com/BxAbCdEf/https%3A%2F%2Fexample.com%2F', 'click', 'streak.click'],
  ['https://app.mixmax.com/api/track/v2/abc/def', 'open', 'mixmax.2'],
  ['https://links.mixmax.com/b/abcDEF123', 'click', 'mixmax.click'],
  ['https://app1a.outreach.io/api/mailings/opened/PMRGSZBCHIZTG.gif', 'open', 'outreach.open'],
  ['https://app1a.outreach.io/api/mailings/click/PMRGSZBCHIZTG?href=https%3A%2F%2Fexample.com', 'click', 'outreach.click'],
  ['https://go.example.com/api/mailings/click/PMRGSZBCHIZTG?href=https%3A%2F%2Fexample.com', 'click', 'outreach.4'],
  ['https://app.salesloft.com/email_trackers/abc123/open.gif', 'open', 'salesloft.open'],
  ['https://sdr.salesloft.com/c/abc123', 'click', 'salesloft.click'],
  ['https://api.nylas.com/open/abc123', 'open', 'pipedrive.2'],
  ['https://r.superhuman.com/abcDEF123.gif', 'open', 'superhuman.open'],
  ['https://ec2-52-26-194-35.us-west-2.compute.amazonaws.com/x/abc', 'click', 'gmass.open'],
  ['https://link.gmreg3.net/x/abc', 'click', 'gmass.open'],
  ['https://bl-1.com/c/abc?url=https%3A%2F%2Fexample.com', 'click', 'bananatag.open'],
  ['https://mailstat.us/tr/t/abc123/def', 'open', 'boomerang.open'],
  ['https://polymail.io/v2/z/abc123/def.png', 'open', 'polymail.open'],
  ['https://app.close.com/email_opened/abc123/def.png', 'open', 'close.open'],
  ['https://tracking.cirrusinsight.com/abc/def.gif', 'open', 'cirrus-insight.open'],
  ['https://via.intercom.io/o?h=abc&u=1', 'open', 'intercom.open'],
  ['https://intercom-clicks.com/via/e?ob=abc&h=def&l=https%3A%2F%2Fexample.com', 'click', 'intercom.click'],
  ['https://app.frontapp.com/api/abc/seen', 'open', 'front.open'],
  ['https://abc.emltrk.com/abc123?d=test', 'open', 'litmus.open'],
  ['https://eoapxl.com/abc/def.gif', 'open', 'email-on-acid.open'],
  // Redirect wrappers
  ['https://www.google.com/url?q=https%3A%2F%2Fexample.com%2F&sa=D&source=editors', 'click', 'google.click'],
  ['https://www.google-analytics.com/collect?v=1&tid=UA-1&cid=555&t=event&ec=email', 'open', 'google.open'],
  ['https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2F&h=AT0', 'click', 'facebook.click'],
  ['https://www.facebook.com/email_open_log_pic.php?mid=abc', 'open', 'facebook.open'],
  ['https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fexample.com&urlhash=abc', 'click', 'linkedin.click'],
  ['https://www.linkedin.com/emimp/ip_abc.gif', 'open', 'linkedin.open'],
  ['https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.com%2F&data=05%7C01', 'click', 'microsoft-safe-links.click'],
  ['https://urldefense.proofpoint.com/v2/url?u=https-3A__example.com_&d=DwMF&c=abc', 'click', 'proofpoint.click'],
  ['https://urldefense.com/v3/__https://example.com/__;!!abc$', 'click', 'proofpoint.click'],
  ['https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fexample.com&c=E,1,abc', 'click', 'barracuda.click'],
  ['https://protect-eu.mimecast.com/s/AbCdEfGhIjKl?domain=example.com', 'click', 'mimecast.click'],
  ['https://www.dpbolvw.net/click-123-456?url=https%3A%2F%2Fexample.com', 'click', 'cj.click'],
  // from the public lists
  ['https://openrate.aweber.com/o/abc', 'open', 'aweber.open'],
  ['https://github.com/notifications/beacon/ABC123.gif', 'open', 'github.open'],
  ['https://click.icptrack.com/icp/track?cid=1', 'open', 'icontact.open'],
  ['https://trackedlink.net/abc', 'click', 'dotdigital.open'],
  ['https://mkt4477.com/open?x=1', 'open', 'acoustic.2'],
  ['https://mkt4477.com/ctt?kn=1&ms=abc&r=def', 'click', 'acoustic.click'],
  ['https://click.icptrack.com/icp/relay.php?r=1&msgid=2&destination=https%3A%2F%2Fexample.com', 'click', 'icontact.click'],
  ['https://signl.live/tracker?redirect=https%3A%2F%2Fexample.com&t=abc', 'click', 'signal.click'],
  ['https://api.segment.io/v1/pixel/track?data=abc', 'open', 'twilio.open'],
  ['https://example.com/sendy/t/abc123/def456', 'open', 'sendy.open'],
  // 2026.11.29-3 additions
  ['https://mkto-a0244.com/Xa0B0C1D0E2F3G0H0I4J0', 'click', 'marketo.click'],
  ['https://pages.example.com.mkto-k0023.com/dc/abc', 'click', 'marketo.click'],
  ['https://345-jzv-195.mktoweb.com/trk?t=1&mid=MzQ1LUpaVi0xOTU6MTIzOjQ1Njo3ODk6MA', 'open', 'marketo.3'],
  ['https://345-jzv-195.mktoweb.com/dc/Ab3dEfGh1jKlMnOp==/MzQ1LUpaVi0xOTUAAAGKxyz', 'click', 'marketo.4'],
  ['https://info.example.com/dc/Ab3dEfGh1jKlMnOp-qRsTuV==/MzQ1LUpaVi0xOTUAAAGKAbCdEfGh/S0g0a0e0ABC0000', 'click', 'marketo.5'],
  ['https://go.example.com/MzQ1LUpaVi0xOTUAAAGKAbCdEfGhIjKlMnOpQrStUv', 'click', 'marketo.6'],
  ['https://app.close.com/email_clicked/k7F3OnkOHqibJ2ZD5sbF6iU4DebM1E2wLbLXXzYW/', 'click', 'close.click'],
  ['https://polymail.io/v2/l/hLWakfR6Tklkg5IbSGoOksGd/UDHQeGlSIncTf', 'click', 'polymail.click'],
  ['https://example.pipedrive.com/ls/click?upn=abcDEF123', 'click', 'pipedrive.click'],
  ['https://osend1.com/lc/Ab12Cd', 'click', 'omnisend.click'],
  ['https://osend3.com/la/Zx98Yw', 'click', 'omnisend.click'],
  ['https://clicks.aweber.com/y/ct/?l=AbCdE&m=FgHiJ&b=KlMnOpQrSt', 'click', 'aweber.click'],
  ['https://u12345.gr8.com/c/AbCdEf/12345', 'click', 'getresponse.click'],
  ['https://w1.mslai.net/prod/click/AbCdEf123', 'click', 'mailshake.click'],
  ['https://trk2.klclick.com/wf/open?upn=3fBYNGeLrtBzu01NGeKDc', 'open', 'klaviyo.4'],
  ['https://links.news.example.com/e/encryptedOpen?_t=f7c14e45&_m=5ba874f4&_e=LPEqCHs', 'open', 'iterable.4'],
  ['https://open.kit-mail3.com/mrcvpsdlvorxzqhaukm85mvl3d7wak', 'open', 'convertkit.4'],
  ['https://click.kit-mail3.com/jpiwswmtla/anualnmunnv0rxbj/aHR0cHM6Ly9leGFtcGxlLmNvbQ', 'click', 'convertkit.5'],
  ['https://sender.maillist-manage.eu/clicks/abc123', 'click', 'zoho-campaigns.2'],
  ['https://s0hu.mj.am/oo/BAAAAEZcpDNi/rfezordr/e.gif', 'open', 'mailjet.4'],
  ['https://s0hu.mj.am/lnk/AUcAAD8Pj0XD7HfR19AwYY7B/1/bIkTkIr3/aHR0cHM6Ly9leGFtcGxlLmNvbQ', 'click', 'mailjet.5'],
  ['https://news.example.com/lnk/AUcAAD8Pj0XD7HfR19AwYY7B/1/bIkTkIr3-OhieAnUf8R/aHR0cHM6Ly9leGFtcGxlLmNvbQ', 'click', 'mailjet.6'],
  // 2026.11.29-4 additions
  ['https://us.content.exclaimer.net/?url=https%3A%2F%2Fwww.instagram.com%2Fexample', 'click', 'exclaimer.click'],
  ['https://eu.content.exclaimer.net/?url=https://example.com/&signature=AAAA1234', 'click', 'exclaimer.click'],
  ['https://eu.content.exclaimer.net?url=https%3A%2F%2Fexample.com%2F&signature=AAAA1234', 'click', 'exclaimer.click'],
  ['https://us.content.exclaimer.net/content/e4a1234b-0bcd-4ef0-a123-0b34c0567d8e/img/track/open.gif', 'open', 'exclaimer.open'],
];

describe('tracker URLs are recognised', () => {
  const byId = new Map(rules.trackers.map((r) => [r.id, r]));

  it.each(HITS)('%s (%s) -> %s', (url, kind, id) => {
    const match = rules.matchUrl(new URL(url), kind);
    expect(match?.ruleId).toBe(id);
    expect(match?.vendor).toBe(byId.get(id)?.vendor);
    const rule = byId.get(id);
    expect(rule?.kind === kind || rule?.kind === 'both').toBe(true);
  });

  it('covers at least 40 vendors in this table', () => {
    const vendors = new Set(HITS.map(([, , id]) => byId.get(id)?.vendor));
    expect(vendors.size).toBeGreaterThanOrEqual(40);
  });

  it('asks for the right kind: an open rule does not match as a click', () => {
    expect(rules.matchUrl(new URL('https://example.us5.list-manage.com/track/open.php?u=1'), 'click')).toBeNull();
    expect(rules.matchUrl(new URL('https://example.us5.list-manage.com/track/click?u=1'), 'open')).toBeNull();
  });

  it('prefers a host rule to a hostless one, and a longer host to a shorter one', () => {
    expect(rules.matchUrl(new URL('https://streak.com/e/o/abc'), 'open')?.ruleId).toBe('streak.2');
    expect(rules.matchUrl(new URL('https://links.iterable.com/a/click?_t=1'), 'click')?.ruleId).toBe('iterable.3');
  });

  it('ignores a trailing dot and upper case in the host', () => {
    expect(rules.matchUrl(new URL('https://EMLTRK.COM./x'), 'open')?.ruleId).toBe('litmus.open');
  });
});

// Ordinary URLs (vendors' websites, unsubscribe pages, content CDNs) must match nothing, either way.
const MISSES: string[] = [
  'https://www.hubspot.com/',
  'https://www.hubspot.com/products/marketing',
  'https://f.hubspotusercontent10.net/hubfs/123/logo.png',
  'https://123.fs1.hubspotusercontent-na1.net/hubfs/123/banner.jpg',
  'https://mailchimp.com/',
  'https://example.us5.list-manage.com/unsubscribe?u=0a1b2c&id=3d4e5f&e=6a7b8c',
  'https://example.us5.list-manage.com/profile?u=0a1b2c&id=3d4e5f',
  'https://mcusercontent.com/0a1b2c/images/logo.png',
  'https://gallery.mailchimp.com/0a1b2c/images/header.jpg',
  'https://sendgrid.com/',
  'https://www.mailgun.com/pricing/',
  'https://aws.amazon.com/ses/',
  'https://postmarkapp.com/',
  'https://www.mailjet.com/',
  'https://x3kd2.mjt.lu/unsub2?hl=en&m=abc',
  'https://www.brevo.com/',
  'https://www.klaviyo.com/',
  'https://manage.kmail-lists.com/subscriptions/unsubscribe?a=abc',
  'https://www.constantcontact.com/',
  'https://visitor.constantcontact.com/do?p=un&m=001abc',
  'https://example.cmail20.com/t/j-u-abcdefg-l/',
  'https://i1.createsend1.com/ei/j/ABC/DEF/123/header.png',
  'https://www.campaignmonitor.com/',
  'https://www.activecampaign.com/',
  'https://customer.io/',
  'https://www.braze.com/',
  'https://www.marketo.com/',
  'https://www.salesforce.com/products/marketing-cloud/',
  'https://view.e.example.com/?qs=0123456789abcdef0123456789abcdef',
  'https://www.yesware.com/',
  'https://mailtrack.io/en/',
  'https://www.streak.com/',
  'https://www.mixmax.com/',
  'https://www.outreach.io/',
  'https://salesloft.com/',
  'https://www.pipedrive.com/',
  'https://superhuman.com/',
  'https://www.gmass.co/',
  'https://www.boomeranggmail.com/',
  'https://close.com/',
  'https://www.intercom.com/',
  'https://front.com/',
  'https://www.drip.com/',
  'https://convertkit.com/',
  'https://www.mailerlite.com/',
  'https://iterable.com/',
  'https://example.substack.com/p/my-article',
  'https://substackcdn.com/image/fetch/w_1456/abc.png',
  'https://www.beehiiv.com/',
  'https://www.google.com/search?q=email+tracking',
  'https://www.google.com/maps/place/Berlin',
  'https://docs.google.com/document/d/abc/edit',
  'https://www.facebook.com/example',
  'https://www.linkedin.com/in/jane-doe/',
  'https://www.linkedin.com/company/example/',
  'https://www.ups.com/track?tracknum=1Z999AA10123456784',
  'https://www.fedex.com/fedextrack/?trknbr=123456789012',
  'https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000000',
  'https://www.dhl.com/en/express/tracking.html?AWB=1234567890',
  'https://github.com/example/repo/issues/1',
  'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
  'https://outlook.office.com/mail/',
  'https://www.proofpoint.com/us',
  'https://www.mimecast.com/',
  'https://www.apptivo.com/',
  'https://www.selligent.com/',
  'https://example.com/images/logo.png',
  'https://example.com/',
  // vendors added in 2026.11.29-3: websites, apps, landing pages, unsubscribe links, image CDNs
  'https://345-jzv-195.mktoweb.com/rs/345-JZV-195/images/header.png',
  'https://345-jzv-195.mktoweb.com/lp/345-JZV-195/webinar.html',
  'https://go.example.com/UnsubscribePage.html?mkt_unsubscribe=1',
  'https://go.example.com/index.php/email/emailWebview',
  'https://business.adobe.com/products/marketo/adobe-marketo.html',
  'https://app.close.com/leads/',
  'https://polymail.io/pricing',
  'https://app.polymail.io/',
  'https://www.pipedrive.com/en/features/email-marketing-software',
  'https://example.pipedrive.com/deal/123',
  'https://www.omnisend.com/',
  'https://omnisrc.com/abc123/images/logo.png',
  'https://www.aweber.com/',
  'https://www.getresponse.com/',
  'https://w1.mslai.net/prod/unsubscribe/AbCdEf123',
  'https://mailshake.com/',
  'https://www.moosend.com/',
  'https://exclaimer.com/',
  'https://www.exclaimer.com/email-signature-analytics/',
  'https://us.content.exclaimer.net/content/e4a1234b-0bcd-4ef0-a123-0b34c0567d8e/img/logo.png',
  'https://eu.content.exclaimer.net/',
  'https://img.exclaimer.net/abc123/banner.png',
  'https://outlookclient.exclaimer.net/csua/Exclaimer.CloudSignatureUpdateAgent.Install.msi',
  'https://portal.exclaimer.com/',
  'https://www.codetwo.com/email-signatures/',
  'https://terminus.com/',
  'https://www.lemlist.com/',
  'https://reply.io/',
  'https://woodpecker.co/',
  'https://www.apollo.io/',
  'https://instantly.ai/',
  'https://www.smartlead.ai/',
  'https://www.zoho.com/campaigns/',
  'https://sender.maillist-manage.eu/ua/optout?od=abc',
  'https://sendpulse.com/',
  'https://kit.com/',
  'https://www.frontapp.com/',
];

describe('ordinary URLs are left alone', () => {
  it.each(MISSES)('%s', (url) => {
    const u = new URL(url);
    expect(rules.matchUrl(u, 'open')?.ruleId ?? null).toBeNull();
    expect(rules.matchUrl(u, 'click')?.ruleId ?? null).toBeNull();
  });
});

// [name, host, expected id or null]
const PARAMS: [string, string, string | null][] = [
  ['mc_eid', 'example.com', 'param.mc_eid'],
  ['MC_EID', 'example.com', 'param.mc_eid'],
  ['_hsenc', 'example.com', 'param._hsenc'],
  ['mkt_tok', 'example.com', 'param.mkt_tok'],
  ['utm_source', 'example.com', 'param.utm_*'],
  ['utm_userid', 'example.com', 'param.utm_userid'],
  ['pk_campaign', 'example.com', 'param.pk_*'],
  ['gclid', 'example.com', 'param.gclid'],
  ['fbclid', 'example.com', 'param.fbclid'],
  ['trk', 'www.linkedin.com', 'param.linkedin.trk'],
  ['midToken', 'www.linkedin.com', 'param.linkedin.midtoken'],
  ['trk', 'example.com', null],
  ['tt_email_id', 'www.twitch.tv', 'param.twitch.tt_email_id'],
  ['email_token', 'github.com', 'param.github.email_token'],
  ['q', 'www.google.com', null],
  ['id', 'example.com', null],
];

describe('per-recipient parameters', () => {
  it.each(PARAMS)('%s on %s -> %s', (name, host, id) => {
    expect(rules.matchParam(name, host)?.id ?? null).toBe(id);
  });

  it('marks campaign attribution as such', () => {
    expect(rules.matchParam('utm_campaign', 'example.com')?.campaign).toBe(true);
    expect(rules.matchParam('mc_eid', 'example.com')?.campaign).toBeUndefined();
  });
});
