/** Test-side view of a message: see src/mime/leaves.ts. */
export { decodedText, leaves, type Leaf } from '../../src/mime/leaves.js';
