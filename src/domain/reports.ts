// Reports attached to a release, read for what the gate needs: vulnerability counts by
// severity from a scan (SARIF 2.1.0, Trivy JSON, Grype JSON, npm audit JSON) and test totals
// from JUnit XML. Pure: content in, summary out. A report that cannot be read is an InputError
// naming the file and what is wrong, never a silent zero. Every pass over the content is
// linear, so a 50 MB report costs one JSON.parse or one scan of the XML.
//
// What one "vulnerability" is, per format (the unit each tool itself reports):
// - Trivy: one entry of Results[].Vulnerabilities (a CVE in a package of a target); also the
//   pre-schema-2 form, a bare array of results. Misconfigurations and secrets are not counted.
// - Grype: one entry of matches[] (ignoredMatches are not counted).
// - npm audit v2 (npm 7+): metadata.vulnerabilities, which npm counts one per vulnerable
//   package; without it, the entries of `vulnerabilities`. npm audit v1 (npm 6, pnpm): one per
//   entry of `advisories`; metadata.vulnerabilities only when there are no advisories, since
//   npm 6 counts it per dependency path (one advisory can show as hundreds).
// - SARIF: one per result, across all runs, except results that say they are not a problem:
//   kind pass, notApplicable or informational; suppressed (every suppression accepted); or
//   baselineState absent (fixed since the baseline).
//
// Severity mapping (words are case-insensitive; anything unrecognised counts as `unknown`):
// - critical; high (also Red Hat's "important"); medium (also npm's "moderate"); low (also
//   Grype's "negligible" and npm's "info": the lowest rating a tool gives is still a rating,
//   while `unknown` is kept for findings nobody has rated); unknown.
// - SARIF, per result, the first of these that applies:
//   1. `security-severity` in the result's or else its rule's properties, a CVSS score as
//      GitHub code scanning reads it: ≥ 9.0 critical, ≥ 7.0 high, ≥ 4.0 medium, > 0 low,
//      0 unknown (Trivy writes 0.0 for UNKNOWN). The rule is found by ruleIndex/rule.index in
//      the driver or the extension rule.toolComponent names, else by ruleId in any component.
//   2. A severity word in the result's or else the rule's properties: `severity`, or the first
//      of `tags` that is one (Trivy tags rules "CRITICAL", "HIGH", ...).
//   3. The level: the result's, else the rule's defaultConfiguration.level, else "warning" as
//      the SARIF spec says ("none" for a result whose kind is not "fail"):
//      error → high, warning → medium, note → low, none → unknown.
//
// JUnit XML: <testsuites> or <testsuite> at the root, suites nested to any depth. Each suite's
// figure is the larger of what its attributes declare and what its children add up to (child
// suites plus its own <testcase> elements, each counted once as error, failure or skipped by
// its children, in that order of precedence). So nested suites never double count, a report
// trimmed of its test cases keeps its declared totals, and attributes that say "0 failures"
// cannot hide a failing test case. `skipped` includes googletest's `disabled`.
import { InputError } from '../errors.js';
import type { ReportKind, ReportSummary, ScanFormat, Severity, VulnCounts } from './types.js';

export interface ReportInput {
  name: string; // file name as attached; every error names it
  content: string;
  kind?: ReportKind; // when given, the content must be a report of this kind
  format?: string; // when given, the content must be in this format
}

export const SCAN_FORMATS: readonly ScanFormat[] = ['sarif', 'trivy', 'grype', 'npm-audit'];
export const TEST_FORMATS = ['junit'] as const;
export type ReportFormat = ScanFormat | (typeof TEST_FORMATS)[number];

const FORMAT_NAMES: Record<ReportFormat, string> = {
  sarif: 'SARIF',
  trivy: 'Trivy JSON',
  grype: 'Grype JSON',
  'npm-audit': 'npm audit JSON',
  junit: 'JUnit XML',
};
const KNOWN_SCANS = 'SARIF, Trivy JSON, Grype JSON or npm-audit JSON';

type Json = Record<string, unknown>;
type Totals = NonNullable<ReportSummary['tests']>;

/** What an attached report says: vulnerability counts for a scan, totals for a test report. */
export function summarizeReport(input: ReportInput, sha256: string): ReportSummary {
  const { name } = input;
  const wanted = input.format === undefined ? undefined : formatNamed(name, input.format);
  if (wanted && input.kind && kindOf(wanted) !== input.kind) {
    throw new InputError(
      `report '${name}': format '${wanted}' is ${wanted === 'junit' ? 'a test report' : 'a scan'}, but the report was attached as ${input.kind === 'tests' ? 'a test report' : 'a scan'}`,
    );
  }
  const content = readable(name, input.content);
  const kind = wanted ? kindOf(wanted) : input.kind;

  if (startsAsXml(content)) {
    if (kind === 'scan') {
      throw new InputError(
        `report '${name}': ${wanted ? `not ${FORMAT_NAMES[wanted]}` : 'attached as a scan'}, but it is XML; scans are ${KNOWN_SCANS}, JUnit XML is a test report`,
      );
    }
    return { kind: 'tests', format: 'junit', name, sha256, tests: junitTotals(name, content) };
  }
  if (kind === 'tests') {
    throw new InputError(`report '${name}': ${wanted ? 'not JUnit XML' : 'attached as a test report, but it is not JUnit XML'}: ${describeNonXml(content)}`);
  }

  const doc = parseJson(name, content, kind === undefined);
  const found = scanFormatOf(doc);
  if (wanted && found !== wanted) {
    throw new InputError(
      `report '${name}': not ${FORMAT_NAMES[wanted as ScanFormat]}: ${found ? `it looks like ${FORMAT_NAMES[found]}` : MISSING[wanted as ScanFormat]}`,
    );
  }
  if (!found) throw unrecognised(name, doc, input.kind);
  return { kind: 'scan', format: found, name, sha256, vulnerabilities: scanCounts(name, found, doc) };
}

/** The kind and format of a report, read from its content (the root element, or the JSON's fields). */
export function detectReportFormat(name: string, content: string): { kind: ReportKind; format: ReportFormat } {
  const text = readable(name, content);
  if (startsAsXml(text)) {
    junitRoot(name, text);
    return { kind: 'tests', format: 'junit' };
  }
  const doc = parseJson(name, text, true);
  const format = scanFormatOf(doc);
  if (!format) throw unrecognised(name, doc, undefined);
  return { kind: 'scan', format };
}

// ---- formats and detection -----------------------------------------------------------------

function kindOf(format: ReportFormat): ReportKind {
  return format === 'junit' ? 'tests' : 'scan';
}

function formatNamed(name: string, format: string): ReportFormat {
  const f = String(format).trim().toLowerCase();
  if (f === 'junit' || (SCAN_FORMATS as readonly string[]).includes(f)) return f as ReportFormat;
  throw new InputError(`report '${name}': unknown format '${format}'; known formats: ${[...SCAN_FORMATS, ...TEST_FORMATS].join(', ')}`);
}

/** The content without a byte-order mark; empty content is refused. */
function readable(name: string, content: string): string {
  if (typeof content !== 'string' || !/\S/.test(content)) throw new InputError(`report '${name}' is empty`);
  return content.charCodeAt(0) === 0xfeff ? content.slice(1) : content;
}

function firstChar(content: string): string {
  const m = /\S/.exec(content);
  return m ? m[0] : '';
}

function startsAsXml(content: string): boolean {
  return firstChar(content) === '<';
}

/** Why content that does not start with '<' is no test report, naming the scan it is if it is one. */
function describeNonXml(content: string): string {
  const c = firstChar(content);
  if (c !== '{' && c !== '[') return 'it does not start with an XML element';
  let doc: unknown;
  try {
    doc = JSON.parse(content);
  } catch {
    return 'it does not start with an XML element';
  }
  const found = scanFormatOf(doc);
  return found ? `it is ${FORMAT_NAMES[found]}, a scan` : 'it is JSON';
}

function parseJson(name: string, content: string, couldBeXml: boolean): unknown {
  try {
    return JSON.parse(content);
  } catch (err) {
    const why = (err as Error).message.slice(0, 200);
    throw new InputError(`report '${name}': not JSON (${why})${couldBeXml ? ' nor JUnit XML' : ''}`);
  }
}

const MISSING: Record<ScanFormat, string> = {
  sarif: "no 'runs' list with a 'version'",
  trivy: "no 'SchemaVersion' or 'Results'",
  grype: "no 'matches' list",
  'npm-audit': "no 'auditReportVersion', 'advisories' or 'metadata.vulnerabilities'",
};

function scanFormatOf(doc: unknown): ScanFormat | null {
  if (Array.isArray(doc)) {
    // Trivy before schema v2 wrote a bare array of results.
    return doc.length > 0 && doc.every((r) => isObject(r) && 'Target' in r) ? 'trivy' : null;
  }
  if (!isObject(doc)) return null;
  if (Array.isArray(doc.runs) && (typeof doc.version === 'string' || typeof doc.$schema === 'string')) return 'sarif';
  if ('SchemaVersion' in doc || Array.isArray(doc.Results)) return 'trivy';
  if (Array.isArray(doc.matches)) return 'grype';
  if ('auditReportVersion' in doc || isObject(doc.advisories) || (isObject(doc.metadata) && isObject(doc.metadata.vulnerabilities))) {
    return 'npm-audit';
  }
  return null;
}

function unrecognised(name: string, doc: unknown, kind: ReportKind | undefined): InputError {
  // `npm audit --json` writes its failure as JSON too; say so rather than "unrecognised".
  if (isObject(doc) && isObject(doc.error) && typeof doc.error.summary === 'string') {
    const code = typeof doc.error.code === 'string' ? `${doc.error.code}: ` : '';
    return new InputError(`report '${name}': npm audit failed and wrote no counts (${code}${doc.error.summary.slice(0, 200)})`);
  }
  return new InputError(`report '${name}': not a recognised scan (${KNOWN_SCANS})${kind === 'scan' ? '' : ' or JUnit XML'}`);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- scans ---------------------------------------------------------------------------------

const WORDS: Record<string, Severity> = {
  critical: 'critical',
  high: 'high',
  important: 'high',
  medium: 'medium',
  moderate: 'medium',
  low: 'low',
  negligible: 'low',
  info: 'low',
  informational: 'low',
  unknown: 'unknown',
};

/** The severity a word names, or null when it names none. */
function severityWord(s: unknown): Severity | null {
  if (typeof s !== 'string') return null;
  const word = s.trim().toLowerCase();
  return Object.hasOwn(WORDS, word) ? WORDS[word] : null;
}

function zero(): VulnCounts {
  return { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
}

function scanCounts(name: string, format: ScanFormat, doc: unknown): VulnCounts {
  const wrong = (what: string) => new InputError(`report '${name}': ${FORMAT_NAMES[format]} ${what}`);
  const counts = zero();
  const add = (severity: unknown, n = 1) => {
    counts[severityWord(severity) ?? 'unknown'] += n;
  };
  switch (format) {
    case 'trivy': {
      const results = Array.isArray(doc) ? doc : (doc as Json).Results;
      if (results === undefined || results === null) return counts; // a clean image may have no Results
      if (!Array.isArray(results)) throw wrong('has Results that is not a list');
      results.forEach((r, i) => {
        if (!isObject(r)) throw wrong(`has Results[${i}] that is not an object`);
        const vulns = r.Vulnerabilities ?? [];
        if (!Array.isArray(vulns)) throw wrong(`has Vulnerabilities of '${String(r.Target ?? i)}' that is not a list`);
        for (const v of vulns) add(isObject(v) ? v.Severity : undefined);
      });
      return counts;
    }
    case 'grype': {
      for (const m of (doc as Json).matches as unknown[]) add(isObject(m) && isObject(m.vulnerability) ? m.vulnerability.severity : undefined);
      return counts;
    }
    case 'npm-audit': {
      const d = doc as Json;
      const meta = isObject(d.metadata) && isObject(d.metadata.vulnerabilities) ? d.metadata.vulnerabilities : undefined;
      const fromMeta = (m: Json) => {
        for (const [sev, n] of Object.entries(m)) {
          if (sev === 'total') continue;
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw wrong(`has metadata.vulnerabilities.${sev} that is not a count`);
          add(sev, n);
        }
        return counts;
      };
      const perEntry = (entries: Json) => {
        for (const e of Object.values(entries)) add(isObject(e) ? e.severity : undefined);
        return counts;
      };
      const v2 = d.auditReportVersion === 2 || (isObject(d.vulnerabilities) && !isObject(d.advisories));
      if (v2) {
        if (meta) return fromMeta(meta);
        if (isObject(d.vulnerabilities)) return perEntry(d.vulnerabilities);
        throw wrong("has neither 'metadata.vulnerabilities' nor 'vulnerabilities'");
      }
      if (isObject(d.advisories)) return perEntry(d.advisories);
      if (meta) return fromMeta(meta);
      throw wrong("has neither 'advisories' nor 'metadata.vulnerabilities'");
    }
    case 'sarif':
      return sarifCounts(doc as Json, wrong);
  }
}

interface Component {
  json: Json;
  rules: unknown[];
  byId: Map<string, Json> | null; // built on first lookup by id
}

function sarifCounts(doc: Json, wrong: (what: string) => InputError): VulnCounts {
  const counts = zero();
  (doc.runs as unknown[]).forEach((run, i) => {
    if (!isObject(run)) throw wrong(`has runs[${i}] that is not an object`);
    const results = run.results ?? [];
    if (!Array.isArray(results)) throw wrong(`has runs[${i}].results that is not a list`);
    if (results.length === 0) return;
    const tool = isObject(run.tool) ? run.tool : {};
    const component = (c: unknown): Component | null =>
      isObject(c) ? { json: c, rules: Array.isArray(c.rules) ? c.rules : [], byId: null } : null;
    const driver = component(tool.driver) ?? { json: {}, rules: [], byId: null };
    const extensions = (Array.isArray(tool.extensions) ? tool.extensions : []).map(component);
    const all = [driver, ...extensions.filter((c): c is Component => c !== null)];
    for (const res of results) {
      if (!isObject(res) || !isFinding(res)) continue;
      counts[sarifSeverity(res, ruleOf(res, driver, extensions, all))] += 1;
    }
  });
  return counts;
}

/** False for results that say they are not a problem (see the top comment). */
function isFinding(res: Json): boolean {
  if (res.kind === 'pass' || res.kind === 'notApplicable' || res.kind === 'informational') return false;
  if (res.baselineState === 'absent') return false;
  const sup = res.suppressions;
  if (Array.isArray(sup) && sup.length > 0 && sup.every((s) => isObject(s) && (s.status === undefined || s.status === 'accepted'))) return false;
  return true;
}

function ruleOf(res: Json, driver: Component, extensions: (Component | null)[], all: Component[]): Json | undefined {
  const ref = isObject(res.rule) ? res.rule : {};
  let home = driver;
  if (isObject(ref.toolComponent)) {
    const tc = ref.toolComponent;
    const named = (c: Component | null) => c !== null && ((tc.name !== undefined && c.json.name === tc.name) || (tc.guid !== undefined && c.json.guid === tc.guid));
    home = (isIndex(tc.index) ? extensions[tc.index] : undefined) ?? all.find(named) ?? driver;
  }
  const index = isIndex(res.ruleIndex) ? res.ruleIndex : isIndex(ref.index) ? ref.index : -1;
  if (index >= 0 && isObject(home.rules[index])) return home.rules[index] as Json;
  let id = typeof res.ruleId === 'string' ? res.ruleId : typeof ref.id === 'string' ? ref.id : undefined;
  // A hierarchical ruleId ("CA2101/unsafe-call") may name a rule by its leading components.
  while (id) {
    let rule = lookup(home, id);
    for (let c = 0; !rule && c < all.length; c++) rule = lookup(all[c], id);
    if (rule) return rule;
    const slash = id.lastIndexOf('/');
    id = slash > 0 ? id.slice(0, slash) : undefined;
  }
  return undefined;
}

function lookup(c: Component, id: string): Json | undefined {
  if (!c.byId) {
    c.byId = new Map();
    for (const r of c.rules) if (isObject(r) && typeof r.id === 'string' && !c.byId.has(r.id)) c.byId.set(r.id, r);
  }
  return c.byId.get(id);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function sarifSeverity(result: Json, rule: Json | undefined): Severity {
  const propsList = [result.properties, rule?.properties].filter(isObject);
  for (const props of propsList) {
    const score = cvss(props['security-severity']);
    if (score !== null) return score >= 9 ? 'critical' : score >= 7 ? 'high' : score >= 4 ? 'medium' : score > 0 ? 'low' : 'unknown';
    const word = severityWord(props['security-severity']); // some tools write a word there
    if (word) return word;
  }
  for (const props of propsList) {
    const word = severityWord(props.severity) ?? (Array.isArray(props.tags) ? firstSeverityTag(props.tags) : null);
    if (word) return word;
  }
  const ruleLevel = isObject(rule?.defaultConfiguration) ? rule.defaultConfiguration.level : undefined;
  const defaultLevel = result.kind === undefined || result.kind === 'fail' ? 'warning' : 'none';
  const level = typeof result.level === 'string' ? result.level : typeof ruleLevel === 'string' ? ruleLevel : defaultLevel;
  switch (level.toLowerCase()) {
    case 'error':
      return 'high';
    case 'warning':
      return 'medium';
    case 'note':
      return 'low';
    default:
      return 'unknown';
  }
}

function cvss(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string' || !/^\s*\d+(\.\d+)?\s*$/.test(v)) return null;
  return Number(v);
}

function firstSeverityTag(tags: unknown[]): Severity | null {
  for (const t of tags) {
    const s = severityWord(t);
    if (s) return s;
  }
  return null;
}

// ---- JUnit XML -----------------------------------------------------------------------------

interface Tag {
  name: string;
  attrs: Record<string, string> | null; // raw attribute values, entities not yet decoded; null for a close tag
  kind: 'open' | 'close' | 'self';
  at: number; // offset of its '<'
}

function isNameChar(c: number): boolean {
  // Letters, digits, _ : . - and anything beyond ASCII, as XML names allow.
  return (
    (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 58 || c === 46 || c === 45 || c > 127
  );
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function lineOf(xml: string, offset: number): number {
  let line = 1;
  for (let i = xml.indexOf('\n'); i >= 0 && i < offset; i = xml.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * The element tags of an XML document in order, skipping the declaration, processing
 * instructions, the doctype, comments, CDATA and text. Each character is looked at a bounded
 * number of times: sections are skipped with indexOf, tags are read once.
 */
function* tags(name: string, xml: string): Generator<Tag> {
  const bad = (what: string, at: number) => new InputError(`report '${name}': not well-formed XML: ${what} (line ${lineOf(xml, at)})`);
  const skipTo = (end: string, from: number, what: string, at: number) => {
    const e = xml.indexOf(end, from);
    if (e < 0) throw bad(`${what} is not closed`, at);
    return e + end.length;
  };
  const n = xml.length;
  let i = 0;
  for (;;) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) return;
    if (xml.startsWith('<!--', lt)) {
      i = skipTo('-->', lt + 4, 'a comment', lt);
      continue;
    }
    if (xml.startsWith('<![CDATA[', lt)) {
      i = skipTo(']]>', lt + 9, 'a CDATA section', lt);
      continue;
    }
    if (xml.startsWith('<?', lt)) {
      i = skipTo('?>', lt + 2, 'a declaration', lt);
      continue;
    }
    if (xml.startsWith('<!', lt)) {
      // <!DOCTYPE ...>, possibly with an internal subset in [...].
      const close = xml.indexOf('>', lt);
      const open = xml.indexOf('[', lt);
      i = open >= 0 && (close < 0 || open < close) ? skipTo('>', skipTo(']', open, 'a doctype', lt), 'a doctype', lt) : skipTo('>', lt, 'a doctype', lt);
      continue;
    }
    const closing = xml.charCodeAt(lt + 1) === 47; // '/'
    let j = closing ? lt + 2 : lt + 1;
    const nameStart = j;
    while (j < n && isNameChar(xml.charCodeAt(j))) j++;
    const tagName = xml.slice(nameStart, j);
    if (!tagName) throw bad(`'<' that does not start a tag`, lt);
    if (closing) {
      while (j < n && isSpace(xml.charCodeAt(j))) j++;
      if (xml.charCodeAt(j) !== 62) throw bad(`</${tagName}> is not closed`, lt);
      i = j + 1;
      yield { name: tagName, attrs: null, kind: 'close', at: lt };
      continue;
    }
    const attrs: Record<string, string> = {};
    for (;;) {
      while (j < n && isSpace(xml.charCodeAt(j))) j++;
      if (j >= n) throw bad(`<${tagName}> is not closed`, lt);
      const c = xml.charCodeAt(j);
      if (c === 62) {
        i = j + 1;
        yield { name: tagName, attrs, kind: 'open', at: lt };
        break;
      }
      if (c === 47 && xml.charCodeAt(j + 1) === 62) {
        i = j + 2;
        yield { name: tagName, attrs, kind: 'self', at: lt };
        break;
      }
      const attrStart = j;
      while (j < n && isNameChar(xml.charCodeAt(j))) j++;
      const attr = xml.slice(attrStart, j);
      if (!attr) throw bad(`<${tagName}> has a stray '${xml[j] ?? ''}'`, lt);
      while (j < n && isSpace(xml.charCodeAt(j))) j++;
      if (xml.charCodeAt(j) !== 61) throw bad(`attribute '${attr}' of <${tagName}> has no value`, lt);
      j++;
      while (j < n && isSpace(xml.charCodeAt(j))) j++;
      const quote = xml[j];
      if (quote !== '"' && quote !== "'") throw bad(`attribute '${attr}' of <${tagName}> is not quoted`, lt);
      const end = xml.indexOf(quote, j + 1);
      if (end < 0) throw bad(`attribute '${attr}' of <${tagName}> is not closed`, lt);
      const value = xml.slice(j + 1, end);
      // '<' cannot appear in a value; finding one usually means a quote went missing earlier.
      if (value.includes('<')) throw bad(`attribute '${attr}' of <${tagName}> contains '<' (write &lt;)`, lt);
      attrs[attr] = value;
      j = end + 1;
    }
  }
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z]+);/g, (whole, e: string) => {
    if (e[0] !== '#') return ENTITIES[e] ?? whole;
    const code = e[1] === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1));
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** The root element's name, checked to be JUnit's. */
function junitRoot(name: string, xml: string): string {
  for (const tag of tags(name, xml)) {
    if (tag.kind === 'close') break;
    if (tag.name !== 'testsuites' && tag.name !== 'testsuite') {
      throw new InputError(`report '${name}': XML but not JUnit: the root element is <${tag.name}>, expected <testsuites> or <testsuite>`);
    }
    return tag.name;
  }
  throw new InputError(`report '${name}': no XML element in it; expected JUnit XML`);
}

interface Suite {
  declared: Partial<Totals>;
  sum: Totals; // child suites' figures plus its own test cases
}

type Outcome = 'pass' | 'skipped' | 'failure' | 'error';
const RANK: Record<Outcome, number> = { pass: 0, skipped: 1, failure: 2, error: 3 };

function junitTotals(name: string, xml: string): Totals {
  const countAttr = (tag: Tag, key: string): number | undefined => {
    const raw = tag.attrs?.[key];
    if (raw === undefined) return undefined;
    const v = decodeEntities(raw).trim();
    if (v === '') return undefined;
    if (!/^\d{1,15}$/.test(v)) {
      throw new InputError(`report '${name}': <${tag.name} ${key}="${raw.slice(0, 40)}"> is not a count (line ${lineOf(xml, tag.at)})`);
    }
    return Number(v);
  };
  const document: Suite = { declared: {}, sum: { total: 0, failures: 0, errors: 0, skipped: 0 } };
  const suites: Suite[] = [document];
  const open: string[] = [];
  let root: string | null = null;
  let testsCountSeen = false;
  let outcome: Outcome | null = null; // of the <testcase> being read
  const FIELDS = ['total', 'failures', 'errors', 'skipped'] as const;

  const closeSuite = () => {
    const s = suites.pop()!;
    const parent = suites[suites.length - 1];
    for (const f of FIELDS) parent.sum[f] += Math.max(s.declared[f] ?? 0, s.sum[f]);
  };
  const closeCase = () => {
    const sum = suites[suites.length - 1].sum;
    sum.total += 1;
    if (outcome === 'failure') sum.failures += 1;
    else if (outcome === 'error') sum.errors += 1;
    else if (outcome === 'skipped') sum.skipped += 1;
    outcome = null;
  };

  for (const tag of tags(name, xml)) {
    if (tag.kind === 'close') {
      const top = open.pop();
      if (top !== tag.name) {
        throw new InputError(
          `report '${name}': not well-formed XML: </${tag.name}> closes ${top ? `<${top}>` : 'nothing'} (line ${lineOf(xml, tag.at)})`,
        );
      }
      if (tag.name === 'testcase' && outcome !== null) closeCase();
      else if (tag.name === 'testsuite' || tag.name === 'testsuites') closeSuite();
      continue;
    }
    if (root === null) {
      if (tag.name !== 'testsuites' && tag.name !== 'testsuite') {
        throw new InputError(`report '${name}': XML but not JUnit: the root element is <${tag.name}>, expected <testsuites> or <testsuite>`);
      }
      root = tag.name;
    } else if (open.length === 0) {
      throw new InputError(`report '${name}': not well-formed XML: a second root element <${tag.name}> (line ${lineOf(xml, tag.at)})`);
    }
    const parent = open[open.length - 1];
    if (tag.name === 'testsuite' || tag.name === 'testsuites') {
      const skipped = countAttr(tag, 'skipped');
      const disabled = countAttr(tag, 'disabled');
      const declared: Partial<Totals> = {
        total: countAttr(tag, 'tests'),
        failures: countAttr(tag, 'failures'),
        errors: countAttr(tag, 'errors'),
        skipped: skipped === undefined && disabled === undefined ? undefined : (skipped ?? 0) + (disabled ?? 0),
      };
      if (declared.total !== undefined) testsCountSeen = true;
      suites.push({ declared, sum: { total: 0, failures: 0, errors: 0, skipped: 0 } });
      if (tag.kind === 'self') closeSuite();
    } else if (tag.name === 'testcase' && parent !== 'testcase') {
      outcome = 'pass';
      if (tag.kind === 'self') closeCase();
    } else if (parent === 'testcase' && outcome !== null && (tag.name === 'failure' || tag.name === 'error' || tag.name === 'skipped')) {
      if (RANK[tag.name] > RANK[outcome]) outcome = tag.name;
    }
    if (tag.kind === 'open') open.push(tag.name);
  }
  if (root === null) throw new InputError(`report '${name}': no XML element in it; expected JUnit XML`);
  if (open.length) throw new InputError(`report '${name}': not well-formed XML: <${open[open.length - 1]}> is not closed`);
  const totals = document.sum;
  if (!testsCountSeen && totals.total === 0) {
    throw new InputError(`report '${name}': <${root}> missing tests count, and there is no <testcase> in it`);
  }
  return totals;
}
