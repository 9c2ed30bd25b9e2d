// Runs a seeded k6 script under node with these stand-ins: __ENV from the environment, setup(),
// then each scenario's function as many times as it iterates (once for a load scenario), the
// cookie jar emptied before each run. Prints what happened as JSON: {error, requests, checks,
// groups, sleeps}. Usage: node run.mjs SCRIPT.mjs (with node_modules/k6 beside the script).
import { pathToFileURL } from 'node:url';
import { jar, record } from './state.js';

globalThis.__ENV = { ...process.env };
let error = null;
try {
  const script = await import(pathToFileURL(process.argv[2]).href);
  if (script.setup) {
    script.setup();
  }
  for (const scenario of Object.values(script.options.scenarios)) {
    for (let i = 0; i < (scenario.iterations || 1); i++) {
      jar.clear();
      script[scenario.exec]();
    }
  }
} catch (e) {
  error = String(e && e.message);
}
process.stdout.write(JSON.stringify({ error, ...record }));
