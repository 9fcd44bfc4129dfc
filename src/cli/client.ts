// The CLI talks to shipgate in one of two ways: straight to the local store, or to a server
// over HTTP. Both answer with the same JSON shapes, so the commands do not care which.
import type { Actor, DeploymentRequest, RegisterInput, ReportInput, Shipgate } from '../app/shipgate.js';
import { ShipgateError, type ErrorCode } from '../errors.js';

export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Client {
  registerRelease(input: RegisterInput): Promise<Json>;
  attachReports(service: string, version: string, reports: ReportInput[]): Promise<Json>;
  listReleases(service?: string): Promise<Json>;
  getRelease(service: string, version: string): Promise<Json>;
  verify(service: string, version: string, environment: string, note?: string): Promise<Json>;
  check(req: DeploymentRequest): Promise<Json>;
  request(req: DeploymentRequest): Promise<Json>;
  list(filter: { service?: string; environment?: string; state?: string; limit?: number }): Promise<Json>;
  get(id: number): Promise<Json>;
  refresh(id: number): Promise<Json>;
  decide(id: number, body: { decision: 'approve' | 'reject'; comment?: string; role?: string }): Promise<Json>;
  tick(id: number, item: string, note?: string): Promise<Json>;
  cancel(id: number, reason: string): Promise<Json>;
  start(id: number): Promise<Json>;
  rolloutAction(id: number, action: 'resume' | 'abort', reason?: string): Promise<Json>;
  complete(id: number, outcome: 'succeeded' | 'failed', reason?: string): Promise<Json>;
  status(): Promise<Json>;
  auditEvents(q: { after?: number; limit?: number; subject?: string }): Promise<Json>;
  auditVerify(): Promise<Json>;
  auditExport(write: (chunk: string) => void): Promise<void>;
  close(): Promise<void>;
}

/** Works on the store directly, acting as the named user. */
export class LocalClient implements Client {
  constructor(
    private readonly app: Shipgate,
    private readonly actor: Actor,
  ) {}

  async registerRelease(input: RegisterInput) {
    return this.app.registerRelease(this.actor, input);
  }
  async attachReports(service: string, version: string, reports: ReportInput[]) {
    return { release: await this.app.attachReports(this.actor, service, version, reports) };
  }
  async listReleases(service?: string) {
    return { releases: await this.app.listReleases(service) };
  }
  async getRelease(service: string, version: string) {
    const release = await this.app.getRelease(service, version);
    return { release, verifications: await this.app.verificationsOf(release.id) };
  }
  async verify(service: string, version: string, environment: string, note?: string) {
    const release = await this.app.verifyRelease(this.actor, service, version, environment, note);
    return { release, verifications: await this.app.verificationsOf(release.id) };
  }
  async check(req: DeploymentRequest) {
    return { gate: await this.app.check(this.actor, req) };
  }
  async request(req: DeploymentRequest) {
    const { view, gate } = await this.app.requestDeployment(this.actor, req);
    return { ...view, gate };
  }
  async list(filter: { service?: string; environment?: string; state?: string; limit?: number }) {
    const states = filter.state ? (filter.state.split(',') as never[]) : undefined;
    return { deployments: await this.app.listDeployments({ ...filter, states }) };
  }
  get(id: number) {
    return this.app.getDeployment(id);
  }
  async refresh(id: number) {
    const { view, gate } = await this.app.refresh(this.actor, id);
    return { ...view, gate };
  }
  async decide(id: number, body: { decision: 'approve' | 'reject'; comment?: string; role?: string }) {
    const { view, gate } = await this.app.decide(this.actor, id, body);
    return { ...view, gate };
  }
  tick(id: number, item: string, note?: string) {
    return this.app.tick(this.actor, id, item, note);
  }
  cancel(id: number, reason: string) {
    return this.app.cancel(this.actor, id, reason);
  }
  rolloutAction(id: number, action: 'resume' | 'abort', reason?: string) {
    return this.app.requestRolloutAction(this.actor, id, action, reason ?? null);
  }
  start(id: number) {
    return this.app.start(this.actor, id);
  }
  complete(id: number, outcome: 'succeeded' | 'failed', reason?: string) {
    return this.app.complete(this.actor, id, outcome, reason);
  }
  async status() {
    return { status: await this.app.status() };
  }
  async auditEvents(q: { after?: number; limit?: number; subject?: string }) {
    return { events: await this.app.auditEvents({ afterSeq: q.after, limit: q.limit, subject: q.subject }) };
  }
  async auditVerify() {
    return { result: await this.app.verifyAudit() };
  }
  async auditExport(write: (chunk: string) => void) {
    await this.app.exportAudit({ write });
  }
  close() {
    return this.app.database.close();
  }
}

/** Talks to `shipgate serve` with an API token. */
export class HttpClient implements Client {
  private readonly base: string;
  constructor(
    baseUrl: string,
    private readonly token: string,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async call(method: string, path: string, body?: unknown): Promise<Json> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      throw new ShipgateError('store_error', `cannot reach the shipgate server at ${this.base}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: Json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // fall through: reported below with the status
    }
    if (!res.ok) {
      const code = (json?.error?.code as ErrorCode) ?? (res.status >= 500 ? 'internal' : 'bad_request');
      throw new ShipgateError(code, json?.error?.message ?? `server answered ${res.status}`, json?.error?.details);
    }
    return json;
  }

  private static q(params: Record<string, string | number | undefined>): string {
    const entries = Object.entries(params).filter(([, v]) => v !== undefined) as [string, string | number][];
    return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : '';
  }

  registerRelease(input: RegisterInput) {
    return this.call('POST', '/api/v1/releases', input);
  }
  attachReports(service: string, version: string, reports: ReportInput[]) {
    return this.call('POST', `/api/v1/releases/${enc(service)}/${enc(version)}/reports`, { reports });
  }
  listReleases(service?: string) {
    return this.call('GET', `/api/v1/releases${HttpClient.q({ service })}`);
  }
  getRelease(service: string, version: string) {
    return this.call('GET', `/api/v1/releases/${enc(service)}/${enc(version)}`);
  }
  verify(service: string, version: string, environment: string, note?: string) {
    return this.call('POST', `/api/v1/releases/${enc(service)}/${enc(version)}/verifications`, { environment, note });
  }
  check(req: DeploymentRequest) {
    return this.call('POST', '/api/v1/check', clean(req));
  }
  request(req: DeploymentRequest) {
    return this.call('POST', '/api/v1/deployments', clean(req));
  }
  list(filter: { service?: string; environment?: string; state?: string; limit?: number }) {
    return this.call('GET', `/api/v1/deployments${HttpClient.q(filter)}`);
  }
  get(id: number) {
    return this.call('GET', `/api/v1/deployments/${id}`);
  }
  refresh(id: number) {
    return this.call('POST', `/api/v1/deployments/${id}/refresh`, {});
  }
  decide(id: number, body: { decision: 'approve' | 'reject'; comment?: string; role?: string }) {
    return this.call('POST', `/api/v1/deployments/${id}/approvals`, clean(body));
  }
  tick(id: number, item: string, note?: string) {
    return this.call('POST', `/api/v1/deployments/${id}/checklist/${enc(item)}`, clean({ note }));
  }
  cancel(id: number, reason: string) {
    return this.call('POST', `/api/v1/deployments/${id}/cancel`, { reason });
  }
  rolloutAction(id: number, action: 'resume' | 'abort', reason?: string) {
    return action === 'abort'
      ? this.call('POST', `/api/v1/deployments/${id}/rollback`, { reason: reason ?? '' })
      : this.call('POST', `/api/v1/deployments/${id}/resume`, {});
  }
  start(id: number) {
    return this.call('POST', `/api/v1/deployments/${id}/start`, {});
  }
  complete(id: number, outcome: 'succeeded' | 'failed', reason?: string) {
    return this.call('POST', `/api/v1/deployments/${id}/complete`, clean({ outcome, reason }));
  }
  status() {
    return this.call('GET', '/api/v1/status');
  }
  auditEvents(q: { after?: number; limit?: number; subject?: string }) {
    return this.call('GET', `/api/v1/audit${HttpClient.q(q)}`);
  }
  auditVerify() {
    return this.call('GET', '/api/v1/audit/verify');
  }
  async auditExport(write: (chunk: string) => void) {
    const res = await fetch(`${this.base}/api/v1/audit/export`, { headers: { authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new ShipgateError('bad_request', `server answered ${res.status} to the audit export`);
    write(await res.text());
  }
  async close() {}
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;
}
