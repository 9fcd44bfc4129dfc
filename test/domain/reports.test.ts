// Attached reports: each scanner's real output shape gives the counts a user would read off
// it, JUnit totals survive nesting and lying attributes, and unreadable reports are refused
// naming the file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { summarizeReport } from '../../src/domain/reports.js';
import { InputError } from '../../src/errors.js';

const SHA = 'f'.repeat(64);
const sum = (name: string, content: unknown, opts: { kind?: 'scan' | 'tests'; format?: string } = {}) =>
  summarizeReport({ name, content: typeof content === 'string' ? content : JSON.stringify(content), ...opts }, SHA);

const trivy = {
  SchemaVersion: 2,
  ArtifactName: 'registry.example.com/web:1.4.2',
  ArtifactType: 'container_image',
  Results: [
    {
      Target: 'registry.example.com/web:1.4.2 (debian 12.5)',
      Class: 'os-pkgs',
      Type: 'debian',
      Vulnerabilities: [
        { VulnerabilityID: 'CVE-2024-0001', PkgName: 'openssl', Severity: 'CRITICAL' },
        { VulnerabilityID: 'CVE-2024-0002', PkgName: 'zlib', Severity: 'HIGH' },
        { VulnerabilityID: 'CVE-2024-0003', PkgName: 'zlib', Severity: 'HIGH' },
        { VulnerabilityID: 'CVE-2024-0004', PkgName: 'tar', Severity: 'LOW' },
      ],
    },
    { Target: 'app/package-lock.json', Class: 'lang-pkgs', Type: 'npm' }, // clean: no Vulnerabilities key
    {
      Target: 'app/package-lock.json',
      Class: 'lang-pkgs',
      Type: 'npm',
      Vulnerabilities: [
        { VulnerabilityID: 'GHSA-xxxx', PkgName: 'lodash', Severity: 'MEDIUM' },
        { VulnerabilityID: 'CVE-2024-9', PkgName: 'left-pad', Severity: 'UNKNOWN' },
      ],
    },
  ],
};

const grype = {
  matches: [
    { vulnerability: { id: 'CVE-1', severity: 'Critical' }, artifact: { name: 'openssl' } },
    { vulnerability: { id: 'CVE-2', severity: 'High' }, artifact: { name: 'zlib' } },
    { vulnerability: { id: 'CVE-3', severity: 'Negligible' }, artifact: { name: 'tar' } },
    { vulnerability: { id: 'CVE-4', severity: 'Unknown' }, artifact: { name: 'bash' } },
    { vulnerability: { id: 'CVE-5', severity: 'Medium' }, artifact: { name: 'curl' } },
  ],
  source: { type: 'image', target: { userInput: 'web:1.4.2' } },
  descriptor: { name: 'grype', version: '0.74.0' },
};

const npmAuditV2 = {
  auditReportVersion: 2,
  vulnerabilities: {
    minimist: { name: 'minimist', severity: 'critical', isDirect: false, via: [] },
    'node-fetch': { name: 'node-fetch', severity: 'high', isDirect: true, via: [] },
    semver: { name: 'semver', severity: 'moderate', isDirect: false, via: [] },
    debug: { name: 'debug', severity: 'low', isDirect: false, via: [] },
    ms: { name: 'ms', severity: 'info', isDirect: false, via: [] },
  },
  metadata: { vulnerabilities: { info: 1, low: 1, moderate: 1, high: 1, critical: 1, total: 5 } },
};

const npmAuditV1 = {
  actions: [],
  advisories: {
    '1179': { id: 1179, module_name: 'minimist', severity: 'critical' },
    '1500': { id: 1500, module_name: 'yargs-parser', severity: 'moderate' },
    '1523': { id: 1523, module_name: 'lodash', severity: 'low' },
  },
  metadata: { vulnerabilities: { info: 0, low: 1, moderate: 1, high: 0, critical: 1 }, dependencies: 120 },
};

const sarifTrivy = {
  version: '2.1.0',
  $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
  runs: [
    {
      tool: {
        driver: {
          name: 'Trivy',
          rules: [
            { id: 'CVE-2024-0001', properties: { 'security-severity': '9.8', tags: ['vulnerability', 'security', 'CRITICAL'] } },
            { id: 'CVE-2024-0002', properties: { 'security-severity': '7.5', tags: ['vulnerability', 'security', 'HIGH'] } },
            { id: 'CVE-2024-0003', properties: { 'security-severity': '5.3' } },
            { id: 'CVE-2024-0004', properties: { 'security-severity': '2.0' } },
          ],
        },
      },
      results: [
        { ruleId: 'CVE-2024-0001', ruleIndex: 0, level: 'error', message: { text: 'openssl' } },
        { ruleId: 'CVE-2024-0002', ruleIndex: 1, level: 'error', message: { text: 'zlib' } },
        { ruleId: 'CVE-2024-0002', ruleIndex: 1, level: 'error', message: { text: 'zlib again' } },
        { ruleId: 'CVE-2024-0003', ruleIndex: 2, level: 'warning', message: { text: 'curl' } },
        { ruleIndex: 3, level: 'note', message: { text: 'tar, referenced by index only' } },
      ],
    },
  ],
};

const sarifLevels = {
  version: '2.1.0',
  runs: [
    {
      tool: { driver: { name: 'CodeQL', rules: [{ id: 'js/sql-injection', defaultConfiguration: { level: 'error' } }, { id: 'js/unused' }] } },
      results: [
        { ruleId: 'js/sql-injection', message: { text: 'uses the rule default level' } },
        { ruleId: 'js/unused', message: { text: 'no level anywhere: warning' } },
        { ruleId: 'js/unused', level: 'note', message: { text: 'n' } },
        { ruleId: 'js/unused', level: 'none', message: { text: 'n' } },
      ],
    },
    { tool: { driver: { name: 'second run' } }, results: [{ level: 'error', message: { text: 'e' } }] },
  ],
};

describe('vulnerability scans: counts by severity', () => {
  test('Trivy JSON (schema v2), with a clean result that has no Vulnerabilities', () => {
    const s = sum('trivy.json', trivy);
    assert.equal(s.kind, 'scan');
    assert.equal(s.format, 'trivy');
    assert.equal(s.sha256, SHA);
    assert.deepEqual(s.vulnerabilities, { critical: 1, high: 2, medium: 1, low: 1, unknown: 1 });
  });

  test('Trivy JSON of a clean image has no Results at all', () => {
    assert.deepEqual(sum('trivy.json', { SchemaVersion: 2, ArtifactName: 'web:1' }).vulnerabilities, { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 });
  });

  test('Grype JSON: Negligible counts as low, Unknown as unknown', () => {
    const s = sum('grype.json', grype);
    assert.equal(s.format, 'grype');
    assert.deepEqual(s.vulnerabilities, { critical: 1, high: 1, medium: 1, low: 1, unknown: 1 });
  });

  test('npm audit v2 (npm 7+) and v1 (npm 6): moderate is medium, info is low', () => {
    assert.deepEqual(sum('audit.json', npmAuditV2).vulnerabilities, { critical: 1, high: 1, medium: 1, low: 2, unknown: 0 });
    assert.deepEqual(sum('audit-v1.json', npmAuditV1).vulnerabilities, { critical: 1, high: 0, medium: 1, low: 1, unknown: 0 });
    assert.equal(sum('audit.json', npmAuditV2).format, 'npm-audit');
  });

  test('SARIF from Trivy: security-severity on the rule decides, by id or by index', () => {
    const s = sum('trivy.sarif', sarifTrivy);
    assert.equal(s.format, 'sarif');
    assert.deepEqual(s.vulnerabilities, { critical: 1, high: 2, medium: 1, low: 1, unknown: 0 });
  });

  test('SARIF with levels only: result level, else the rule default, else warning; runs add up', () => {
    assert.deepEqual(sum('codeql.sarif', sarifLevels).vulnerabilities, { critical: 0, high: 2, medium: 1, low: 1, unknown: 1 });
  });

  test('the demo\'s reports', () => {
    const read = (f: string) => fs.readFileSync(`examples/demo/reports/${f}`, 'utf8');
    assert.equal(sum('trivy-clean.json', read('trivy-clean.json')).vulnerabilities?.critical, 0);
    assert.ok((sum('trivy-critical.json', read('trivy-critical.json')).vulnerabilities?.critical ?? 0) > 0);
    assert.equal(sum('junit.xml', read('junit.xml')).tests?.failures, 0);
  });
});

describe('JUnit XML: test totals', () => {
  test('nested suites (surefire/jest-junit style) count each test once', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by jest-junit -->
<testsuites name="jest tests" tests="5" failures="1" errors="0" time="1.2">
  <testsuite name="cart &amp; checkout" tests="3" failures="1" errors="0" skipped="1" time="0.5">
    <testcase classname="cart adds" name="adds an item" time="0.01"/>
    <testcase classname="cart" name="rejects &lt;script&gt; names" time="0.02">
      <failure message="expected 1 &gt; 2"><![CDATA[AssertionError: <testcase> inside CDATA is text, not a test]]></failure>
    </testcase>
    <testcase classname="cart" name="later"><skipped/></testcase>
  </testsuite>
  <testsuite name="api" tests="2" failures="0" errors="0">
    <testsuite name="api.users" tests="2" failures="0" errors="0">
      <testcase classname="users" name="lists"/>
      <testcase classname="users" name="finds 'me'" time="0.3"></testcase>
    </testsuite>
  </testsuite>
</testsuites>`;
    const s = sum('junit.xml', xml);
    assert.equal(s.kind, 'tests');
    assert.equal(s.format, 'junit');
    assert.deepEqual(s.tests, { total: 5, failures: 1, errors: 0, skipped: 1 });
  });

  test('a single testsuite root; a failing case hides behind suite attributes that say 0', () => {
    const xml = `<testsuite name="unit" tests="2" failures="0" errors="0">
  <testcase name="a"/>
  <testcase name="b"><error message="boom" type="Error">stack</error></testcase>
</testsuite>`;
    assert.deepEqual(sum('TEST-unit.xml', xml).tests, { total: 2, failures: 0, errors: 1, skipped: 0 });
  });

  test('declared totals are kept when test cases were trimmed from the report', () => {
    assert.deepEqual(sum('junit.xml', '<testsuites><testsuite tests="40" failures="2" errors="0" skipped="3"/></testsuites>').tests, {
      total: 40,
      failures: 2,
      errors: 0,
      skipped: 3,
    });
  });
});

describe('reports that cannot be read are refused, naming the file', () => {
  const refused = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (err: unknown) => err instanceof InputError && pattern.test(err.message));

  test('empty, not JSON, unknown JSON shape', () => {
    refused(() => sum('scan.json', '   \n'), /report 'scan.json' is empty/);
    refused(() => sum('scan.json', '{"Results": ['), /report 'scan.json' is not valid JSON/);
    refused(() => sum('mystery.json', { hello: 'world' }), /report 'mystery.json' is JSON but not a recognised scan \(SARIF, Trivy JSON, Grype JSON or npm audit JSON\)/);
  });

  test('a kind or format that does not match the content', () => {
    refused(() => sum('trivy.json', trivy, { kind: 'tests' }), /report 'trivy.json' was attached as a test report, but it is a Trivy scan/);
    refused(() => sum('junit.xml', '<testsuite tests="1"/>', { kind: 'scan' }), /attached as a scan, but it is JUnit XML/);
    refused(() => sum('scan.json', grype, { format: 'trivy' }), /report 'scan.json' is not a Trivy scan: /);
    refused(() => sum('scan.json', trivy, { format: 'cyclonedx' }), /unknown format 'cyclonedx'/);
  });

  test('malformed or foreign XML', () => {
    refused(() => sum('junit.xml', '<testsuite tests="1"><testcase name="a"></testsuite>'), /not well-formed XML: <\/testsuite> closes <testcase>/);
    refused(() => sum('junit.xml', '<testsuites><testsuite>'), /not well-formed XML: <testsuite> is not closed/);
    refused(() => sum('junit.xml', '<html><body/></html>'), /is XML but not JUnit: the root element is <html>/);
    refused(() => sum('junit.xml', '<testsuite tests="many"/>'), /<testsuite tests="many"> is not a count/);
  });

  test('a 20 MB Trivy report is read in linear time', () => {
    const big = { SchemaVersion: 2, Results: [{ Target: 'x', Vulnerabilities: Array.from({ length: 150_000 }, (_, i) => ({ VulnerabilityID: `CVE-${i}`, PkgName: 'p'.repeat(60), Severity: i % 2 ? 'HIGH' : 'LOW' })) }] };
    const s = sum('big.json', big);
    assert.equal(s.vulnerabilities?.high, 75_000);
    assert.equal(s.vulnerabilities?.low, 75_000);
  });
});
