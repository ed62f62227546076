/**
 * The YAML parser, loaded on first use. With the rule artefacts current (src/rewrite/rules/artefact.ts)
 * `scan` without a config file and the engine's worker threads never load it, which is ~25 ms of
 * each start on an idle machine.
 */
import { createRequire } from 'node:module';

type YamlModule = typeof import('yaml');
let yaml: YamlModule | null = null;

function load(): YamlModule {
  yaml ??= createRequire(import.meta.url)('yaml') as YamlModule;
  return yaml;
}

export function parseYaml(text: string, options?: { readonly uniqueKeys?: boolean }): unknown {
  return options ? load().parse(text, { ...options }) : load().parse(text);
}
