/**
 * The stripping engine: raw message + a consent class -> the bytes those recipients receive, and
 * the findings. Parts are rewritten by source position; every byte outside an edit is kept, and a
 * message with no edit comes back as the very same bytes.
 *
 * Input contract: `raw` is canonical (every line ends in CRLF; the listener and `scan` make it so).
 * The output is canonical too, so the upstream receives exactly these bytes.
 */
import { RelayError, asRelayError } from '../errors.js';
import { toCanonical } from '../mime/canonical.js';
import { codecFor, type TextCodec } from '../mime/charset.js';
import { depthOf, partNumber, splitError, splitterFor, type MimeNode, type SplitterChunk } from '../mime/split.js';
import { compactSegments, segmentsLength, segmentsStream, segmentsToBuffer, SegmentReadError, sliceSegments, type Segment, type Segments } from '../segments.js';
import { canonicalTransferEncoding, decodeBody, encodeBody, transferEncoding, type TransferEncoding } from '../mime/transfer.js';
import { applyEdits, editFor } from './actions/edits.js';
import { noticeEdit, placeholderEdits } from './actions/notice.js';
import type { CampaignContext } from './analysis/campaign.js';
import { analyseMessage, analysersFor } from './analysis/index.js';
import type { Analyser, Hints, MessageHeaders, PartText, PlacedCandidate } from './analysis/types.js';
import { classify } from './classify.js';
import { detectorFor } from './detectors/index.js';
import { DEFAULT_ENGINE_POLICY, type Candidate, type ClassifyContext, type EnginePolicy } from './detectors/types.js';
import { decide, disclosed, fallback, type WebPolicy } from './policy.js';
import { recipientNeedles } from './recipient.js';
import type { RuleSet } from './rules/types.js';
import type { Consent, Edit, Finding, GateTarget, MessageLinks, Verdict } from './types.js';

export interface Limits {
  /** Deepest MIME nesting (multiparts and inline message/rfc822 together). */
  readonly maxDepth: number;
  readonly maxParts: number;
  /** Largest text part we inspect; bigger ones are refused (never passed through unfiltered). */
  readonly maxTextPartBytes: number;
  readonly maxHeadBytes: number;
}

const DEFAULT_LIMITS: Limits = Object.freeze({ maxDepth: 32, maxParts: 1000, maxTextPartBytes: 64 * 1024 * 1024, maxHeadBytes: 1024 * 1024 });

export interface RewriteOptions {
  readonly consent: Consent;
  readonly rules: RuleSet;
  /** Envelope recipients of this consent class: their addresses inside URLs mark tracking. */
  readonly recipients?: readonly string[];
  readonly limits?: Partial<Limits>;
  /** Configurable policy (config `policy.*`); defaults keep campaign parameters and read receipts. */
  readonly policy?: Partial<EnginePolicy>;
  /** Learn from the copies of a campaign (the relay, `scan --campaign`); absent: each message alone. */
  readonly campaign?: CampaignContext;
  /** The relay's HTTP side (gate, ask, disclosure, opt-in placeholder); absent: none of them. */
  readonly links?: MessageLinks;
}

export interface RewriteResult {
  readonly output: Buffer;
  readonly findings: Finding[];
  /** False when output is the input buffer itself. */
  readonly changed: boolean;
  /**
   * The copy wants each recipient's own links (opts.links without `personal`): it holds the
   * opt-in placeholder, or trackers kept by consent that the gate or the notice must name.
   */
  readonly personal?: boolean;
}

/**
 * The engine's result over segments (src/segments.ts). `output` holds the bytes passed through
 * as slices of the input (file ranges stay file ranges) and the re-encoded parts as bytes in
 * memory; unchanged, it is the input list itself. Plain data: a worker thread can return it.
 */
export interface SegmentsResult {
  readonly output: Segments;
  readonly findings: Finding[];
  readonly changed: boolean;
  /** Body bytes of the parts read into memory to inspect them (what a message costs; see smtp/budget.ts). */
  readonly inspectedBytes: number;
  /** As RewriteResult.personal. */
  readonly personal?: boolean;
}

/** One message held in memory: the engine over a single segment, its output joined. */
export async function rewriteMessage(raw: Buffer, opts: RewriteOptions): Promise<RewriteResult> {
  const r = await rewriteSegments([raw], opts);
  const personal = r.personal ? { personal: true } : {};
  if (!r.changed) return { output: raw, findings: r.findings, changed: false, ...personal };
  return { output: toCanonical(await segmentsToBuffer(r.output)), findings: r.findings, changed: true, ...personal };
}

/**
 * The engine over a message given as segments (a file range for a message received into a file,
 * with the Received: header in memory before it). The message is read once, as a stream; only
 * the parts it inspects are held in memory, every other part is passed on as a range of the input.
 */
export async function rewriteSegments(input: Segments, opts: RewriteOptions): Promise<SegmentsResult> {
  // full consent needs no filtering, unless the HTTP side places links or a notice into the copy
  if (opts.consent.opens && opts.consent.clicks && !opts.links) return { output: input, findings: [], changed: false, inspectedBytes: 0 };
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const ctx: ClassifyContext = { rules: opts.rules, consent: opts.consent, needles: recipientNeedles(opts.recipients ?? []), policy: { ...DEFAULT_ENGINE_POLICY, ...opts.policy } };
  try {
    return await rewriteAt(input, ctx, analysersFor(opts), limits, '', 0, opts.links);
  } catch (err) {
    throw asRelayError(err, 'FILTER_FAILED', 'message could not be filtered');
  }
}

/**
 * How many body bytes the engine would read into memory for this message (its inspected parts,
 * inline attached messages whole), without keeping any: one streaming pass of the MIME splitter.
 * The relay charges the memory budget by it before the engine runs. A message the splitter cannot
 * read counts as its whole size (the engine will refuse it, with the reason).
 */
export async function measureInspected(input: Segments, limits: Partial<Limits> = {}): Promise<number> {
  const l: Limits = { ...DEFAULT_LIMITS, ...limits };
  let n = 0;
  let counting = false;
  try {
    for await (const chunk of splitStream(input, l)) {
      if (chunk.type === 'node') counting = !chunk.multipart && inspects(chunk);
      else if (chunk.type === 'body' && counting) n += chunk.value.length;
      else counting = false;
    }
  } catch {
    return segmentsLength(input);
  }
  return n;
}

/** A run of the input passed through as it is: [start, end) in the input's offsets. */
interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * One message (the top level, or an inline message/rfc822 inside it), in four stages:
 * read (split, decode, detect every text part) → analyse (all candidates of the message together)
 * → decide (classify, policy, edits per part) → write (re-encode changed parts, join).
 */
async function rewriteAt(input: Segments, ctx: ClassifyContext, analysers: readonly Analyser[], limits: Limits, prefix: string, depth: number, links?: MessageLinks): Promise<SegmentsResult> {
  const read = await readParts(input, ctx, analysers, limits, prefix, depth, links);
  const texts: PartText[] = [];
  for (const seg of read.segments) if (isTextPart(seg) && seg.codec) texts.push({ part: seg.part, contentType: seg.contentType, text: seg.text });
  const hints = await analyseMessage({ candidates: read.candidates, headers: read.headers, ctx, texts }, analysers);
  const findings: Finding[] = [];
  let changed = read.headerFindings.length > 0;
  let personal = false;
  for (const f of read.headerFindings) findings.push(f);
  const planned: { seg: TextPart; edits: Edit[] }[] = [];
  for (const seg of read.segments) {
    if (!isTextPart(seg)) continue;
    if (seg.nested || !seg.codec) {
      for (const f of seg.nested?.findings ?? []) findings.push(f);
      changed ||= seg.nested?.changed ?? false;
      personal ||= seg.nested?.personal ?? false;
      continue;
    }
    const decided = decidePart(seg, ctx, hints, links);
    for (const f of decided.findings) findings.push(f);
    if (links && seg.contentType !== 'text/css') {
      const p = placeholderEdits(seg.text, links.personal ? links.personal.optIn() : null);
      personal ||= p.found;
      for (const e of p.edits) decided.edits.push(e);
    }
    planned.push({ seg, edits: decided.edits });
  }
  // disclosure: the whole message's trackers kept by consent, named once in each top-level text part
  const kept = links ? findings.filter((f) => disclosed(f.technique, ctx.consent)) : [];
  if (links && kept.length && (links.gate || links.disclose)) personal = true;
  if (links?.disclose && links.personal && kept.length && depth === 0) {
    const vendors = [...new Set(kept.map((f) => f.vendor ?? links.notice.unknownVendor))].sort().join(', ');
    const notice = { text: links.notice.text.replace('{vendors}', vendors), link: links.notice.link, url: links.personal.optOut(), lang: links.notice.lang };
    for (const p of planned) {
      const e = noticeEdit(p.seg.text, notice, { contentType: p.seg.contentType, transparent: p.seg.codec!.transparent, charset: p.seg.codec!.charset });
      if (e) p.edits.push(e);
    }
  }
  for (const { seg, edits } of planned) {
    if (!edits.length) continue;
    seg.output = encodeBody(seg.codec!.encode(applyEdits(seg.text, edits)), seg.encoding);
    changed = true;
  }
  const personalFlag = personal ? { personal } : {};
  if (!changed) return { output: input, findings, changed: false, inspectedBytes: read.inspectedBytes, ...personalFlag };
  // the input is canonical (CRLF only, see mime/canonical.ts); a re-encoded part or a header block
  // mailsplit rebuilt must not add a bare line ending that a later library would rewrite. What is
  // passed through is a slice of the input, canonical already.
  const out: Segment[] = [];
  for (const seg of read.segments) {
    if (Buffer.isBuffer(seg)) out.push(toCanonical(seg));
    else if (!isTextPart(seg)) out.push(...sliceSegments(input, seg.start, seg.end));
    else if (seg.output) out.push(toCanonical(seg.output));
    else out.push(...sliceSegments(input, seg.body.start, seg.body.end));
  }
  return { output: compactSegments(out), findings, changed: true, inspectedBytes: read.inspectedBytes, ...personalFlag };
}

/** A text part the detectors read, and (after the decide stage) its bytes to write. */
interface TextPart {
  readonly kind: 'text';
  readonly part: string;
  readonly contentType: string;
  readonly encoding: TransferEncoding;
  /** Null for an inline message/rfc822, whose bytes the nested result gives. */
  readonly codec: TextCodec | null;
  readonly text: string;
  readonly candidates: readonly Candidate[];
  /** The inner message's own result, for an inline message/rfc822 (then text is unused). */
  readonly nested?: SegmentsResult;
  /** Where the part's body is in the input. */
  readonly body: Span;
  /** The part's body as it will be written, when an edit changed it; null: the input's bytes. */
  output: Buffer | null;
}

function isTextPart(seg: Buffer | Span | TextPart): seg is TextPart {
  return !Buffer.isBuffer(seg) && 'kind' in seg;
}

interface ReadMessage {
  /** The message in order: runs of the input passed through, header blocks rebuilt, the inspected parts. */
  readonly segments: (Buffer | Span | TextPart)[];
  readonly candidates: PlacedCandidate[];
  readonly headers: MessageHeaders;
  readonly headerFindings: Finding[];
  readonly inspectedBytes: number;
}

/** The splitter's chunks as the message streams through it; the input is read as they are consumed. */
async function* splitStream(input: Segments, limits: Limits): AsyncGenerator<SplitterChunk> {
  const source = segmentsStream(input);
  const splitter = splitterFor(limits);
  let sourceError: unknown = null;
  source.on('error', (err) => {
    sourceError = err;
    splitter.destroy(err);
  });
  source.pipe(splitter);
  try {
    for await (const chunk of splitter as AsyncIterable<SplitterChunk>) yield chunk;
  } catch (err) {
    // our own file could not be read: not the message's fault
    if (sourceError !== null || err instanceof SegmentReadError) throw new RelayError('FILTER_FAILED', 'message bytes could not be read back', { cause: err });
    throw splitError(err);
  } finally {
    source.destroy();
    splitter.destroy();
  }
}

async function readParts(input: Segments, ctx: ClassifyContext, analysers: readonly Analyser[], limits: Limits, prefix: string, depth: number, links?: MessageLinks): Promise<ReadMessage> {
  const segments: (Buffer | Span | TextPart)[] = [];
  const candidates: PlacedCandidate[] = [];
  let headers: MessageHeaders = NO_HEADERS;
  const headerFindings: Finding[] = [];
  const children = new Map<MimeNode, number>();
  let inspectedBytes = 0;
  /** Where the next chunk starts in the input: the splitter's chunks joined are the input. */
  let at = 0;
  /** The leaf whose body chunks are arriving; `held` only when it is inspected. */
  let leaf: { node: MimeNode; depth: number; start: number; held: Buffer[] | null; bytes: number } | null = null;

  const endLeaf = async (): Promise<void> => {
    if (!leaf) return;
    const l = leaf;
    leaf = null;
    const body: Span = { start: l.start, end: at };
    if (!l.held) {
      if (body.end > body.start) segments.push(body);
      return;
    }
    const part = await readPart(l.node, l.held, body, ctx, analysers, limits, prefix, l.depth, links);
    segments.push(part);
    // transparent codecs hand detectors one char per byte: readers of words (link text) need the charset
    const charset = part.codec?.transparent ? (part.codec.charset === 'iso-2022-jp' ? 'iso-2022-jp' : (l.node.charset || 'us-ascii').toLowerCase()) : null;
    for (const c of part.candidates) candidates.push({ part: part.part, contentType: part.contentType, charset, candidate: c });
  };

  for await (const chunk of splitStream(input, limits)) {
    if (chunk.type !== 'node') {
      const len = chunk.type === 'data' || chunk.type === 'body' ? chunk.value.length : 0;
      if (chunk.type === 'body' && leaf) {
        if (leaf.held) {
          leaf.bytes += len;
          inspectedBytes += len;
          // refused as soon as it is over the limit, before more of it is read into memory
          if (leaf.bytes > limits.maxTextPartBytes * 1.4) {
            const contentType = (leaf.node.contentType || 'text/plain').toLowerCase();
            throw new RelayError(
              'MESSAGE_TOO_BIG',
              `part ${prefix}${partNumber(leaf.node)}: ${contentType} part of more than ${leaf.bytes} bytes is over the ${limits.maxTextPartBytes}-byte inspection limit`,
            );
          }
          leaf.held.push(chunk.value);
        }
        at += len;
        continue;
      }
      await endLeaf();
      if (len > 0) segments.push({ start: at, end: at + len });
      at += len;
      continue;
    }
    await endLeaf();
    const node = chunk;
    // the header block as it came: its length places everything after it
    const original = node.getHeaders();
    if (node.root) {
      headers = headerView(node);
      if (depth === 0) for (const f of readReceiptHeaders(node, ctx)) headerFindings.push(f);
    }
    const rebuilt = node.getHeaders();
    segments.push(rebuilt === original ? { start: at, end: at + original.length } : rebuilt);
    at += original.length;
    if (node.parentNode) children.set(node.parentNode, (children.get(node.parentNode) ?? 0) + 1);
    const nodeDepth = depth + depthOf(node);
    if (nodeDepth > limits.maxDepth) throw new RelayError('MESSAGE_TOO_COMPLEX', `MIME nesting deeper than ${limits.maxDepth} levels`);
    if (node.multipart) {
      if (!node._boundary) throw new RelayError('MIME_MALFORMED', `part ${prefix}${partNumber(node)}: multipart/${node.multipart} without a boundary parameter; cannot find its parts`);
      children.set(node, children.get(node) ?? 0);
      continue;
    }
    // the node's body is the run of body chunks that follows it
    checkHeaders(node, prefix);
    leaf = { node, depth: nodeDepth, start: at, held: inspects(node) ? [] : null, bytes: 0 };
  }
  await endLeaf();
  // the pieces must add up to the input, or a range would point at the wrong bytes
  const total = segmentsLength(input);
  if (at !== total) throw new RelayError('FILTER_FAILED', `MIME split covered ${at} of ${total} bytes`);
  for (const [node, count] of children) {
    // a boundary that never occurs hides every part in the preamble, trackers included
    if (node.multipart && count === 0) throw new RelayError('MIME_MALFORMED', `part ${prefix}${partNumber(node)}: multipart/${node.multipart} whose boundary never occurs; cannot find its parts`);
  }
  return { segments, candidates, headers, headerFindings, inspectedBytes };
}

/** Refuse a leaf whose headers clients may read two ways (before anything about it is decided). */
function checkHeaders(node: MimeNode, prefix: string): void {
  // two Content-Type headers that disagree: a client may honour the one we did not inspect
  // compared as clients read them: "Content-Type:text/html" and "content-type: TEXT/HTML" agree,
  // and so do "7bit" and "7-bit" (both identity)
  const fields = node.headers ? headerView(node) : NO_HEADERS;
  const declared = new Set(fields.get('content-type').map((v) => v.split(';')[0]!.trim().toLowerCase()));
  if (declared.size > 1)
    throw new RelayError('MIME_MALFORMED', `part ${prefix}${partNumber(node)}: conflicting Content-Type headers (${[...declared].join(', ')}); cannot tell how clients will read it`);
  const encodings = new Set(fields.get('content-transfer-encoding').map((v) => canonicalTransferEncoding(v) ?? v.toLowerCase()));
  if (encodings.size > 1)
    throw new RelayError('MIME_MALFORMED', `part ${prefix}${partNumber(node)}: conflicting Content-Transfer-Encoding headers (${[...encodings].join(', ')}); cannot tell how clients will read it`);
}

/**
 * Whether the engine reads this leaf: inline parts a detector reads (HTML, text, CSS, AMP, SVG)
 * and inline forwarded messages. Everything else (attachments, images, an attached message,
 * which is evidence and stays byte-identical) is passed through unread.
 */
function inspects(node: MimeNode): boolean {
  if (node.disposition === 'attachment') return false;
  const contentType = (node.contentType || 'text/plain').toLowerCase();
  return contentType === 'message/rfc822' || contentType === 'message/global' || detectorFor(contentType) !== undefined;
}

/** Decode and detect one inspected leaf. */
async function readPart(
  node: MimeNode,
  bodyChunks: Buffer[],
  span: Span,
  ctx: ClassifyContext,
  analysers: readonly Analyser[],
  limits: Limits,
  prefix: string,
  depth: number,
  links?: MessageLinks,
): Promise<TextPart> {
  const contentType = (node.contentType || 'text/plain').toLowerCase();
  const part = prefix + partNumber(node);
  const isMessage = contentType === 'message/rfc822' || contentType === 'message/global';
  const body = bodyChunks.length === 1 ? bodyChunks[0]! : Buffer.concat(bodyChunks);
  bodyChunks.length = 0;
  const encoding = transferEncoding(node.encoding, part);
  const decoded = decodeBody(body, encoding, part);

  if (isMessage) {
    // the inner message is a message of its own: its own headers, its own analysis
    const nested = await rewriteAt([decoded], ctx, analysers, limits, `${part}.`, depth + 1, links);
    const output = nested.changed ? encodeBody(toCanonical(await segmentsToBuffer(nested.output)), encoding) : null;
    return { kind: 'text', part, contentType, encoding, codec: null, text: '', candidates: [], nested, body: span, output };
  }

  const codec = codecFor(node.charset, decoded, part);
  const text = codec.decode(decoded);
  const candidates = detectorFor(contentType)!.detect(codec.mask ? codec.mask(text) : text, { part });
  return { kind: 'text', part, contentType, encoding, codec, text, candidates, body: span, output: null };
}

/** Classify every candidate of a part (with the message-level hints), decide, and plan edits. */
function decidePart(p: TextPart, ctx: ClassifyContext, hints: Hints, links?: MessageLinks): { findings: Finding[]; edits: Edit[] } {
  const edits: Edit[] = [];
  const findings: Finding[] = [];
  // the gate needs the recipient's own link; a copy for several recipients keeps trackers as written
  const web: WebPolicy = { gate: Boolean(links?.gate && links.personal), ask: Boolean(links?.ask) };
  for (const c of p.candidates) {
    const v = classify(c, ctx, hints.get(c));
    if (!v) continue;
    let action = decide(c, v, ctx.consent, web);
    let edit = editFor(c, v, action, action === 'gate-link' || action === 'ask-link' ? webLink(c, v, action, links!) : undefined);
    if (action === 'gate-link' && !edit) {
      // no URL slot to point at the gate: consent lets the tracker stay as written
      action = 'keep';
      edit = null;
    }
    if (action !== 'keep' && !edit) {
      // nothing to rewrite the URL into: fall back to removing it rather than keeping a tracker
      action = fallback(c, v);
      edit = editFor(c, v, action);
    }
    if (edit) edits.push(edit);
    findings.push({
      kind: c.kind,
      technique: v.technique,
      ruleId: v.ruleId,
      vendor: v.vendor,
      part: p.part,
      span: [c.remove.start, c.remove.end],
      url: c.url,
      action,
      ...(action === 'unwrap-link' && v.destination ? { replacement: v.destination } : {}),
      ...(action === 'strip-params' && v.cleaned ? { replacement: v.cleaned, params: v.params ?? [] } : {}),
      ...(v.note && (action !== 'unwrap-link' || v.ruleId.startsWith('heuristic.')) ? { note: v.note } : {}),
      ...(v.auditUrl ? { auditUrl: v.auditUrl } : {}),
    });
  }
  return { findings, edits };
}

/** The gate or ask URL standing in for this tracker. */
function webLink(c: Candidate, v: Verdict, action: 'gate-link' | 'ask-link', links: MessageLinks): string {
  const destination = v.destination ?? v.cleaned;
  const target: GateTarget = { url: c.url, kind: c.kind === 'open' ? 'pixel' : 'link', ...(destination ? { destination } : {}), ...(v.vendor ? { vendor: v.vendor } : {}) };
  return action === 'gate-link' ? links.personal!.gate(target) : links.ask!(target);
}

const NO_HEADERS: MessageHeaders = { get: () => [] };

/** A message's header fields by name, values only ("Name:" and folding removed). */
function headerView(node: MimeNode): MessageHeaders {
  const h = node.headers;
  if (!h) return NO_HEADERS;
  return {
    get: (name) =>
      h.get(name).map((line) =>
        line
          .slice(line.indexOf(':') + 1)
          .replace(/\r?\n[ \t]+/g, ' ')
          .trim(),
      ),
  };
}

const READ_RECEIPT_HEADERS = ['disposition-notification-to', 'return-receipt-to', 'x-confirm-reading-to'];

/**
 * Read-receipt requests ask the recipient's client to ask the recipient: not tracking in the
 * ePrivacy sense, so kept by default; `policy.readReceipts: remove` removes them without opens consent.
 */
function readReceiptHeaders(node: MimeNode, ctx: ClassifyContext): Finding[] {
  if (ctx.policy.readReceipts !== 'remove' || ctx.consent.opens || !node.headers) return [];
  const headers = node.headers;
  const found: Finding[] = [];
  for (const key of READ_RECEIPT_HEADERS) {
    if (!headers.get(key).length) continue;
    headers.remove(key);
    found.push({ kind: 'open', technique: 'read-receipt', ruleId: `header.${key}`, vendor: null, part: 'header', span: [0, 0], url: '', action: 'remove-header' });
  }
  return found;
}
