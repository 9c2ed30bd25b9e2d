"""The fixed part of a seeded k6 script: its imports, the settings read from `-e` variables, and the
helpers its journeys call (reading a secret, encoding a form, capturing a value from an answer,
following a redirect). Our own code, written once here; no recorded value ever enters it."""

from __future__ import annotations

IMPORTS = """\
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { parseHTML } from 'k6/html';
"""

SETTINGS = """\
// Settings, from -e NAME=VALUE: BASE_URL (required), VUS and DURATION (a load run), ITERATIONS
// (a smoke run: each journey that many times on one VU), THINK_SCALE (0: no pauses).
const BASE = (__ENV.BASE_URL || '').replace(/\\/+$/, '');
const VUS = Number(__ENV.VUS || 10);
const DURATION = __ENV.DURATION || '5m';
const ITERATIONS = Number(__ENV.ITERATIONS || 0);
const THINK_SCALE = __ENV.THINK_SCALE === undefined ? 1 : Number(__ENV.THINK_SCALE);
"""

HELPERS = r"""
// Each journey gets its share of the virtual users (at least one).
function scenario(exec, share) {
  if (ITERATIONS > 0) {
    return { executor: 'per-vu-iterations', exec: exec, vus: 1, iterations: ITERATIONS };
  }
  const vus = Math.max(1, Math.round((VUS * share) / TOTAL_SHARE));
  return { executor: 'constant-vus', exec: exec, vus: vus, duration: DURATION };
}

// Every variable the run needs, checked once before any journey starts: one message names all
// that are missing.
export function setup() {
  const missing = [];
  if (!__ENV.BASE_URL) {
    missing.push('BASE_URL: the site to test, e.g. -e BASE_URL=https://staging.example.com');
  }
  for (const name of Object.keys(SECRETS)) {
    if (__ENV[name] === undefined) {
      missing.push(name + ': ' + SECRETS[name]);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      missing.length + ' variable(s) this script reads are not set (secrets replace values ' +
        'scrubbed from the recorded sessions; pass them with -e NAME=VALUE):\n  - ' +
        missing.join('\n  - ')
    );
  }
}

// A value scrubbed from the recordings, set with -e (setup() checked it is there).
function env(name) {
  return __ENV[name];
}

function think(seconds) {
  if (THINK_SCALE > 0) {
    sleep(seconds * THINK_SCALE);
  }
}

function params(name, route, headers) {
  return { headers: headers, tags: { name: name, cxe_route: route } };
}

// An urlencoded form body from [name, value] pairs (a field sent several times is several pairs).
function form(pairs) {
  return pairs
    .map(function (pair) {
      return encodeURIComponent(pair[0]) + '=' + encodeURIComponent(pair[1]);
    })
    .join('&');
}

function header(res, name) {
  for (const key of Object.keys(res.headers || {})) {
    if (key.toLowerCase() === name) {
      return res.headers[key];
    }
  }
  return undefined;
}

function decoded(text, plus) {
  try {
    return decodeURIComponent(plus ? text.replace(/\+/g, ' ') : text);
  } catch (e) {
    return text;
  }
}

const ORIGIN = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\/?#]*/;

// A Location's path and query (absolute ones lose their origin: the run stays on BASE_URL).
function pathOf(location) {
  return location.replace(ORIGIN, '').split('#')[0];
}

function locationPart(location, key) {
  const rest = pathOf(location);
  const at = rest.indexOf('?');
  const path = at < 0 ? rest : rest.slice(0, at);
  if (typeof key === 'number') {
    const segments = path.split('/');
    return key < segments.length ? decoded(segments[key], false) : undefined;
  }
  let found;
  for (const pair of (at < 0 ? '' : rest.slice(at + 1)).split('&')) {
    const eq = pair.indexOf('=');
    if (pair && decoded(eq < 0 ? pair : pair.slice(0, eq), true) === key) {
      found = eq < 0 ? '' : decoded(pair.slice(eq + 1), true);
    }
  }
  return found;
}

function htmlValue(res, tag, attribute, name) {
  const elements = parseHTML(res.body || '').find(tag).toArray();
  for (const element of elements) {
    if (element.attr('name') === name) {
      return element.attr(attribute) || '';
    }
  }
  return undefined;
}

function jsonValue(res, key) {
  let value;
  try {
    value = res.json();
  } catch (e) {
    return undefined;
  }
  for (const part of key) {
    if (value === null || typeof value !== 'object' || !(part in value)) {
      return undefined;
    }
    value = value[part];
  }
  return value === null || value === undefined || typeof value === 'object'
    ? undefined
    : String(value);
}

// A value an answer hands out for later requests to send back (undefined: not there).
function capture(res, source, key) {
  if (source === 'json') {
    return jsonValue(res, key);
  }
  if (source === 'html_input') {
    return htmlValue(res, 'input', 'value', key[0]);
  }
  if (source === 'html_meta') {
    return htmlValue(res, 'meta', 'content', key[0]);
  }
  if (source === 'location') {
    const location = header(res, 'location');
    return location === undefined || key.length === 0 ? location : locationPart(location, key[0]);
  }
  if (source === 'header') {
    return header(res, String(key[0]).toLowerCase());
  }
  if (source === 'cookie') {
    const cookies = (res.cookies || {})[key[0]];
    return cookies && cookies.length > 0 ? cookies[0].value : undefined;
  }
  return undefined;
}

// Where the previous page redirected to; the recorded path when it did not redirect.
function follow(previous, recorded) {
  const redirected = previous && previous.status >= 300 && previous.status < 400;
  const location = redirected ? header(previous, 'location') : undefined;
  if (location === undefined) {
    return recorded;
  }
  if (ORIGIN.test(location) || location.charAt(0) === '/') {
    return BASE + (pathOf(location) || '/');
  }
  return previous.url.split('#')[0].split('?')[0].replace(/[^\/]*$/, '') + pathOf(location);
}
"""
