/**
 * The pages: plain HTML, one form each, no script, readable by screen readers (a lang attribute,
 * one h1, real buttons) and in any browser. Every text comes from the wording (wording.ts); the
 * lines a confirmation page shows are returned with it, so the POST can record exactly them.
 */
import type { Wording } from './wording.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `body{font:1.05rem/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a;background:#fff}
h1{font-size:1.5rem}button{font:inherit;padding:.6rem 1.2rem;margin:.5rem .5rem 0 0;border:2px solid #1a1a1a;border-radius:.3rem;background:#fff;cursor:pointer}
button.primary{background:#1a1a1a;color:#fff}button:focus{outline:3px solid #0a66c2;outline-offset:2px}form{display:inline}
.note{padding:.6rem;border-left:4px solid #b35900;background:#fff4e5}`;

export function layout(w: Wording, title: string, body: string): string {
  return `<!doctype html>
<html lang="${escapeHtml(w.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

export interface FormButton {
  readonly name: string;
  readonly value: string;
  readonly label: string;
  readonly primary?: boolean;
}

/** A POST form back to the same URL; `version` lets the POST tell whether the wording changed since. */
export function form(version: string, buttons: readonly FormButton[]): string {
  const b = buttons.map((x) => `<button type="submit" name="${escapeHtml(x.name)}" value="${escapeHtml(x.value)}"${x.primary ? ' class="primary"' : ''}>${escapeHtml(x.label)}</button>`).join('\n');
  return `<form method="post">
<input type="hidden" name="wording" value="${escapeHtml(version)}">
${b}
</form>`;
}

export function paragraphs(...texts: string[]): string {
  return texts.map((t) => `<p>${escapeHtml(t)}</p>`).join('\n');
}
