/**
 * Builds dist/ once before the suite, so the tests that run the real CLI (bin/consent-relay.js)
 * exercise exactly what users run. `npm test` builds first as well; this covers `npx vitest`.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  // the rest of `npm run build`: the compiled rule tables (dist/rules/), as users get them
  execFileSync(process.execPath, [join(root, 'dist', 'src', 'build', 'rules.js')], { cwd: root, stdio: 'ignore' });
}
