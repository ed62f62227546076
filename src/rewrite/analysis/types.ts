/**
 * Message-level analysis: the stage between detection (per part) and classification (per
 * candidate). An analyser sees every candidate of a message at once, plus the message's headers,
 * and may say things about single candidates that no single URL shows: "this link is the
 * List-Unsubscribe target", "these 40 links share one redirector template", "this position varied
 * between two recipients' copies of the campaign". It only returns hints; classification decides.
 */
import type { Candidate, ClassifyContext } from '../detectors/types.js';
import type { Verdict } from '../types.js';

/** A candidate with the part it was found in. */
export interface PlacedCandidate {
  /** IMAP-style part number of the text part. */
  readonly part: string;
  /** Lower-case MIME type of that part (text/html, text/plain, text/css, ...). */
  readonly contentType: string;
  /**
   * The part's declared charset when its text reached the detectors one char per byte (ASCII-
   * compatible charsets are edited as Latin-1), so that words such as link text can be read with
   * it; null when the text is already Unicode.
   */
  readonly charset: string | null;
  readonly candidate: Candidate;
}

/** The top-level header fields analysers may read (unfolded, as written; never logged). */
export interface MessageHeaders {
  get(name: string): readonly string[];
}

/** A decoded text part of the message (never logged). */
export interface PartText {
  readonly part: string;
  /** Lower-case MIME type. */
  readonly contentType: string;
  readonly text: string;
}

export interface MessageView {
  readonly candidates: readonly PlacedCandidate[];
  readonly headers: MessageHeaders;
  readonly ctx: ClassifyContext;
  /** The inspected text parts, in message order (the campaign key reads the HTML's tag sequence). */
  readonly texts?: readonly PartText[];
}

/**
 * What an analyser concludes about one candidate. `protect`: the recipient needs this link to
 * work as written (unsubscribe, preferences, view online): it is never modified, whatever else
 * says it tracks. `verdict`: the candidate tracks, with the rule id (`heuristic.*`/`campaign.*`)
 * and evidence that goes into the finding's note.
 */
export interface Hint {
  readonly protect?: string;
  readonly verdict?: Verdict;
}

export type Hints = ReadonlyMap<Candidate, Hint>;

/** Every message-level analyser has this shape. Pure but for the stores it was built with. */
export interface Analyser {
  readonly id: string;
  analyse(view: MessageView): Hints | Promise<Hints>;
}
