#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, which `prepare` runs on `npm ci`).
import('../dist/src/cli/main.js')
  .then((m) => m.main(process.argv))
  .catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
      process.stderr.write('consent-relay: not built yet; run `npm run build` (or `npm ci`) in the package directory\n');
    } else {
      process.stderr.write(`consent-relay: ${err?.stack ? err.stack : err}\n`);
    }
    process.exit(70);
  });
