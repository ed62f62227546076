import { cssDetector } from './css.js';
import { htmlDetector } from './html.js';
import { textDetector } from './text.js';
import type { Detector } from './types.js';

/** The detectors, in the order they run. Adding one is adding it here. */
const DETECTORS: readonly Detector[] = [htmlDetector, textDetector, cssDetector];

const BY_TYPE = new Map<string, Detector>();
for (const d of DETECTORS) for (const t of d.contentTypes) BY_TYPE.set(t, d);

export function detectorFor(contentType: string): Detector | undefined {
  return BY_TYPE.get(contentType.toLowerCase());
}
