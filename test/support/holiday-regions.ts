// The source of src/domain/holiday-regions.ts as the installed date-holidays gives it: written
// by scripts/holiday-regions.ts and compared with the committed file by a test.
import { createRequire } from 'node:module';

export function holidayRegionsSource(): string {
  const Holidays = createRequire(import.meta.url)('date-holidays');
  const { version } = createRequire(import.meta.url)('date-holidays/package.json') as { version: string };
  const h = new Holidays();
  const countries = Object.keys(h.getCountries('en')).sort();
  const lines = countries.map((c) => `  ${c}: ${JSON.stringify(Object.keys(h.getStates(c, 'en') ?? {}).sort())},`);
  return `// Generated from date-holidays ${version} by scripts/holiday-regions.ts: the countries it knows and
// each one's regions, so a config's holiday freeze is checked (at file:line) without loading the
// holiday data itself. test/domain/calendar.test.ts keeps it equal to the installed package.
export const HOLIDAY_REGIONS: Record<string, readonly string[]> = {
${lines.join('\n')}
};
`;
}
