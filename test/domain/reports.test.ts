// Attached reports: each scanner's real output shape gives the counts a user would read off
// it, JUnit totals survive nesting, comments, CDATA and lying attributes, and unreadable
// reports are refused naming the file and what is wrong.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { detectReportFormat, summarizeReport } from '../../src/domain/reports.js';
import { InputError } from '../../src/errors.js';

const SHA = 'f'.repeat(64);
const fixture = (f: string) => fs.readFileSync(new URL(`../fixtures/reports/${f}`, import.meta.url), 'utf8');
const demo = (f: string) => fs.readFileSync(new URL(`../../examples/demo/reports/${f}`, import.meta.url), 'utf8');
const sum = (name: string, content: unknown, opts: { kind?: 'scan' | 'tests'; format?: string } = {}) =>
  summarizeReport({ name, content: typeof content === 'string' ? content : JSON.stringify(content), ...opts }, SHA);
const vulns = (critical: number, high: number, medium: number, low: number, unknown: number) => ({ critical, high, medium, low, unknown });
const refused = (fn: () => unknown, message: RegExp | string) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });

describe('vulnerability scans: counts by severity', () => {
  test('Trivy 0.52 JSON: vulnerabilities of every target; misconfigurations, secrets and clean targets add nothing', () => {
    const s = sum('trivy.json', fixture('trivy-0.52.json'));
    assert.deepEqual(s, { kind: 'scan', format: 'trivy', name: 'trivy.json', sha256: SHA, vulnerabilities: vulns(1, 3, 2, 2, 1) });
  });

  test('Trivy JSON of a clean image has no Results at all', () => {
    assert.deepEqual(sum('trivy.json', { SchemaVersion: 2, ArtifactName: 'web:1', ArtifactType: 'container_image' }).vulnerabilities, vulns(0, 0, 0, 0, 0));
  });

  test('Trivy JSON from before schema v2: a bare array of results, Vulnerabilities null when clean', () => {
    const s = sum('trivy-old.json', fixture('trivy-legacy.json'));
    assert.equal(s.format, 'trivy');
    assert.deepEqual(s.vulnerabilities, vulns(0, 1, 1, 1, 0));
  });

  test('Grype JSON: Negligible counts as low, Unknown as unknown, ignored matches not at all', () => {
    const s = sum('grype.json', fixture('grype.json'));
    assert.equal(s.format, 'grype');
    assert.deepEqual(s.vulnerabilities, vulns(1, 1, 2, 3, 1));
  });

  test('npm audit v2 (npm 7+): the counts npm prints, moderate as medium', () => {
    const s = sum('audit.json', fixture('npm-audit-v2.json'));
    assert.equal(s.format, 'npm-audit');
    assert.deepEqual(s.vulnerabilities, vulns(1, 2, 1, 1, 0));
  });

  test('npm audit v2 without metadata counts its vulnerable packages; info is low', () => {
    const doc = JSON.parse(fixture('npm-audit-v2.json'));
    delete doc.metadata;
    doc.vulnerabilities.ms = { name: 'ms', severity: 'info', isDirect: false, via: [], effects: [], range: '*', nodes: [], fixAvailable: false };
    assert.deepEqual(sum('audit.json', doc).vulnerabilities, vulns(1, 2, 1, 2, 0));
  });

  test('npm audit v1 (npm 6): one per advisory, not npm 6\'s per-path metadata', () => {
    // metadata says low 12, high 3: lodash's advisory reached through nine paths.
    assert.deepEqual(sum('audit-v1.json', fixture('npm-audit-v1.json')).vulnerabilities, vulns(0, 2, 0, 2, 0));
  });

  test('npm audit v1 with only metadata, e.g. a clean project', () => {
    const doc = { actions: [], advisories: undefined, muted: [], metadata: { vulnerabilities: { info: 1, low: 0, moderate: 2, high: 0, critical: 0 }, dependencies: 10 } };
    assert.deepEqual(sum('audit.json', doc).vulnerabilities, vulns(0, 0, 2, 1, 0));
  });

  test('SARIF from Trivy: security-severity on the rule decides; 0.0 (Trivy\'s UNKNOWN) is unknown, not the note level', () => {
    const s = sum('trivy.sarif', fixture('trivy.sarif'));
    assert.equal(s.format, 'sarif');
    assert.deepEqual(s.vulnerabilities, vulns(1, 2, 1, 1, 1));
  });

  test('SARIF from CodeQL: rules in an extension, found through rule.toolComponent; suppressed results not counted', () => {
    assert.deepEqual(sum('codeql.sarif', fixture('codeql.sarif')).vulnerabilities, vulns(1, 2, 1, 2, 0));
  });

  test('SARIF with levels only (ESLint): result level, else the rule default, else warning; runs add up', () => {
    assert.deepEqual(sum('eslint.sarif', fixture('eslint.sarif')).vulnerabilities, vulns(0, 3, 2, 1, 1));
  });

  test('SARIF: ruleIndex points into the component the result names, not the driver', () => {
    const doc = {
      version: '2.1.0',
      runs: [
        {
          tool: {
            driver: { name: 'scanner', rules: [{ id: 'D0', properties: { 'security-severity': '2.0' } }] },
            extensions: [{ name: 'pack', rules: [{ id: 'E0', properties: { 'security-severity': '9.9' } }] }],
          },
          results: [
            { ruleIndex: 0, rule: { index: 0, toolComponent: { index: 0 } }, message: { text: 'E0 by index' } },
            { rule: { id: 'E0', toolComponent: { name: 'pack' } }, message: { text: 'E0 by name' } },
            { ruleIndex: 0, message: { text: 'D0: no component means the driver' } },
            { ruleId: 'E0/variant', message: { text: 'hierarchical id' } },
          ],
        },
      ],
    };
    assert.deepEqual(sum('x.sarif', doc).vulnerabilities, vulns(3, 0, 0, 1, 0));
  });

  test('SARIF: severity words in properties and tags, results that are not problems', () => {
    const doc = {
      version: '2.1.0',
      runs: [
        {
          tool: {
            driver: {
              name: 'scanner',
              rules: [
                { id: 'tagged', properties: { tags: ['security', 'Critical'] } },
                { id: 'worded', properties: { severity: 'MODERATE' } },
                { id: 'scored-as-word', properties: { 'security-severity': 'high' } },
                { id: 'plain', defaultConfiguration: { level: 'error' } },
              ],
            },
          },
          results: [
            { ruleId: 'tagged', level: 'note', message: { text: 'the tag beats the level' } },
            { ruleId: 'worded', message: { text: 'moderate is medium' } },
            { ruleId: 'scored-as-word', message: { text: 'a word where a score belongs still counts' } },
            { ruleId: 'plain', properties: { 'security-severity': '4.0' }, message: { text: 'the result\'s own score' } },
            { ruleId: 'plain', kind: 'pass', message: { text: 'checked and fine' } },
            { ruleId: 'plain', kind: 'notApplicable', message: { text: 'n/a' } },
            { ruleId: 'plain', baselineState: 'absent', message: { text: 'fixed since the baseline' } },
            { ruleId: 'plain', suppressions: [{ kind: 'external', status: 'underReview' }], message: { text: 'not yet dismissed: counts' } },
            { ruleId: 'plain', suppressions: [{ kind: 'external', status: 'accepted' }], message: { text: 'dismissed' } },
            { kind: 'review', message: { text: 'a kind other than fail defaults to level none' } },
          ],
        },
        { tool: { driver: { name: 'empty' } } },
      ],
    };
    assert.deepEqual(sum('x.sarif', doc).vulnerabilities, vulns(1, 2, 2, 0, 1));
  });

  test('severity words are case-insensitive and anything unrecognised is unknown', () => {
    const doc = {
      SchemaVersion: 2,
      Results: [
        {
          Target: 'x',
          Vulnerabilities: [{ Severity: 'critical' }, { Severity: ' High ' }, { Severity: 'Severe' }, { Severity: 42 }, {}, { Severity: 'toString' }],
        },
      ],
    };
    assert.deepEqual(sum('trivy.json', doc).vulnerabilities, vulns(1, 1, 0, 0, 4));
  });

  test('a byte-order mark and a format given in capitals are fine', () => {
    assert.deepEqual(sum('audit.json', '\uFEFF' + fixture('npm-audit-v2.json'), { format: 'NPM-AUDIT' }).vulnerabilities, vulns(1, 2, 1, 1, 0));
  });

  test("the demo's reports", () => {
    assert.deepEqual(sum('trivy-clean.json', demo('trivy-clean.json')).vulnerabilities, vulns(0, 1, 1, 0, 0));
    assert.deepEqual(sum('trivy-critical.json', demo('trivy-critical.json'), { kind: 'scan' }).vulnerabilities, vulns(1, 1, 0, 0, 0));
    // The demo's JUnit file keeps one test case per suite; its declared totals stand.
    assert.deepEqual(sum('junit.xml', demo('junit.xml'), { kind: 'tests' }).tests, { total: 42, failures: 0, errors: 0, skipped: 1 });
  });
});

describe('JUnit XML: test totals', () => {
  test('jest-junit: suites under <testsuites>, entities, a commented-out suite', () => {
    const s = sum('junit.xml', fixture('jest-junit.xml'));
    assert.deepEqual(s, { kind: 'tests', format: 'junit', name: 'junit.xml', sha256: SHA, tests: { total: 7, failures: 1, errors: 0, skipped: 1 } });
  });

  test('Maven surefire: one <testsuite> root; CDATA that looks like tags; a flaky test that passed on rerun', () => {
    assert.deepEqual(sum('TEST-com.example.shop.CartTest.xml', fixture('TEST-com.example.shop.CartTest.xml')).tests, {
      total: 6,
      failures: 1,
      errors: 1,
      skipped: 1,
    });
  });

  test('PHPUnit: suites nested three deep, each repeating its children\'s totals, count each test once', () => {
    assert.deepEqual(sum('phpunit.xml', fixture('phpunit.xml')).tests, { total: 6, failures: 1, errors: 0, skipped: 1 });
  });

  test('without count attributes, test cases are counted by their outcome', () => {
    const xml = `<testsuites>
  <testsuite name="a">
    <testcase name="passes"/>
    <testcase name="fails"><failure message="x"/></testcase>
    <testcase name="both"><failure/><error/></testcase>
    <testcase name="skipped"><skipped/></testcase>
    <testcase name="prints"><system-out>&lt;failure/&gt;</system-out></testcase>
  </testsuite>
  <testsuite name="b"><testcase name="c"/></testsuite>
</testsuites>`;
    assert.deepEqual(sum('junit.xml', xml).tests, { total: 6, failures: 1, errors: 1, skipped: 1 });
  });

  test('attributes that say 0 failures cannot hide a failing test case', () => {
    const xml = `<testsuite name="unit" tests="2" failures="0" errors="0">
  <testcase name="a"/>
  <testcase name="b"><error message="boom" type="Error">stack</error></testcase>
</testsuite>`;
    assert.deepEqual(sum('TEST-unit.xml', xml).tests, { total: 2, failures: 0, errors: 1, skipped: 0 });
  });

  test('declared totals are kept when test cases were trimmed from the report', () => {
    const xml = `<testsuites><testsuite tests="40" failures="2" errors="0" skipped="3"/><testsuite tests="2" disabled="1"/></testsuites>`;
    assert.deepEqual(sum('junit.xml', xml).tests, { total: 42, failures: 2, errors: 0, skipped: 4 });
  });

  test('a doctype, processing instructions, single quotes, ">" in values and an explicitly empty suite', () => {
    const xml = `<?xml version='1.0'?>
<!DOCTYPE testsuites [ <!ENTITY x "y"> ]>
<?xml-stylesheet href="junit.xsl"?>
<testsuites tests='0'>
  <testsuite name='edge > cases' tests = '0' failures='0'/>
</testsuites>
`;
    assert.deepEqual(sum('junit.xml', xml).tests, { total: 0, failures: 0, errors: 0, skipped: 0 });
  });
});

describe('detectReportFormat', () => {
  test('names the kind and format from the content', () => {
    assert.deepEqual(detectReportFormat('trivy.sarif', fixture('trivy.sarif')), { kind: 'scan', format: 'sarif' });
    assert.deepEqual(detectReportFormat('audit.json', fixture('npm-audit-v1.json')), { kind: 'scan', format: 'npm-audit' });
    assert.deepEqual(detectReportFormat('report.xml', fixture('phpunit.xml')), { kind: 'tests', format: 'junit' });
    refused(() => detectReportFormat('page.xml', '<?xml version="1.0"?><html/>'), /report 'page.xml': XML but not JUnit: the root element is <html>/);
  });
});

describe('reports that cannot be read are refused, naming the file', () => {
  test('empty content', () => {
    refused(() => sum('scan.json', ''), "report 'scan.json' is empty");
    refused(() => sum('scan.json', '  \n\t'), "report 'scan.json' is empty");
  });

  test('not JSON, with the parser\'s reason', () => {
    const bad = '{"Results": [ }';
    const why = (() => {
      try {
        JSON.parse(bad);
      } catch (err) {
        return (err as Error).message;
      }
    })();
    refused(() => sum('scan.json', bad), `report 'scan.json': not JSON (${why}) nor JUnit XML`);
    refused(() => sum('scan.json', 'Total: 3 (HIGH: 1, CRITICAL: 2)', { kind: 'scan' }), /^report 'scan\.json': not JSON \(.+\)$/);
  });

  test('JSON of no known shape, and npm audit\'s own failure', () => {
    refused(
      () => sum('x.json', { bomFormat: 'CycloneDX', specVersion: '1.5', components: [] }),
      "report 'x.json': not a recognised scan (SARIF, Trivy JSON, Grype JSON or npm-audit JSON) or JUnit XML",
    );
    refused(() => sum('x.json', [], { kind: 'scan' }), "report 'x.json': not a recognised scan (SARIF, Trivy JSON, Grype JSON or npm-audit JSON)");
    refused(
      () => sum('audit.json', { error: { code: 'ENOLOCK', summary: 'This command requires an existing lockfile.', detail: 'Try creating one first with: npm i --package-lock-only' } }),
      "report 'audit.json': npm audit failed and wrote no counts (ENOLOCK: This command requires an existing lockfile.)",
    );
  });

  test('a kind that does not match the content', () => {
    refused(() => sum('trivy.json', fixture('trivy-0.52.json'), { kind: 'tests' }), "report 'trivy.json': attached as a test report, but it is not JUnit XML: it is Trivy JSON, a scan");
    refused(() => sum('results.txt', 'PASS src/cart.test.ts', { kind: 'tests' }), /report 'results.txt': attached as a test report, but it is not JUnit XML: it does not start with an XML element/);
    refused(() => sum('junit.xml', fixture('jest-junit.xml'), { kind: 'scan' }), /^report 'junit\.xml': attached as a scan, but it is XML; scans are SARIF, Trivy JSON, Grype JSON or npm-audit JSON/);
  });

  test('a format that does not match the content, or that does not exist', () => {
    refused(() => sum('scan.json', fixture('grype.json'), { format: 'trivy' }), "report 'scan.json': not Trivy JSON: it looks like Grype JSON");
    refused(() => sum('scan.json', { runs: [] }, { format: 'sarif' }), "report 'scan.json': not SARIF: no 'runs' list with a 'version'");
    refused(() => sum('scan.json', fixture('trivy-0.52.json'), { format: 'junit' }), "report 'scan.json': not JUnit XML: it is Trivy JSON, a scan");
    refused(() => sum('scan.xml', fixture('jest-junit.xml'), { format: 'grype' }), /^report 'scan\.xml': not Grype JSON, but it is XML/);
    refused(() => sum('bom.json', '{}', { format: 'cyclonedx' }), "report 'bom.json': unknown format 'cyclonedx'; known formats: sarif, trivy, grype, npm-audit, junit");
    refused(() => sum('t.xml', fixture('jest-junit.xml'), { kind: 'scan', format: 'junit' }), "report 't.xml': format 'junit' is a test report, but the report was attached as a scan");
  });

  test('a scan whose fields have the wrong types', () => {
    refused(() => sum('trivy.json', { SchemaVersion: 2, Results: { Target: 'x' } }), "report 'trivy.json': Trivy JSON has Results that is not a list");
    refused(() => sum('trivy.json', { SchemaVersion: 2, Results: [{ Target: 'web', Vulnerabilities: 'none' }] }), "report 'trivy.json': Trivy JSON has Vulnerabilities of 'web' that is not a list");
    refused(() => sum('audit.json', { auditReportVersion: 2, metadata: { vulnerabilities: { high: 'two' } } }), "report 'audit.json': npm audit JSON has metadata.vulnerabilities.high that is not a count");
    refused(() => sum('x.sarif', { version: '2.1.0', runs: [{ results: {} }] }), "report 'x.sarif': SARIF has runs[0].results that is not a list");
  });

  test('malformed XML, with the line', () => {
    refused(() => sum('junit.xml', '<testsuite tests="1">\n<testcase name="a">\n</testsuite>'), "report 'junit.xml': not well-formed XML: </testsuite> closes <testcase> (line 3)");
    refused(() => sum('junit.xml', '<testsuites><testsuite>'), "report 'junit.xml': not well-formed XML: <testsuite> is not closed");
    refused(() => sum('junit.xml', '<testsuite tests="1" name="a>\n'), /not well-formed XML: attribute 'name' of <testsuite> is not closed \(line 1\)/);
    refused(() => sum('junit.xml', '<testsuite tests=1/>'), /attribute 'tests' of <testsuite> is not quoted/);
    refused(() => sum('junit.xml', '<testsuite><!-- never closed </testsuite>'), /a comment is not closed/);
    refused(() => sum('junit.xml', '<testsuite tests="1"/>\n<testsuite tests="2"/>'), "report 'junit.xml': not well-formed XML: a second root element <testsuite> (line 2)");
    refused(() => sum('junit.xml', '<testsuite><testcase name="1 < 2"/></testsuite>'), /not well-formed XML/);
  });

  test('XML that is not JUnit, or JUnit without figures', () => {
    refused(() => sum('junit.xml', '<html><body/></html>'), "report 'junit.xml': XML but not JUnit: the root element is <html>, expected <testsuites> or <testsuite>");
    refused(() => sum('junit.xml', '<testsuite tests="many"/>'), "report 'junit.xml': <testsuite tests=\"many\"> is not a count (line 1)");
    refused(() => sum('junit.xml', '<testsuite name="unit" time="0.1"></testsuite>'), "report 'junit.xml': <testsuite> missing tests count, and there is no <testcase> in it");
    refused(() => sum('junit.xml', '<!-- only a comment -->'), "report 'junit.xml': no XML element in it; expected JUnit XML");
  });
});

describe('large reports are read in linear time', () => {
  test('a 20 MB Trivy report', () => {
    const big = {
      SchemaVersion: 2,
      Results: [{ Target: 'x', Vulnerabilities: Array.from({ length: 150_000 }, (_, i) => ({ VulnerabilityID: `CVE-${i}`, PkgName: 'p'.repeat(60), Severity: i % 2 ? 'HIGH' : 'LOW' })) }],
    };
    const s = sum('big.json', big);
    assert.deepEqual(s.vulnerabilities, vulns(0, 75_000, 0, 75_000, 0));
  });

  test('a 40 MB SARIF report with one rule per result', () => {
    const n = 100_000;
    const rules = Array.from({ length: n }, (_, i) => ({ id: `R${i}`, properties: { 'security-severity': i % 10 === 0 ? '9.8' : '5.0', tags: ['security'] } }));
    const results = Array.from({ length: n }, (_, i) => ({ ruleId: `R${i}`, level: 'warning', message: { text: 'm'.repeat(100) } }));
    const s = sum('big.sarif', { version: '2.1.0', runs: [{ tool: { driver: { name: 'x', rules } }, results }] });
    assert.deepEqual(s.vulnerabilities, vulns(10_000, 0, 90_000, 0, 0));
  });

  test('a 50 MB JUnit report with long output and long attribute values', () => {
    const out = 'x'.repeat(400);
    const cases: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const body = i % 100 === 0 ? `<failure message="${'m'.repeat(50)}"><![CDATA[${out}]]></failure>` : `<system-out>${out}</system-out>`;
      cases.push(`<testcase classname="c${i}" name="${'n'.repeat(40)} &amp; ${i}">${body}</testcase>`);
    }
    const xml = `<?xml version="1.0"?>\n<testsuites><testsuite name="big">${cases.join('\n')}</testsuite></testsuites>`;
    assert.ok(xml.length > 45_000_000);
    assert.deepEqual(sum('big.xml', xml).tests, { total: 100_000, failures: 1_000, errors: 0, skipped: 0 });
  });
});
