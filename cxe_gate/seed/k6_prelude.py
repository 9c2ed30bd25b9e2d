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
// CXE_SEEDED_HOST_MAP: "RECORDED_HOST=TARGET,..." as the Playwright suite reads it (--host-map):
// each host besides the main one is sent to its TARGET (a host, with BASE_URL's scheme, or a URL).
const HOST_MAP_SPEC = __ENV.CXE_SEEDED_HOST_MAP || '';
"""

HELPERS = r"""
// What a multipart post uploads in place of a recorded file: a recording never keeps a file's
// content, only its name and type.
const PLACEHOLDER_FILE = 'cxe-gate placeholder file\n';
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
  const unmapped = Object.keys(HOSTS).filter(function (host) {
    return HOST_BASES[host.toLowerCase()] === undefined;
  });
  if (HOST_MAP.problems.length > 0 || unmapped.length > 0) {
    missing.push(
      'CXE_SEEDED_HOST_MAP: a recorded host is never called as it is (it may be production); ' +
        'map each to the host to test, e.g. -e CXE_SEEDED_HOST_MAP=api.example.com=' +
        'staging-api.example.com' +
        HOST_MAP.problems.map(function (p) { return '\n    not HOST=TARGET: ' + p; }).join('') +
        unmapped.map(function (h) { return '\n    not mapped: ' + h + ' (' + HOSTS[h] + ')'; }).join('')
    );
  }
  if (missing.length > 0) {
    throw new Error(
      missing.length + ' variable(s) this script reads are not set (secrets replace values ' +
        'scrubbed from the recorded sessions; pass them with -e NAME=VALUE):\n  - ' +
        missing.join('\n  - ')
    );
  }
}

function hostMap(spec) {
  const mapped = {};
  const problems = [];
  for (const pair of spec.split(',')) {
    if (pair.trim() === '') {
      continue;
    }
    const at = pair.indexOf('=');
    const host = (at < 0 ? pair : pair.slice(0, at)).trim().toLowerCase();
    const target = at < 0 ? '' : pair.slice(at + 1).trim().replace(/\/+$/, '');
    if (host === '' || target === '' || host.indexOf('/') >= 0) {
      problems.push(pair.trim());
    } else {
      mapped[host] = target;
    }
  }
  return { mapped: mapped, problems: problems };
}

const HOST_MAP = hostMap(HOST_MAP_SPEC);
const SCHEME = BASE.indexOf('://') > 0 ? BASE.slice(0, BASE.indexOf('://')) : 'https';
// Recorded host -> the origin its requests go to.
const HOST_BASES = {};
for (const host of Object.keys(HOST_MAP.mapped)) {
  const target = HOST_MAP.mapped[host];
  HOST_BASES[host] = target.indexOf('://') > 0 ? target : SCHEME + '://' + target;
}

// Where a recorded host's requests go (setup() checked every host the journeys call is mapped).
function origin(host) {
  const found = HOST_BASES[host.toLowerCase()];
  if (found === undefined) {
    throw new Error('recorded host ' + host + ' is not mapped (CXE_SEEDED_HOST_MAP)');
  }
  return found;
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

// A Location's path and query (an absolute one's origin is dealt with by follow()).
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
  if (ORIGIN.test(location)) {
    // A recorded host goes where it is mapped; a host the run was sent to stays; any other
    // (the recorded main host, an unknown one) is BASE_URL: the run never leaves the hosts given.
    const at = location.match(ORIGIN)[0];
    const host = at.replace(/^[^:]*:\/\//, '').toLowerCase();
    const known = Object.keys(HOST_BASES).map(function (h) { return HOST_BASES[h]; });
    const to = HOST_BASES[host] !== undefined ? HOST_BASES[host] : known.indexOf(at) >= 0 ? at : BASE;
    return to + (pathOf(location) || '/');
  }
  if (location.charAt(0) === '/') {
    const from = previous.url.match(ORIGIN);
    return (from ? from[0] : BASE) + (pathOf(location) || '/');
  }
  return previous.url.split('#')[0].split('?')[0].replace(/[^\/]*$/, '') + pathOf(location);
}
"""
