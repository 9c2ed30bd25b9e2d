// Prints a seeded k6 script's exported `options` as JSON, as `k6 inspect` does, with __ENV from the
// environment (so `VUS=8` shapes the scenarios). Usage: node options.mjs SCRIPT.mjs (with
// node_modules/k6 beside the script).
import { pathToFileURL } from 'node:url';

globalThis.__ENV = { ...process.env };
const script = await import(pathToFileURL(process.argv[2]).href);
process.stdout.write(JSON.stringify(script.options));
