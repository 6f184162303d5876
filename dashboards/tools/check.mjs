// Checks Grafana dashboards against Grafana's own dashboard schema: the `Dashboard` type that the npm package
// @grafana/schema ships (the classic dashboard JSON, what Dashboards → Import takes), made into a JSON Schema with
// ts-json-schema-generator and checked with Ajv. Prints each violation with its JSON path; exit status 1 if any.
//
//   node dashboards/tools/check.mjs --modules DIR DASHBOARD.json...
//
// DIR is where scripts/setup.sh installed this folder's package-lock.json (~/.cache/redscribe/dashboard-tools).

import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const at = args.indexOf('--modules');
if (at < 0 || args.length < at + 3) {
  console.error('usage: check.mjs --modules DIR DASHBOARD.json...');
  process.exit(2);
}
const modules = args[at + 1];
const dashboards = args.filter((_, i) => i !== at && i !== at + 1);
const require = createRequire(join(modules, 'package.json'));
const { createGenerator } = require('ts-json-schema-generator');
const Ajv = require('ajv');

// The types file of the classic dashboard: its name has changed between releases, its interface has not.
const schemaPackage = join(modules, 'node_modules/@grafana/schema');
const typesDir = join(schemaPackage, 'dist/types/raw/dashboard/x');
const typesFile = readdirSync(typesDir)
  .filter((f) => f.endsWith('.d.ts'))
  .map((f) => join(typesDir, f))
  .find((f) => readFileSync(f, 'utf8').includes('export interface Dashboard '));
if (!typesFile) {
  console.error(`no Dashboard interface in ${typesDir}`);
  process.exit(2);
}
const version = JSON.parse(readFileSync(join(schemaPackage, 'package.json'), 'utf8')).version;
const schema = createGenerator({ path: typesFile, type: 'Dashboard', skipTypeCheck: true }).createSchema('Dashboard');
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

let failed = 0;
for (const file of dashboards) {
  const dashboard = JSON.parse(readFileSync(file, 'utf8'));
  if (validate(dashboard)) {
    console.log(`${file}: valid against @grafana/schema ${version} Dashboard`);
    continue;
  }
  failed += 1;
  for (const e of validate.errors) {
    const extra = e.params.additionalProperty ? ` (${e.params.additionalProperty})` : '';
    console.log(`${file}: ${e.instancePath || '/'} ${e.message}${extra}`);
  }
}
process.exit(failed ? 1 : 0);
