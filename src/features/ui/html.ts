// Building HTML safely: a tagged template that escapes every interpolated value unless it is
// already markup made by this template, and the page frame every UI page shares. No inline
// scripts or styles, so the UI's Content-Security-Policy allows only this origin's files.

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escape(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);
}

function part(v: unknown): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === null || v === undefined || v === false) return '';
  return escape(v);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1]!;
  return new Html(out);
}

export interface Frame {
  title: string;
  user?: { name: string; roles: string[]; readOnly: boolean; csrf: string } | null;
  /** Page scripts, at the end of the body so a boosted (htmx) navigation runs them too. */
  scripts?: string[];
}

/** The page frame: nav, the signed-in user and sign-out, htmx sending the CSRF token. */
export function page(f: Frame, body: Html): string {
  const u = f.user;
  const headers = u ? JSON.stringify({ 'x-csrf-token': u.csrf }) : null;
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${f.title} · shipgate</title>
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"responseHandling":[{"code":"204","swap":false},{"code":"[2345]..","swap":true}]}'>
<link rel="stylesheet" href="/ui/assets/uplot.min.css"><link rel="stylesheet" href="/ui/assets/ui.css">
<script src="/ui/assets/htmx.min.js" defer></script>
</head><body hx-boost="true" ${u ? new Html(`hx-headers='${escape(headers)}'`) : ''}>
<header><a class="brand" href="/ui">shipgate</a>
${u ? html`<nav><a href="/ui">Awaiting me</a><a href="/ui/board">Board</a><a href="/ui/audit">Audit log</a><a href="/ui/metrics">Metrics</a></nav>
<span class="who">${u.name} <small>(${u.roles.join(', ') || 'no roles'}${u.readOnly ? ', read-only' : ''})</small></span>
<form method="post" action="/ui/auth/logout" class="inline"><input type="hidden" name="_csrf" value="${u.csrf}"><button type="submit">Sign out</button></form>` : ''}
</header>
<main><h1>${f.title}</h1>${body}</main>
${(f.scripts ?? []).map((s) => html`<script src="${s}"></script>`)}</body></html>`.text}`;
}
