// The UI's page bodies: plain functions from what the services answered to markup. What a
// person may do (the buttons) is decided by the caller and passed in; the services still
// enforce it when the form is posted.
import type { AuditEvent, VerifyResult } from '../audit/chain.js';
import type { GateResult } from '../../domain/gate.js';
import type { ChecklistItem, Release } from '../../domain/types.js';
import type { DeploymentView } from '../deployments/service.js';
import type { StatusCell } from '../status/service.js';
import { type Figure, type Figures, formatFigure } from '../../domain/figures.js';
import { Html, html } from './html.js';

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

export function signIn(opts: { oidc: boolean; token: boolean; error?: string | null }): Html {
  return html`${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ''}
${opts.oidc ? html`<p><a class="button primary" href="/ui/auth/oidc" hx-boost="false">Sign in with your identity provider</a></p>` : ''}
${opts.token
    ? html`<form method="post" action="/ui/auth/token" class="card" hx-boost="false"><label>shipgate API token <input type="password" name="token" autocomplete="off" required></label><button type="submit">Sign in with a token</button></form>`
    : ''}
${!opts.oidc && !opts.token ? html`<p>No sign-in method is configured (ui.oidc or ui.token_sign_in).</p>` : ''}`;
}

export interface Abilities {
  csrf: string;
  approve: boolean;
  tick: boolean;
  /** May roll this deployment back once its rollout runs (the form is on the page from approval). */
  rollback: boolean;
  /** The rollout runs now: the Roll back form shows (live-rollout.js shows and hides it after). */
  rollbackNow: boolean;
}

function checks(gate: GateResult | null, stored: DeploymentView['deployment']['checks']): Html {
  const list = gate?.checks ?? stored;
  if (!list.length) return html`<p class="muted">No gate checks recorded.</p>`;
  return html`<table class="checks"><thead><tr><th>check</th><th>status</th><th>why</th></tr></thead><tbody>${list.map(
    (c) => html`<tr class="check-${c.status}"><td>${c.id}</td><td><span class="status ${c.status}">${c.status}</span></td><td>${c.reason}${c.passesAt ? html` <small>(passes at ${c.passesAt})</small>` : ''}</td></tr>`,
  )}</tbody></table>`;
}

function reports(r: Release): Html {
  if (!r.reports.length) return html`<p class="muted">No scan or test reports attached.</p>`;
  return html`<ul class="reports">${r.reports.map((x) => {
    const figures = x.vulnerabilities
      ? Object.entries(x.vulnerabilities)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')
      : x.tests
        ? `${x.tests.total} tests, ${x.tests.failures} failures, ${x.tests.errors} errors, ${x.tests.skipped} skipped`
        : '';
    return html`<li><strong>${x.kind}</strong> ${x.name} (${x.format}): ${figures}</li>`;
  })}</ul>`;
}

function diff(view: DeploymentView, running: Release | null): Html {
  const r = view.release;
  if (!running) return html`<p class="muted">Nothing runs in ${view.deployment.environment} yet: this is the first deployment there.</p>`;
  return html`<table class="diff"><thead><tr><th></th><th>running now</th><th>this deployment</th></tr></thead><tbody>
<tr><td>version</td><td>${running.version}</td><td>${r.version}</td></tr>
<tr><td>digest</td><td><code>${short(running.digest)}</code></td><td><code>${short(r.digest)}</code></td></tr>
<tr><td>commit</td><td><code>${running.commit}</code></td><td><code>${r.commit}</code></td></tr>
</tbody></table>`;
}

function decisionForms(id: number, can: Abilities): Html {
  if (!can.approve) return html``;
  return html`<div class="decide">
<form method="post" action="/ui/deployments/${id}/approve"><input type="hidden" name="_csrf" value="${can.csrf}"><input name="comment" placeholder="comment (optional)" aria-label="comment"><button type="submit" class="primary" data-action="approve">Approve</button></form>
<form method="post" action="/ui/deployments/${id}/reject"><input type="hidden" name="_csrf" value="${can.csrf}"><input name="comment" placeholder="reason (required)" aria-label="reason" required><button type="submit" class="danger" data-action="reject">Reject</button></form>
</div>`;
}

function checklist(id: number, items: ChecklistItem[], view: DeploymentView, can: Abilities): Html {
  if (!items.length) return html``;
  return html`<h3>Readiness checklist</h3><ul class="checklist">${items.map((it) => {
    const t = view.ticks.find((x) => x.item === it.id);
    if (t) return html`<li>✔ ${it.text} <small>ticked by ${t.user} at ${t.at}</small></li>`;
    if (it.evidence) return html`<li>${it.text} <small>(satisfied by an attached ${it.evidence} report)</small></li>`;
    return html`<li>☐ ${it.text} ${can.tick ? html`<form method="post" action="/ui/deployments/${id}/tick/${it.id}" class="inline"><input type="hidden" name="_csrf" value="${can.csrf}"><button type="submit">Tick</button></form>` : ''}</li>`;
  })}</ul>`;
}

/** One deployment as an approver needs to see it: what, who asked, what changes, why the gate says so. */
export function deploymentCard(view: DeploymentView, gate: GateResult | null, running: Release | null, items: ChecklistItem[], can: Abilities): Html {
  const d = view.deployment;
  const r = view.release;
  return html`<article class="card deployment" data-id="${d.id}">
<h2><a href="/ui/deployments/${d.id}">#${d.id} ${d.service} ${r.version} → ${d.environment}</a> <span class="state ${d.state}">${d.state}</span>${d.type === 'hotfix' ? html` <span class="flag">HOTFIX ${d.incident}</span>` : ''}</h2>
<dl><dt>digest</dt><dd><code>${r.digest}</code></dd><dt>commit</dt><dd><code>${r.commit}</code></dd><dt>asked by</dt><dd>${d.requestedBy} at ${d.requestedAt}</dd>
${view.waitingFor ? html`<dt>waiting for</dt><dd>${view.waitingFor}</dd>` : ''}${d.reason ? html`<dt>reason</dt><dd>${d.reason}</dd>` : ''}</dl>
<h3>Running now</h3>${diff(view, running)}
<h3>Gate</h3>${gate ? html`<p>${gate.summary}</p>` : ''}${checks(gate, d.checks)}
<h3>Reports</h3>${reports(r)}
${view.approvals.length ? html`<h3>Decisions</h3><ul>${view.approvals.map((a) => html`<li>${a.decision} by ${a.user} (${a.role}, ${a.authMethod}) at ${a.at}${a.comment ? html`: ${a.comment}` : ''}${a.lapsedAt ? ' (lapsed)' : ''}</li>`)}</ul>` : ''}
${checklist(d.id, items, view, can)}
${decisionForms(d.id, can)}
</article>`;
}

export function inbox(cards: Html[]): Html {
  if (!cards.length) return html`<p class="empty">Nothing awaits your approval.</p>`;
  return html`${cards}`;
}

export function board(cells: StatusCell[], services: string[], environments: string[]): Html {
  const at = (s: string, e: string) => cells.find((c) => c.service === s && c.environment === e);
  return html`<table class="board"><thead><tr><th>service</th>${environments.map((e) => html`<th>${e}</th>`)}</tr></thead><tbody>${services.map(
    (s) =>
      html`<tr><th>${s}</th>${environments.map((e) => {
        const c = at(s, e);
        return html`<td>${c?.current ? html`<div class="current">${c.current.version} <code>${short(c.current.digest)}</code></div>` : html`<div class="muted">nothing yet</div>`}
${c?.open ? html`<div class="open"><a href="/ui/deployments/${c.open.id}">#${c.open.id} ${c.open.version}</a> <span class="state ${c.open.state}">${c.open.state}</span>${c.open.waitingFor ? html`<small>${c.open.waitingFor}</small>` : ''}</div>` : ''}
${c?.rollbackFailed ? html`<div class="error">rollback of #${c.rollbackFailed.id} failed: ${c.rollbackFailed.reason}</div>` : ''}</td>`;
      })}</tr>`,
  )}</tbody></table>`;
}

/** The rollout part of a deployment page: filled and kept current by live-rollout.js from the SSE stream. */
export function rolloutPanel(id: number, can: Abilities, live: boolean): Html {
  return html`<section class="card rollout" id="rollout" data-events="/ui/deployments/${id}/events" data-live="${live ? 'yes' : 'no'}">
<h2>Rollout</h2>
<div class="split"><div class="bar"><span class="stable-part" id="stable-bar"></span><span class="canary-part" id="canary-bar"></span></div>
<p><span id="phase">…</span> · step <span id="step">…</span> · canary weight <strong id="weight">…</strong>% · stable <span id="stable-weight">…</span>%</p></div>
<div class="charts"><figure><figcaption>error rate (canary vs stable)</figcaption><div id="chart-errors"></div></figure>
<figure><figcaption>latency, geometric mean ms (canary vs stable)</figcaption><div id="chart-latency"></div></figure></div>
<h3>Verdict</h3><ul id="reasons"><li class="muted">no verdict yet</li></ul>
<h3>Smoke tests</h3><ul id="smoke"><li class="muted">none run yet</li></ul>
<div id="rollback-timing"></div>
${can.rollback
    ? html`<form method="post" action="/ui/deployments/${id}/rollback" id="rollback-form"${can.rollbackNow ? '' : ' hidden'}><input type="hidden" name="_csrf" value="${can.csrf}"><input name="reason" placeholder="why roll back (required)" aria-label="rollback reason" required><button type="submit" class="danger">Roll back</button></form>`
    : ''}
</section>`;
}

export function audit(events: AuditEvent[], verified: VerifyResult, filter: { subject: string; action: string; actor: string }, next: number | null): Html {
  const status = verified.ok
    ? html`<p class="ok" id="chain">Chain intact: ${verified.events} events, last #${verified.lastSeq} <code>${verified.lastHash.slice(0, 16)}</code></p>`
    : html`<p class="error" id="chain">Chain BROKEN: ${JSON.stringify(verified.problem)}</p>`;
  const q = (k: string, v: string) => (v ? `&${k}=${encodeURIComponent(v)}` : '');
  return html`${status}
<form method="get" action="/ui/audit" class="filters"><input name="subject" value="${filter.subject}" placeholder="subject, e.g. deployment:3" aria-label="subject"><input name="action" value="${filter.action}" placeholder="action, e.g. approval.approved" aria-label="action"><input name="actor" value="${filter.actor}" placeholder="actor" aria-label="actor"><button type="submit">Filter</button></form>
<table class="audit"><thead><tr><th>#</th><th>at</th><th>actor</th><th>action</th><th>subject</th><th>data</th></tr></thead><tbody>${events.map(
    (e) => html`<tr><td>${e.seq}</td><td>${e.at}</td><td>${e.actor}</td><td>${e.action}</td><td><a href="/ui/audit?subject=${encodeURIComponent(e.subject)}">${e.subject}</a></td><td><code>${JSON.stringify(e.data)}</code></td></tr>`,
  )}</tbody></table>
${events.length === 0 ? html`<p class="empty">No events match.</p>` : ''}
${next !== null ? html`<p><a href="/ui/audit?after=${next}${q('subject', filter.subject)}${q('action', filter.action)}${q('actor', filter.actor)}">Later events →</a></p>` : ''}`;
}

/** The deployment figures: a filter, the charts (drawn by metrics-charts.js from the data the
 * containers carry), each figure beside its definition, and where the failures were caught. */
export function metrics(m: Figures, filter: { service: string; env: string; since: string }, services: string[], environments: string[]): Html {
  const series = JSON.stringify({ days: m.perDay.map((d) => d.day), succeeded: m.perDay.map((d) => d.succeeded), failed: m.perDay.map((d) => d.failed) });
  const option = (v: string, current: string, label = v) => html`<option value="${v}"${v === current ? new Html(' selected') : ''}>${label}</option>`;
  const split = m.rollbacks;
  return html`<form method="get" action="/ui/metrics" class="filters">
<select name="service" aria-label="service">${option('', filter.service, 'all services')}${services.map((s) => option(s, filter.service))}</select>
<select name="env" aria-label="environment">${environments.map((e) => option(e, filter.env))}</select>
<input name="since" value="${filter.since}" aria-label="since" placeholder="30d, 12h, 2w or 2026-11-01"><button type="submit">Show</button></form>
<p id="window">${m.environment}${m.service ? ` · ${m.service}` : ' · all services'} · ${m.since.slice(0, 10)} → ${m.now.slice(0, 10)} (${m.days} days) · ${m.deployed} reached ${m.environment}, ${m.finished} ended</p>
<div class="charts" id="metrics-charts" data-series="${series}">
<figure><figcaption>deployments per day (succeeded, failed)</figcaption><div id="chart-deploys"></div></figure>
<figure><figcaption>change failure rate per day (failed / ended)</figcaption><div id="chart-failure-rate"></div></figure></div>
<table class="figures"><thead><tr><th>figure</th><th>value</th><th>definition</th></tr></thead><tbody>${m.figures.map(
    (f: Figure) => html`<tr data-figure="${f.id}"><td>${f.name}${f.family === 'dora' ? html` <small>DORA</small>` : ''}</td><td>${formatFigure(f)}</td><td class="muted">${f.definition}</td></tr>`,
  )}</tbody></table>
<h2>Where failures were caught</h2>
<p id="caught"><strong>${split.canaryCaught}</strong> caught by the canary before 100% · <strong>${split.reachedFull}</strong> reached 100%</p>
<p class="muted">${split.definition}</p>
${split.deployments.length
    ? html`<ul>${split.deployments.map((r) => html`<li><a href="/ui/deployments/${r.id}">#${r.id} ${r.service}</a> ${r.state}: ${r.caught === 'canary' ? `caught by the canary at ${r.weight}%` : `reached 100%${r.trigger ? ` (${r.trigger})` : ''}`}</li>`)}</ul>`
    : ''}`;
}
