// 'k6': check, group and sleep, recording what they were given.
import { record } from './state.js';

export function check(value, sets) {
  let all = true;
  for (const [name, test] of Object.entries(sets)) {
    const ok = Boolean(test(value));
    record.checks.push({ name, ok });
    all = all && ok;
  }
  return all;
}

export function group(name, fn) {
  record.groups.push(name);
  return fn();
}

export function sleep(seconds) {
  record.sleeps.push(seconds);
}
