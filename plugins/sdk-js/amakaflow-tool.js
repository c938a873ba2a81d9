// The JavaScript guest SDK of amakaflow-chat: write a tool the model can call as a JavaScript
// function, build it into a WebAssembly component with componentize-js, drop it into PLUGINS_DIR.
//
// It gives what the Rust SDK (plugins/sdk) gives: functions registered with a description and a
// JSON Schema object for their arguments, JSON arguments in and a result out, errors in the original
// shape ({"error": true, "code": ..., "message": ...}), and the host's capabilities scoped to this
// plugin and the calling user: config, state, log, flags, rateLimit and outgoing HTTP (http, over
// wasi:http through fetch, checked by the host's egress policy).
//
//   import { Plugin, ToolError, config, http } from './amakaflow-tool.js';
//
//   const plugin = new Plugin();
//   plugin.function('get_workout_details', 'Gets one workout with its exercises.', {
//     type: 'object',
//     properties: { workout_id: { type: 'string', description: "The workout's id" } },
//     required: ['workout_id'],
//   }, async (ctx, args) => {
//     const workout = await http.get(`${config.required('mapper_url')}/workouts/${args.workout_id}`).then((r) => r.json());
//     return { success: true, workout };
//   });
//
//   export const { describe, call } = plugin.exports();   // what componentize-js exports
//
// This file is copied beside the plugin's source when it is built (componentize-js reads the
// modules of one directory).

import * as host from 'amakaflow:tool/host@0.1.0';

/** The error codes of the original service and the SDK's own (as `codes` in the Rust SDK). */
export const codes = Object.freeze({
  VALIDATION_ERROR: 'validation_error',
  EXECUTION_ERROR: 'execution_error',
  INTERNAL_ERROR: 'internal_error',
  NOT_FOUND: 'not_found',
  CONFIRMATION_REQUIRED: 'confirmation_required',
  RATE_LIMIT_EXCEEDED: 'rate_limit_exceeded',
  FEATURE_DISABLED: 'feature_disabled',
  STATE_QUOTA_EXCEEDED: 'state_quota_exceeded',
});

/**
 * A failure shown to the model as {"error": true, "code", "message"}. Throw it from a tool
 * function; anything else thrown is a bug and ends the call as the host's `plugin_trap`.
 */
export class ToolError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
    // componentize-js lowers a thrown value's `payload` as the `err` of the export's result.
    this.payload = { code, message };
  }
  static validation(message) { return new ToolError(codes.VALIDATION_ERROR, message); }
  static execution(message) { return new ToolError(codes.EXECUTION_ERROR, message); }
  static internal(message) { return new ToolError(codes.INTERNAL_ERROR, message); }
  static notFound(message) { return new ToolError(codes.NOT_FOUND, message); }
}

/** The `[config]` values of plugin.toml, interpolated by the host (never secrets). */
export const config = {
  get: (key) => host.config(key) ?? undefined,
  required(key) {
    const value = host.config(key);
    if (value === undefined || value === null) {
      throw ToolError.internal(`The tool is misconfigured: \`${key}\` is not set.`);
    }
    return value;
  },
};

/** Lines in the host's structured log (at most 100 lines of 4 KiB per call). */
export const log = {
  debug: (message) => host.log('debug', String(message)),
  info: (message) => host.log('info', String(message)),
  warn: (message) => host.log('warn', String(message)),
  error: (message) => host.log('error', String(message)),
};

/**
 * A key-value store scoped to this plugin and the calling user, with expiry (memory never survives
 * a call). Keys are at most 256 bytes, values at most 1 MiB, lifetimes 1 second to 30 days.
 */
export const state = {
  get: (key) => host.stateGet(key) ?? undefined,
  put(key, value, ttlSeconds) {
    const seconds = Math.min(Math.max(Math.ceil(ttlSeconds), 1), 2 ** 32 - 1);
    try {
      host.statePut(key, String(value), seconds);
    } catch (err) {
      const message = String(err?.payload ?? err);
      const quota = message.startsWith(codes.STATE_QUOTA_EXCEEDED);
      throw new ToolError(quota ? codes.STATE_QUOTA_EXCEEDED : codes.INTERNAL_ERROR, message);
    }
  },
  take: (key) => host.stateTake(key) ?? undefined,
  delete: (key) => host.stateDelete(key),
  getJson: (key) => parseOrUndefined(state.get(key)),
  putJson: (key, value, ttlSeconds) => state.put(key, JSON.stringify(value), ttlSeconds),
  takeJson: (key) => parseOrUndefined(state.take(key)),
};

function parseOrUndefined(text) {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Feature flags of the calling user (user scope wins over global). */
export const flags = {
  get: (key) => parseOrUndefined(host.featureFlag(key) ?? undefined),
  enabled(key, fallback = false) {
    const value = flags.get(key);
    return typeof value === 'boolean' ? value : fallback;
  },
  listContains(key, item) {
    const value = flags.get(key);
    return Array.isArray(value) && value.includes(item);
  },
};

/** Per-user hourly rate limits: counts one call of `bucket` and says whether it fit. */
export const rateLimit = {
  checkHour: (bucket, limitPerHour) => host.rateLimitHour(bucket, limitPerHour),
};

/** Why a request failed: kind is `timeout`, `connect`, `status` or `decode`. */
export class HttpError extends Error {
  constructor(kind, detail = '', status = undefined) {
    super(detail ? `${kind}: ${detail}` : kind);
    this.kind = kind;
    this.status = status;
  }

  /** The original service's message for this failure (an `execution_error`). */
  toToolError() {
    if (this.kind === 'timeout') return ToolError.execution('The service is taking too long. Please try again.');
    if (this.kind === 'status') {
      if (this.status === 401) return ToolError.execution('Authentication error. Please try logging in again.');
      if (this.status === 404) return ToolError.execution('The requested item was not found.');
      return ToolError.execution(`Service error (${this.status})`);
    }
    if (this.kind === 'decode') return ToolError.execution('The service returned an unexpected response.');
    return ToolError.execution('Unable to connect to the service.');
  }
}

const DEFAULT_TIMEOUT_SECONDS = 30;

/**
 * Outgoing HTTP through fetch (wasi:http): only the origins plugin.toml allows; the caller's
 * credentials and secret headers are added by the host on the way out. Each helper resolves to a
 * response whose `json()` and `text()` reject with an HttpError for a status other than 2xx.
 * Options: params (query), json (body), body, headers, timeoutSeconds (default: the
 * `http_timeout_seconds` config value, else 30).
 */
export const http = {
  request,
  get: (url, options) => request('GET', url, options),
  post: (url, options) => request('POST', url, options),
  put: (url, options) => request('PUT', url, options),
  patch: (url, options) => request('PATCH', url, options),
  delete: (url, options) => request('DELETE', url, options),
};

async function request(method, url, options = {}) {
  let target = url;
  if (options.params) {
    const query = Object.entries(options.params).map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
    target += (target.includes('?') ? '&' : '?') + query;
  }
  const headers = { ...(options.headers ?? {}) };
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  }
  const seconds = options.timeoutSeconds ?? (Number(config.get('http_timeout_seconds')) || DEFAULT_TIMEOUT_SECONDS);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new HttpError('timeout')), seconds * 1000);
  });
  try {
    const response = await Promise.race([fetch(target, { method, headers, body }), timeout]).catch((err) => {
      throw err instanceof HttpError ? err : new HttpError('connect', String(err?.message ?? err));
    });
    const bytes = new Uint8Array(await Promise.race([response.arrayBuffer(), timeout]));
    return new Response(response.status, response.headers, bytes);
  } finally {
    clearTimeout(timer);
  }
}

/** Percent-encodes everything but RFC 3986's unreserved characters (as the Rust SDK does). */
function encode(value) {
  return encodeURIComponent(String(value)).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

class Response {
  constructor(status, headers, bytes) {
    this.status = status;
    this.headers = headers;
    this.bytes = bytes;
  }
  get ok() { return this.status >= 200 && this.status < 300; }
  raiseForStatus() {
    if (!this.ok) throw new HttpError('status', String(this.status), this.status);
    return this;
  }
  text() {
    this.raiseForStatus();
    return new TextDecoder().decode(this.bytes);
  }
  json() {
    const text = this.text();
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new HttpError('decode', String(err));
    }
  }
}

/**
 * The functions of one plugin. Register each with `function(name, description, schema, handler)`
 * and export `describe` and `call` from `plugin.exports()`.
 */
export class Plugin {
  constructor() {
    this.functions = new Map();
  }

  /**
   * Adds `handler(ctx, args)` (sync or async). `name` is what the model calls
   * (`[a-z][a-z0-9_]{0,63}`, unique across every loaded plugin); `schema` is the JSON Schema of the
   * arguments object (`{type: 'object', properties, required}`), validated by the host before the
   * handler runs. The handler returns a string (handed to the model as is) or a JSON value.
   */
  function(name, description, schema, handler) {
    if (schema?.type !== 'object') throw new Error(`${name}: the schema's root must be {type: 'object'}`);
    this.functions.set(name, { name, description, schema, handler });
    return this;
  }

  /** Runs one function: its result text, or a ToolError. */
  async run(ctx, argumentsJson) {
    const fn = this.functions.get(ctx.function);
    if (!fn) throw new ToolError('unknown_function', `Unknown function: ${ctx.function}`);
    let args;
    try {
      args = JSON.parse(argumentsJson);
    } catch (err) {
      throw ToolError.validation(`Invalid arguments for ${fn.name}: ${err.message}`);
    }
    let result;
    try {
      result = await fn.handler(ctx, args);
    } catch (err) {
      throw err instanceof HttpError ? err.toToolError() : err;
    }
    return typeof result === 'string' ? result : JSON.stringify(result);
  }

  /** The `describe` and `call` exports of the tool world. */
  exports() {
    return {
      describe: () =>
        [...this.functions.values()].map((f) => ({
          name: f.name,
          description: f.description,
          parametersSchema: JSON.stringify(f.schema),
        })),
      call: (context, functionName, argumentsJson) =>
        this.run({ ...context, function: functionName }, argumentsJson),
    };
  }
}

/**
 * Python's `json.dumps` text of a value (", " and ": " separators, non-ASCII escaped), for tools
 * whose results must read exactly as the original service's did.
 */
export function pyJson(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (typeof value === 'number') return Number.isInteger(value) && !Object.is(value, -0) ? String(value) : pyFloat(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  return `{${Object.entries(value).map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`).join(', ')}}`;
}

function pyFloat(value) {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  const text = String(value);
  return /[.e]/.test(text) ? text.replace(/e([+-])(\d)$/, 'e$10$2') : `${text}.0`;
}
