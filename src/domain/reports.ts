// Reports attached to a release, read for what the gate needs: vulnerability counts by
// severity from a scan (SARIF, Trivy JSON, Grype JSON, npm audit JSON) and test totals from
// JUnit XML. Pure: content in, summary out; a report that cannot be read is an InputError
// naming the file, never a silent zero.
//
// Severity mapping (case-insensitive; anything else counts as `unknown`):
// - Trivy: CRITICAL/HIGH/MEDIUM/LOW/UNKNOWN as given.
// - Grype: Critical/High/Medium/Low; Negligible → low; Unknown → unknown.
// - npm audit: critical/high; moderate → medium; low; info → low (an advisory, still a finding).
//   v2 (npm 7+) counts `vulnerabilities` entries (one per package), v1 counts `advisories`.
// - SARIF, per result, first that applies: the rule's `security-severity` (CVSS score, as
//   GitHub code scanning reads it: ≥ 9 critical, ≥ 7 high, ≥ 4 medium, > 0 low); a severity
//   word in the result's or rule's properties (`severity`, or a tag such as "HIGH");
//   the result's `level` (error → high, warning → medium, note → low, none → unknown; absent
//   → the rule's default level → "warning", as the SARIF spec says).
import { InputError } from '../errors.js';
import { SEVERITIES, type ReportKind, type ReportSummary, type Severity, type VulnCounts } from './types.js';

export interface ReportInput {
  name: string;
  content: string;
  kind?: ReportKind;
  format?: string;
}

export const SCAN_FORMATS = ['sarif', 'trivy', 'grype', 'npm-audit'] as const;
export const TEST_FORMATS = ['junit'] as const;

type Json = Record<string, unknown>;

export function summarizeReport(input: ReportInput, sha256: string): ReportSummary {
  const { name, content } = input;
  if (content.trim() === '') throw new InputError(`report '${name}' is empty`);
  const format = input.format ?? detectFormat(input);
  if (input.kind === 'tests' && format !== 'junit') {
    throw new InputError(`report '${name}' was attached as a test report, but it is ${describe(format)}; test reports are JUnit XML`);
  }
  if (input.kind === 'scan' && format === 'junit') {
    throw new InputError(`report '${name}' was attached as a scan, but it is JUnit XML; attach it with --tests`);
  }
  if (format === 'junit') {
    return { kind: 'tests', format, name, sha256, tests: junitTotals(name, content) };
  }
  if (!(SCAN_FORMATS as readonly string[]).includes(format)) {
    throw new InputError(`report '${name}': unknown format '${format}'; known: ${[...SCAN_FORMATS, ...TEST_FORMATS].join(', ')}`);
  }
  const doc = parseJson(name, content);
  const shape = scanFormatOf(doc);
  if (shape !== format) {
    throw new InputError(`report '${name}' is not ${describe(format)}: ${shape ? `it looks like ${describe(shape)}` : 'its fields are not that format\'s'}`);
  }
  const vulnerabilities = scanCounts(name, format as (typeof SCAN_FORMATS)[number], doc);
  return { kind: 'scan', format, name, sha256, vulnerabilities };
}

function describe(format: string): string {
  return format === 'sarif' ? 'SARIF' : format === 'trivy' ? 'a Trivy scan' : format === 'grype' ? 'a Grype scan' : format === 'npm-audit' ? 'an npm audit report' : `'${format}'`;
}

// ---- detection ---------------------------------------------------------------------------------

function detectFormat(input: ReportInput): string {
  const head = input.content.trimStart();
  if (head.startsWith('<')) return 'junit';
  const doc = parseJson(input.name, input.content);
  const format = scanFormatOf(doc);
  if (!format) {
    throw new InputError(
      `report '${input.name}' is JSON but not a recognised scan (SARIF, Trivy JSON, Grype JSON or npm audit JSON) or JUnit XML`,
    );
  }
  return format;
}

function scanFormatOf(doc: unknown): (typeof SCAN_FORMATS)[number] | null {
  if (Array.isArray(doc)) {
    // Trivy before schema v2 wrote a bare array of results.
    return doc.every((r) => isObject(r) && ('Target' in r || 'Vulnerabilities' in r)) && doc.length > 0 ? 'trivy' : null;
  }
  if (!isObject(doc)) return null;
  if (Array.isArray(doc.runs) && (typeof doc.version === 'string' || typeof doc.$schema === 'string')) return 'sarif';
  if ('SchemaVersion' in doc || (Array.isArray(doc.Results) && 'ArtifactName' in doc) || Array.isArray(doc.Results)) return 'trivy';
  if (Array.isArray(doc.matches)) return 'grype';
  if ('auditReportVersion' in doc || isObject(doc.advisories) || (isObject(doc.metadata) && isObject(doc.metadata.vulnerabilities))) {
    return 'npm-audit';
  }
  return null;
}

function parseJson(name: string, content: string): unknown {
  try {
    return JSON.parse(content);
  } catch (err) {
    throw new InputError(`report '${name}' is not valid JSON (${(err as Error).message}) nor JUnit XML`);
  }
}

// ---- scans -------------------------------------------------------------------------------

function zero(): VulnCounts {
  return { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
}

function severityWord(s: unknown): Severity | null {
  if (typeof s !== 'string') return null;
  const w = s.trim().toLowerCase();
  if ((SEVERITIES as readonly string[]).includes(w)) return w as Severity;
  if (w === 'moderate') return 'medium';
  if (w === 'negligible' || w === 'info' || w === 'informational') return 'low';
  return null;
}

function scanCounts(name: string, format: (typeof SCAN_FORMATS)[number], doc: unknown): VulnCounts {
  const wrong = (what: string) => new InputError(`report '${name}' is not ${describe(format)}: ${what}`);
  const counts = zero();
  const add = (s: unknown, n = 1) => {
    counts[severityWord(s) ?? 'unknown'] += n;
  };
  switch (format) {
    case 'trivy': {
      const results = Array.isArray(doc) ? doc : isObject(doc) ? doc.Results : undefined;
      if (results === undefined || results === null) return counts; // a clean image may have no Results
      if (!Array.isArray(results)) throw wrong('Results is not a list');
      for (const r of results) {
        if (!isObject(r)) throw wrong('an entry of Results is not an object');
        const vulns = r.Vulnerabilities ?? [];
        if (!Array.isArray(vulns)) throw wrong(`Vulnerabilities of '${String(r.Target ?? '?')}' is not a list`);
        for (const v of vulns) add(isObject(v) ? v.Severity : undefined);
      }
      return counts;
    }
    case 'grype': {
      if (!isObject(doc) || !Array.isArray(doc.matches)) throw wrong('no matches list');
      for (const m of doc.matches) add(isObject(m) && isObject(m.vulnerability) ? m.vulnerability.severity : undefined);
      return counts;
    }
    case 'npm-audit': {
      if (!isObject(doc)) throw wrong('not an object');
      if (isObject(doc.vulnerabilities) && (doc.auditReportVersion === 2 || !isObject(doc.advisories))) {
        for (const v of Object.values(doc.vulnerabilities)) add(isObject(v) ? v.severity : undefined);
        return counts;
      }
      if (isObject(doc.advisories)) {
        for (const a of Object.values(doc.advisories)) add(isObject(a) ? a.severity : undefined);
        return counts;
      }
      const meta = isObject(doc.metadata) ? doc.metadata.vulnerabilities : undefined;
      if (isObject(meta)) {
        for (const [sev, n] of Object.entries(meta)) {
          if (sev === 'total') continue;
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw wrong(`metadata.vulnerabilities.${sev} is not a count`);
          add(sev, n);
        }
        return counts;
      }
      throw wrong('neither vulnerabilities, advisories nor metadata.vulnerabilities');
    }
    case 'sarif':
      return sarifCounts(doc, wrong);
  }
}

function sarifCounts(doc: unknown, wrong: (what: string) => InputError): VulnCounts {
  if (!isObject(doc) || !Array.isArray(doc.runs)) throw wrong('no runs list');
  const counts = zero();
  doc.runs.forEach((run, i) => {
    if (!isObject(run)) throw wrong(`runs[${i}] is not an object`);
    const rules = new Map<string, Json>();
    const ruleList: Json[] = [];
    const tool = isObject(run.tool) ? run.tool : {};
    const components = [tool.driver, ...(Array.isArray(tool.extensions) ? tool.extensions : [])];
    for (const c of components) {
      if (!isObject(c) || !Array.isArray(c.rules)) continue;
      for (const r of c.rules) {
        if (!isObject(r)) continue;
        if (c === tool.driver) ruleList.push(r);
        if (typeof r.id === 'string') rules.set(r.id, r);
      }
    }
    const results = run.results ?? [];
    if (!Array.isArray(results)) throw wrong(`runs[${i}].results is not a list`);
    for (const res of results) {
      if (!isObject(res)) continue;
      const rule =
        (typeof res.ruleId === 'string' ? rules.get(res.ruleId) : undefined) ??
        (isObject(res.rule) && typeof res.rule.id === 'string' ? rules.get(res.rule.id) : undefined) ??
        (typeof res.ruleIndex === 'number' ? ruleList[res.ruleIndex] : undefined);
      counts[sarifSeverity(res, rule)] += 1;
    }
  });
  return counts;
}

function sarifSeverity(result: Json, rule: Json | undefined): Severity {
  for (const props of [result.properties, rule?.properties]) {
    if (!isObject(props)) continue;
    const score = Number(props['security-severity']);
    if (props['security-severity'] !== undefined && Number.isFinite(score)) {
      return score >= 9 ? 'critical' : score >= 7 ? 'high' : score >= 4 ? 'medium' : score > 0 ? 'low' : 'unknown';
    }
  }
  for (const props of [result.properties, rule?.properties]) {
    if (!isObject(props)) continue;
    const word = severityWord(props.severity) ?? (Array.isArray(props.tags) ? props.tags.map(severityWord).find((s) => s && s !== 'unknown') : null);
    if (word) return word;
  }
  const ruleLevel = isObject(rule?.defaultConfiguration) ? rule.defaultConfiguration.level : undefined;
  const level = typeof result.level === 'string' ? result.level : typeof ruleLevel === 'string' ? ruleLevel : 'warning';
  return level === 'error' ? 'high' : level === 'warning' ? 'medium' : level === 'note' ? 'low' : 'unknown';
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- JUnit XML -----------------------------------------------------------------------------

interface Tag {
  name: string;
  attrs: Record<string, string>;
  kind: 'open' | 'close' | 'self';
}

/** Tags of an XML document in order, skipping the declaration, comments, CDATA and text. */
function* tags(name: string, xml: string): Generator<Tag> {
  let i = 0;
  const n = xml.length;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) return;
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt + 4);
      if (end < 0) throw new InputError(`report '${name}' is not well-formed XML: a comment is not closed`);
      i = end + 3;
      continue;
    }
    if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9);
      if (end < 0) throw new InputError(`report '${name}' is not well-formed XML: a CDATA section is not closed`);
      i = end + 3;
      continue;
    }
    if (xml.startsWith('<?', lt) || xml.startsWith('<!', lt)) {
      const end = xml.indexOf('>', lt + 2);
      if (end < 0) throw new InputError(`report '${name}' is not well-formed XML: a declaration is not closed`);
      i = end + 1;
      continue;
    }
    // A tag: find its end outside quoted attribute values.
    let j = lt + 1;
    let quote = '';
    for (; j < n; j++) {
      const c = xml[j];
      if (quote) {
        if (c === quote) quote = '';
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') break;
    }
    if (j >= n) throw new InputError(`report '${name}' is not well-formed XML: a tag at offset ${lt} is not closed`);
    const body = xml.slice(lt + 1, j);
    i = j + 1;
    if (body.startsWith('/')) {
      yield { name: body.slice(1).trim(), attrs: {}, kind: 'close' };
      continue;
    }
    const self = body.endsWith('/');
    const inner = self ? body.slice(0, -1) : body;
    const m = /^([A-Za-z_][\w.:-]*)/.exec(inner);
    if (!m) throw new InputError(`report '${name}' is not well-formed XML: bad tag at offset ${lt}`);
    const attrs: Record<string, string> = {};
    const attrRe = /([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/g;
    const rest = inner.slice(m[1].length);
    for (let a = attrRe.exec(rest); a; a = attrRe.exec(rest)) {
      attrs[a[1]] = decodeEntities(a[3] ?? a[4] ?? '');
    }
    yield { name: m[1], attrs, kind: self ? 'self' : 'open' };
  }
}

function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (named[e.toLowerCase()]) return named[e.toLowerCase()];
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}

interface Totals {
  total: number;
  failures: number;
  errors: number;
  skipped: number;
}

/**
 * Totals of a JUnit report. Two sources: the innermost suites' attributes (an outer suite's
 * repeat its children's, so only the innermost count, which keeps nested suites from double
 * counting), and the <testcase> elements with their <failure>, <error> and <skipped> children.
 * Each figure is the larger of the two, so a trimmed report keeps its declared totals and a
 * suite whose attributes say 0 failures cannot hide a failing test case.
 */
function junitTotals(name: string, xml: string): Totals {
  const counted: Totals = { total: 0, failures: 0, errors: 0, skipped: 0 };
  const leafSuites: Totals[] = [];
  const openSuites: { totals: Totals; hasChild: boolean }[] = [];
  const stack: string[] = [];
  let rootSeen = false;
  let caseOutcome: 'pass' | 'failure' | 'error' | 'skipped' | null = null;
  const rank = { pass: 0, skipped: 1, failure: 2, error: 3 } as const;
  const finishCase = () => {
    if (caseOutcome === 'failure') counted.failures += 1;
    else if (caseOutcome === 'error') counted.errors += 1;
    else if (caseOutcome === 'skipped') counted.skipped += 1;
    caseOutcome = null;
  };
  for (const tag of tags(name, xml)) {
    if (tag.kind !== 'close') {
      if (!rootSeen) {
        if (tag.name !== 'testsuites' && tag.name !== 'testsuite') {
          throw new InputError(`report '${name}' is XML but not JUnit: the root element is <${tag.name}>, expected <testsuites> or <testsuite>`);
        }
        rootSeen = true;
      }
      if (tag.name === 'testsuite') {
        const count = (k: string) => {
          const v = tag.attrs[k];
          if (v === undefined) return 0;
          const x = Number(v);
          if (!Number.isInteger(x) || x < 0) throw new InputError(`report '${name}': <testsuite ${k}="${v}"> is not a count`);
          return x;
        };
        const totals = { total: count('tests'), failures: count('failures'), errors: count('errors'), skipped: count('skipped') + count('disabled') };
        if (openSuites.length) openSuites[openSuites.length - 1].hasChild = true;
        if (tag.kind === 'self') leafSuites.push(totals);
        else openSuites.push({ totals, hasChild: false });
      } else if (tag.name === 'testcase') {
        counted.total += 1;
        caseOutcome = 'pass';
        if (tag.kind === 'self') finishCase();
      } else if (caseOutcome !== null && (tag.name === 'failure' || tag.name === 'error' || tag.name === 'skipped')) {
        if (rank[tag.name] > rank[caseOutcome]) caseOutcome = tag.name;
      }
    }
    if (tag.kind === 'open') stack.push(tag.name);
    if (tag.kind === 'close') {
      const top = stack.pop();
      if (top !== tag.name) {
        throw new InputError(`report '${name}' is not well-formed XML: </${tag.name}> closes <${top ?? 'nothing'}>`);
      }
      if (tag.name === 'testcase') finishCase();
      if (tag.name === 'testsuite') {
        // An outer suite's attributes repeat its children's: only the innermost count.
        const suite = openSuites.pop();
        if (suite && !suite.hasChild) leafSuites.push(suite.totals);
      }
    }
  }
  if (!rootSeen) throw new InputError(`report '${name}' has no XML elements; expected JUnit XML`);
  if (stack.length) throw new InputError(`report '${name}' is not well-formed XML: <${stack[stack.length - 1]}> is not closed`);
  const declared = leafSuites.reduce(
    (a, s) => ({ total: a.total + s.total, failures: a.failures + s.failures, errors: a.errors + s.errors, skipped: a.skipped + s.skipped }),
    { total: 0, failures: 0, errors: 0, skipped: 0 },
  );
  return {
    total: Math.max(declared.total, counted.total),
    failures: Math.max(declared.failures, counted.failures),
    errors: Math.max(declared.errors, counted.errors),
    skipped: Math.max(declared.skipped, counted.skipped),
  };
}
