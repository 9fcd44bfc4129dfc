// Writes src/domain/holiday-regions.ts: the countries date-holidays knows and each one's
// regions, so validating a config's holiday freeze needs no holiday data.
//   node --import tsx scripts/holiday-regions.ts
import fs from 'node:fs';
import path from 'node:path';
import { holidayRegionsSource } from '../test/support/holiday-regions.js';

const file = path.resolve(import.meta.dirname, '../src/domain/holiday-regions.ts');
fs.writeFileSync(file, holidayRegionsSource());
console.log(`wrote ${file}`);
