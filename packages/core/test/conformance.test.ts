/**
 * Replays fixtures/cases.json (a copy of the shared wire conformance cases) against a loopback fake
 * server: every exchange is matched strictly in order, responses are scripted byte for byte, and
 * the outcome is compared with the case's expectation (mapped onto the Effect API and our tagged
 * errors as the README says).
 */
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as HttpClient from "@effect/platform/HttpClient"
import * as fs from "node:fs"
import type * as http from "node:http"
import { Credentials, type MessageSession, ScaleSetClient, type ScaleSetSchema } from "@scaleset/core"
import { adminJwt, makeAppKey, makeTls, verifyRs256 } from "./helpers/keys.js"
import { makeAgent, ORIGINAL_URL_HEADER, redirectingClient, serve } from "./helpers/wire.js"

// ---------------------------------------------------------------------------------------------
// case model

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonObject = { readonly [key: string]: Json }

interface ExchangeRequest {
  readonly method: string
  readonly origin?: string
  readonly pathname: string
  readonly query: Record<string, string>
  readonly headers: JsonObject
  readonly body?: Json
  readonly bodyMatch?: "subset"
  readonly bodyAbsentKeys?: ReadonlyArray<string>
  readonly bodyEmpty?: boolean
}

interface ExchangeResponse {
  readonly status?: number
  readonly headers?: Record<string, string>
  readonly body?: Json
  readonly action?: "destroy"
  readonly delayMs?: number
}

interface Exchange {
  readonly label?: string
  readonly request: ExchangeRequest
  readonly response: ExchangeResponse
  readonly minDelayMsSincePrevious?: number
}

interface ClientOptions {
  readonly retryMax?: number
  readonly retryWaitMaxMs?: number
  readonly timeoutMs?: number
  readonly rootCAs?: ReadonlyArray<string>
}

interface Step {
  readonly op: string
  readonly args: JsonObject
}

interface ExpectedError {
  readonly kind: string | ReadonlyArray<string>
  readonly status?: number
  readonly activityId?: string
  readonly githubRequestId?: string
  readonly exceptionName?: string
  readonly exceptionMessage?: string
  readonly messageContains?: ReadonlyArray<string>
}

interface Case {
  readonly id: string
  readonly config: {
    readonly configUrl: string
    readonly auth: "pat" | "app"
    readonly pat?: string
    readonly app?: { readonly clientId: string; readonly installationId: number; readonly privateKey: string }
    readonly systemInfo: {
      readonly system: string
      readonly version: string
      readonly commitSha: string
      readonly scaleSetId: number
      readonly subsystem: string
    }
    readonly clientOptions?: ClientOptions
    readonly env?: Record<string, string>
    readonly server?: { readonly tls?: string }
  }
  readonly fixtures?: { readonly tokens?: { readonly adminTokenShort?: { readonly expInSeconds?: number } } }
  readonly requires?: ReadonlyArray<string>
  readonly setup?: ReadonlyArray<Step>
  readonly operation: Step
  readonly exchanges: ReadonlyArray<Exchange>
  readonly expect: { readonly result?: Json; readonly error?: ExpectedError; readonly connectionAttempts?: number }
}

const CASES_PATH = fileURLToPath(new URL("./fixtures/cases.json", import.meta.url))
const cases = JSON.parse(fs.readFileSync(CASES_PATH, "utf8")) as ReadonlyArray<Case>

// ---------------------------------------------------------------------------------------------
// fixtures (generated once)

const appKey = makeAppKey()
const tls = makeTls()

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Substitutes placeholders in every string, including JSON held in strings. */
const substitute = <T>(value: T, placeholders: Record<string, string>): T => {
  const replaceIn = (s: string): string => s.replace(/\{\{(\w+)\}\}/g, (m, name: string) => placeholders[name] ?? m)
  const walk = (u: unknown): unknown => {
    if (typeof u === "string") {
      if (!u.includes("{{")) return u
      const trimmed = u.trim()
      if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
        try {
          return JSON.stringify(walk(JSON.parse(u) as unknown))
        } catch {
          // not JSON: plain replacement
        }
      }
      return replaceIn(u)
    }
    if (Array.isArray(u)) return u.map(walk)
    if (isObject(u)) return Object.fromEntries(Object.entries(u).map(([k, v]) => [k, walk(v)]))
    return u
  }
  return walk(value) as T
}

// ---------------------------------------------------------------------------------------------
// the fake server

interface Recorder {
  exchanges: ReadonlyArray<Exchange>
  used: number
  failures: Array<string>
  frozen: boolean
  lastResponseAt: number | undefined
  serverUrl: string
  timers: Set<ReturnType<typeof setTimeout>>
}

const headerValue = (req: http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name.toLowerCase()]
  return Array.isArray(v) ? v.join(", ") : v
}

const deepEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    return ka.length === kb.length && ka.every((k) => k in b && deepEqual(a[k], b[k]))
  }
  return false
}

/** Every expected key present and equal (recursively for objects); arrays equal in full. */
const subsetEqual = (expected: unknown, actual: unknown): boolean => {
  if (isObject(expected)) {
    return isObject(actual) && Object.entries(expected).every(([k, v]) => k in actual && subsetEqual(v, actual[k]))
  }
  return deepEqual(expected, actual)
}

const matchHeader = (name: string, matcher: Json, actual: string | undefined): string | undefined => {
  const show = actual === undefined ? "absent" : JSON.stringify(actual)
  if (typeof matcher === "string") {
    return actual === matcher ? undefined : `header ${name}: expected ${JSON.stringify(matcher)}, got ${show}`
  }
  if (!isObject(matcher)) return `header ${name}: unsupported matcher`
  if (matcher.absent === true) return actual === undefined ? undefined : `header ${name}: expected absent, got ${show}`
  if (actual === undefined) return `header ${name}: missing`
  if (typeof matcher.startsWith === "string") {
    return actual.startsWith(matcher.startsWith) ? undefined : `header ${name}: ${show} does not start with ${matcher.startsWith}`
  }
  if (typeof matcher.matches === "string") {
    return new RegExp(matcher.matches).test(actual) ? undefined : `header ${name}: ${show} does not match ${matcher.matches}`
  }
  if ("jsonSubset" in matcher) {
    let parsed: unknown
    try {
      parsed = JSON.parse(actual)
    } catch {
      return `header ${name}: not JSON: ${show}`
    }
    if (!subsetEqual(matcher.jsonSubset, parsed)) return `header ${name}: ${show} lacks ${JSON.stringify(matcher.jsonSubset)}`
    const keys = Array.isArray(matcher.hasKeys) ? matcher.hasKeys : []
    const missing = keys.filter((k) => !(isObject(parsed) && typeof k === "string" && k in parsed))
    return missing.length === 0 ? undefined : `header ${name}: missing keys ${missing.join(", ")}`
  }
  if (isObject(matcher.bearerJwt)) {
    const spec = matcher.bearerJwt
    if (!actual.startsWith("Bearer ")) return `header ${name}: not a Bearer token`
    const verified = verifyRs256(actual.slice("Bearer ".length), appKey.publicKey)
    if (!verified.ok) return `header ${name}: JWT ${verified.reason}`
    const claims = verified.claims
    if (isObject(spec.claims) && !subsetEqual(spec.claims, claims)) return `header ${name}: claims ${JSON.stringify(claims)}`
    const tolerance = typeof spec.toleranceSeconds === "number" ? spec.toleranceSeconds : 5
    const now = Date.now() / 1000
    const iat = typeof claims.iat === "number" ? claims.iat : NaN
    const exp = typeof claims.exp === "number" ? claims.exp : NaN
    if (typeof spec.iatOffsetSeconds === "number" && !(Math.abs(iat - (now + spec.iatOffsetSeconds)) <= tolerance)) {
      return `header ${name}: iat ${iat} is not now${spec.iatOffsetSeconds}s`
    }
    if (typeof spec.expMinusIatSeconds === "number" && !(Math.abs(exp - iat - spec.expMinusIatSeconds) <= tolerance)) {
      return `header ${name}: exp - iat = ${exp - iat}`
    }
    return undefined
  }
  return `header ${name}: unsupported matcher ${JSON.stringify(matcher)}`
}

const matchRequest = (
  rec: Recorder,
  exchange: Exchange,
  req: http.IncomingMessage,
  original: URL,
  body: Buffer,
  arrivedAt: number
): Array<string> => {
  const expected = exchange.request
  const problems: Array<string> = []
  if (req.method !== expected.method) problems.push(`method ${req.method}, expected ${expected.method}`)
  const origin = new URL(expected.origin ?? rec.serverUrl).origin
  if (original.origin !== origin) problems.push(`origin ${original.origin}, expected ${origin}`)
  if (original.pathname !== expected.pathname) problems.push(`pathname ${original.pathname}, expected ${expected.pathname}`)
  const query: Record<string, string> = {}
  for (const [k, v] of original.searchParams) {
    if (k in query) problems.push(`query parameter ${k} repeated`)
    query[k] = v
  }
  if (!deepEqual(query, expected.query)) {
    problems.push(`query ${JSON.stringify(query)}, expected ${JSON.stringify(expected.query)}`)
  }
  for (const [name, matcher] of Object.entries(expected.headers)) {
    const problem = matchHeader(name, matcher, headerValue(req, name))
    if (problem) problems.push(problem)
  }
  const text = body.toString("utf8")
  if (expected.bodyEmpty === true && body.length !== 0) problems.push(`body should be empty, got ${JSON.stringify(text)}`)
  if (expected.body !== undefined || expected.bodyAbsentKeys !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      problems.push(`body is not JSON: ${JSON.stringify(text)}`)
    }
    if (expected.body !== undefined) {
      const ok = expected.bodyMatch === "subset" ? subsetEqual(expected.body, parsed) : deepEqual(expected.body, parsed)
      if (!ok) problems.push(`body ${text}, expected ${expected.bodyMatch ?? "exactly"} ${JSON.stringify(expected.body)}`)
    }
    for (const key of expected.bodyAbsentKeys ?? []) {
      if (isObject(parsed) && key in parsed) problems.push(`body has key ${key}`)
    }
  }
  if (exchange.minDelayMsSincePrevious !== undefined && rec.lastResponseAt !== undefined) {
    const waited = arrivedAt - rec.lastResponseAt
    if (waited < exchange.minDelayMsSincePrevious) {
      problems.push(`arrived ${waited} ms after the previous response, expected at least ${exchange.minDelayMsSincePrevious}`)
    }
  }
  // global invariants
  const ua = headerValue(req, "user-agent")
  let agent: unknown
  try {
    agent = ua === undefined ? undefined : JSON.parse(ua)
  } catch {
    agent = undefined
  }
  const uaKeys = ["system", "version", "commit_sha", "scale_set_id", "subsystem", "build_version", "build_commit_sha"]
  if (!isObject(agent) || agent.kind !== "scaleset" || typeof agent.scale_set_id !== "number" || !uaKeys.every((k) => k in agent)) {
    problems.push(`User-Agent is not the JSON user agent: ${ua}`)
  }
  if (original.pathname.includes("/_apis/")) {
    if (headerValue(req, "content-type") !== "application/json") problems.push("Actions request without Content-Type: application/json")
    if (!(headerValue(req, "authorization") ?? "").startsWith("Bearer ")) problems.push("Actions request without a Bearer token")
  }
  return problems
}

const respond = (rec: Recorder, req: http.IncomingMessage, res: http.ServerResponse, response: ExchangeResponse) => {
  const send = () => {
    if (response.action === "destroy") {
      req.socket.destroy()
      return
    }
    const body = response.body === undefined
      ? undefined
      : typeof response.body === "string"
      ? response.body
      : JSON.stringify(response.body)
    res.writeHead(response.status ?? 200, response.headers ?? {})
    res.end(body === undefined ? undefined : Buffer.from(body, "utf8"), () => {
      rec.lastResponseAt = Date.now()
    })
    rec.lastResponseAt = Date.now()
  }
  if (response.delayMs !== undefined && response.delayMs > 0) {
    const timer = setTimeout(() => {
      rec.timers.delete(timer)
      if (!res.destroyed && !req.socket.destroyed) send()
    }, response.delayMs)
    rec.timers.add(timer)
  } else {
    send()
  }
}

const handler = (rec: Recorder) => (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => {
  const arrivedAt = Date.now()
  if (rec.frozen) {
    // after the operation (e.g. the session delete when the case's scope closes): not part of the case
    res.writeHead(204)
    res.end()
    return
  }
  const original = new URL(headerValue(req, ORIGINAL_URL_HEADER) ?? `${rec.serverUrl}${req.url ?? "/"}`)
  const index = rec.used
  const exchange = rec.exchanges[index]
  if (exchange === undefined) {
    rec.failures.push(`unexpected request #${index + 1}: ${req.method} ${original.href}`)
    res.writeHead(418)
    res.end("conformance: no exchange left")
    return
  }
  rec.used++
  const problems = matchRequest(rec, exchange, req, original, body, arrivedAt)
  if (problems.length > 0) {
    rec.failures.push(`exchange #${index + 1}${exchange.label ? ` (${exchange.label})` : ""}, ${req.method} ${original.href}: ${problems.join("; ")}`)
  }
  respond(rec, req, res, exchange.response)
}

// ---------------------------------------------------------------------------------------------
// operations

const str = (args: JsonObject, key: string): string => {
  const v = args[key]
  return typeof v === "string" ? v : ""
}
const num = (args: JsonObject, key: string): number => {
  const v = args[key]
  return typeof v === "number" ? v : 0
}

const retryOf = (o: ClientOptions) => ({
  max: o.retryMax,
  waitMax: o.retryWaitMaxMs === undefined ? undefined : Duration.millis(o.retryWaitMaxMs)
})

const scaleSetInput = (u: Json | undefined): ScaleSetClient.RunnerScaleSetInput => {
  const o = isObject(u) ? u : {}
  const labels = Array.isArray(o.labels)
    ? o.labels.filter(isObject).map((l) => ({
      name: typeof l.name === "string" ? l.name : "",
      type: typeof l.type === "string" ? l.type : undefined
    }))
    : undefined
  return {
    name: typeof o.name === "string" ? o.name : undefined,
    runnerGroupId: typeof o.runnerGroupId === "number" ? o.runnerGroupId : undefined,
    labels,
    runnerSetting: isObject(o.runnerSetting)
      ? { disableUpdate: o.runnerSetting.disableUpdate === true }
      : undefined
  }
}

const messageResult = (m: ScaleSetSchema.RunnerScaleSetMessage) => ({
  messageId: m.messageId,
  statistics: m.statistics ?? null,
  jobAvailableMessages: m.jobs.filter((j) => j.messageType === "JobAvailable"),
  jobAssignedMessages: m.jobs.filter((j) => j.messageType === "JobAssigned"),
  jobStartedMessages: m.jobs.filter((j) => j.messageType === "JobStarted"),
  jobCompletedMessages: m.jobs.filter((j) => j.messageType === "JobCompleted")
})

interface Context {
  readonly client: ScaleSetClient.ScaleSetClientShape
  readonly clientOptions: ClientOptions
  session: MessageSession.MessageSession | undefined
}

const currentSession = (ctx: Context) =>
  ctx.session === undefined ? Effect.dieMessage("no message session was created in this case") : Effect.succeed(ctx.session)

const runOp = (ctx: Context, step: Step): Effect.Effect<unknown, unknown, Scope.Scope> => {
  const { client } = ctx
  const a = step.args
  switch (step.op) {
    case "newClient":
      return Effect.succeed(null)
    case "getRunnerScaleSet":
      return client.getRunnerScaleSet(num(a, "runnerGroupId"), str(a, "name"))
    case "getRunnerScaleSetById":
      return client.getRunnerScaleSetById(num(a, "runnerScaleSetId"))
    case "getRunnerGroupByName":
      return client.getRunnerGroupByName(str(a, "name"))
    case "createRunnerScaleSet":
      return client.createRunnerScaleSet(scaleSetInput(a.runnerScaleSet))
    case "updateRunnerScaleSet":
      return client.updateRunnerScaleSet(num(a, "runnerScaleSetId"), scaleSetInput(a.runnerScaleSet))
    case "deleteRunnerScaleSet":
      return client.deleteRunnerScaleSet(num(a, "runnerScaleSetId"))
    case "generateJitRunnerConfig": {
      const s = isObject(a.setting) ? a.setting : {}
      return client.generateJitRunnerConfig(
        {
          name: typeof s.name === "string" ? s.name : undefined,
          workFolder: typeof s.workFolder === "string" ? s.workFolder : undefined
        },
        num(a, "scaleSetId")
      )
    }
    case "getRunner":
      return client.getRunner(num(a, "runnerId"))
    case "getRunnerByName":
      return client.getRunnerByName(str(a, "name"))
    case "removeRunner":
      return client.removeRunner(num(a, "runnerId"))
    case "createMessageSessionClient": {
      const overrides = isObject(a.options) ? (a.options as ClientOptions) : undefined
      const merged = { ...ctx.clientOptions, ...overrides }
      const options = overrides === undefined
        ? undefined
        : {
          retry: retryOf(merged),
          timeout: merged.timeoutMs === undefined ? undefined : Duration.millis(merged.timeoutMs)
        }
      return client.createMessageSession(num(a, "scaleSetId"), str(a, "owner"), options).pipe(
        Effect.tap((session) =>
          Effect.sync(() => {
            ctx.session = session
          })
        ),
        Effect.flatMap((session) => session.session)
      )
    }
    case "session":
      return Effect.flatMap(currentSession(ctx), (s) => s.session)
    case "getMessage":
      return Effect.flatMap(currentSession(ctx), (s) => s.getMessage(num(a, "lastMessageId"), num(a, "maxCapacity"))).pipe(
        Effect.map(Option.map(messageResult))
      )
    case "deleteMessage":
      return Effect.flatMap(currentSession(ctx), (s) => s.deleteMessage(num(a, "messageId")))
    case "acquireJobs":
      return Effect.flatMap(
        currentSession(ctx),
        (s) => s.acquireJobs(Array.isArray(a.requestIds) ? a.requestIds.filter((x): x is number => typeof x === "number") : [])
      )
    case "closeSession":
      return Effect.flatMap(currentSession(ctx), (s) => s.close)
    case "setSystemInfo": {
      const i = isObject(a.systemInfo) ? a.systemInfo : {}
      return client.setSystemInfo({
        system: str(i, "system"),
        version: str(i, "version"),
        commitSha: str(i, "commitSha"),
        scaleSetId: num(i, "scaleSetId"),
        subsystem: str(i, "subsystem")
      })
    }
    case "systemInfo":
      return client.systemInfo
    case "debugInfo":
      return client.debugInfo
    case "validateGitHubAppAuth":
      return Credentials.validate(
        Credentials.gitHubApp({
          clientId: str(a, "clientId"),
          installationId: num(a, "installationId"),
          privateKey: str(a, "privateKey")
        })
      )
    default:
      return Effect.dieMessage(`unknown op ${step.op}`)
  }
}

// ---------------------------------------------------------------------------------------------
// outcomes

/** Redacted → value, Option → value or null, recursively. Dates stay Dates. */
const normalise = (u: unknown): unknown => {
  if (Redacted.isRedacted(u)) return normalise(Redacted.value(u))
  if (Option.isOption(u)) return Option.isSome(u) ? normalise(u.value) : null
  if (u instanceof Date) return u
  if (Array.isArray(u)) return u.map(normalise)
  if (isObject(u)) return Object.fromEntries(Object.entries(u).map(([k, v]) => [k, normalise(v)]))
  return u
}

const compare = (expected: Json, actual: unknown, path: string, problems: Array<string>): void => {
  const fail = () => problems.push(`${path || "result"}: expected ${JSON.stringify(expected)}, got ${actual instanceof Date ? actual.toISOString() : JSON.stringify(actual)}`)
  if (expected === null) {
    if (actual !== null && actual !== undefined) fail()
    return
  }
  if (isObject(expected) && "$jsonString" in expected) {
    if (typeof actual !== "string") return void fail()
    let parsed: unknown
    try {
      parsed = JSON.parse(actual)
    } catch {
      return void fail()
    }
    return compare(expected.$jsonString ?? null, parsed, path, problems)
  }
  const zero = expected === false || expected === 0 || expected === "" || (Array.isArray(expected) && expected.length === 0)
  if (zero && (actual === undefined || actual === null)) return
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return void fail()
    expected.forEach((e: Json, i) => compare(e, actual[i], `${path}[${i}]`, problems))
    return
  }
  if (isObject(expected)) {
    if (!isObject(actual)) return void fail()
    for (const [k, v] of Object.entries(expected)) compare(v, actual[k], path ? `${path}.${k}` : k, problems)
    return
  }
  if (typeof expected === "string") {
    if (actual instanceof Date) {
      if (Date.parse(expected) !== actual.getTime()) fail()
      return
    }
    if (actual !== expected) fail()
    return
  }
  if (actual !== expected) fail()
}

const field = (e: unknown, key: string): unknown => (isObject(e) || e instanceof Error) ? (e as Record<string, unknown>)[key] : undefined

const kindMatches = (kind: string, e: unknown): boolean => {
  const tag = field(e, "_tag")
  switch (kind) {
    case "HttpStatus":
      return (tag === "ScaleSetApiError" && field(e, "reason") === "StatusCode") || tag === "ActionsException"
    case "ActionsException":
      return tag === "ActionsException"
    case "RetriesExhausted":
      return tag === "ScaleSetApiError" && (field(e, "attempts") as number) > 1
    case "Transport":
      return tag === "ScaleSetApiError" && field(e, "reason") === "Transport"
    case "Validation":
      return tag === "ValidationError" || (tag === "AuthError" && field(e, "step") === "credentials")
    case "AdminConnection":
      return tag === "AuthError" && field(e, "step") === "admin-connection"
    case "Decode":
    case "MultipleResults":
    case "UnsupportedMessageType":
      return tag === "ResponseDecodeError"
    case "NotFound":
      return tag === "RunnerGroupNotFound"
    default:
      return tag === kind
  }
}

const checkError = (expected: ExpectedError, e: unknown, problems: Array<string>) => {
  const kinds = typeof expected.kind === "string" ? [expected.kind] : expected.kind
  const message = String(field(e, "message") ?? "")
  if (!kinds.some((k) => kindMatches(k, e))) {
    problems.push(`error kind: expected ${kinds.join(" | ")}, got ${String(field(e, "_tag"))}: ${message}`)
  }
  const fields: ReadonlyArray<[keyof ExpectedError, string]> = [
    ["status", "status"],
    ["activityId", "activityId"],
    ["githubRequestId", "githubRequestId"],
    ["exceptionName", "typeName"],
    ["exceptionMessage", "exceptionMessage"]
  ]
  for (const [key, actualKey] of fields) {
    if (expected[key] !== undefined && field(e, actualKey) !== expected[key]) {
      problems.push(`error ${actualKey}: expected ${JSON.stringify(expected[key])}, got ${JSON.stringify(field(e, actualKey))}`)
    }
  }
  for (const fragment of expected.messageContains ?? []) {
    if (!message.toLowerCase().includes(fragment.toLowerCase())) {
      problems.push(`error message ${JSON.stringify(message)} lacks ${JSON.stringify(fragment)}`)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// a case

const runCase = (raw: Case) =>
  Effect.gen(function*() {
    const rec: Recorder = {
      exchanges: [],
      used: 0,
      failures: [],
      frozen: false,
      lastResponseAt: undefined,
      serverUrl: "",
      timers: new Set()
    }
    const useTls = raw.requires?.includes("tls") === true || raw.config.server?.tls !== undefined
    const served = yield* serve(handler(rec), useTls ? { cert: tls.certPem, key: tls.keyPem } : undefined)
    yield* Effect.addFinalizer(() => Effect.sync(() => rec.timers.forEach(clearTimeout)))
    rec.serverUrl = served.url
    const short = raw.fixtures?.tokens?.adminTokenShort?.expInSeconds ?? 30
    const c = substitute(raw, {
      serverUrl: served.url,
      adminToken: adminJwt(600, "1"),
      adminToken2: adminJwt(600, "2"),
      adminTokenShort: adminJwt(short, "short"),
      adminTokenNoExp: adminJwt(null, "noexp"),
      appPrivateKeyPem: appKey.pkcs1Pem,
      serverCaPem: tls.caPem
    })
    rec.exchanges = c.exchanges

    const clientOptions = c.config.clientOptions ?? {}
    const agent = yield* makeAgent({ ca: clientOptions.rootCAs })
    const httpClient = redirectingClient(served.url, agent)
    const credentials = c.config.auth === "app" && c.config.app
      ? Credentials.gitHubApp({
        clientId: c.config.app.clientId,
        installationId: c.config.app.installationId,
        privateKey: Redacted.make(c.config.app.privateKey)
      })
      : Credentials.personalAccessToken(Redacted.make(c.config.pat ?? ""))

    const outcome = yield* Effect.exit(Effect.gen(function*() {
      const client = yield* ScaleSetClient.make({
        url: c.config.configUrl,
        credentials,
        systemInfo: c.config.systemInfo,
        retry: retryOf(clientOptions),
        timeout: clientOptions.timeoutMs === undefined ? undefined : Duration.millis(clientOptions.timeoutMs)
      }).pipe(Effect.provideService(HttpClient.HttpClient, httpClient))
      const ctx: Context = { client, clientOptions, session: undefined }
      for (const [i, step] of (c.setup ?? []).entries()) {
        const setup = yield* Effect.exit(runOp(ctx, step))
        if (Exit.isFailure(setup)) {
          return yield* Effect.dieMessage(`setup step ${i} (${step.op}) failed: ${Cause.pretty(setup.cause)}`)
        }
      }
      return yield* runOp(ctx, c.operation)
    }))
    // the case ends here: later requests (a session deleted on scope close) are not part of it
    rec.frozen = true

    const problems: Array<string> = [...rec.failures]
    if (rec.used < c.exchanges.length) {
      const missing = c.exchanges.slice(rec.used).map((e) => `${e.request.method} ${e.request.pathname}${e.label ? ` (${e.label})` : ""}`)
      problems.push(`${c.exchanges.length - rec.used} exchange(s) never used: ${missing.join(", ")}`)
    }
    if (c.expect.connectionAttempts !== undefined && served.connections() !== c.expect.connectionAttempts) {
      problems.push(`connection attempts: expected ${c.expect.connectionAttempts}, got ${served.connections()}`)
    }
    if (c.expect.error !== undefined) {
      if (Exit.isSuccess(outcome)) {
        problems.push(`expected an error, got ${JSON.stringify(normalise(outcome.value))}`)
      } else {
        const failure = Cause.failureOption(outcome.cause)
        if (Option.isSome(failure)) checkError(c.expect.error, failure.value, problems)
        else if (!(Cause.isInterruptedOnly(outcome.cause) && c.expect.error.kind === "Cancelled")) {
          problems.push(`expected an error, got a defect: ${Cause.pretty(outcome.cause)}`)
        }
      }
    } else if (Exit.isFailure(outcome)) {
      const failure = Cause.failureOption(outcome.cause)
      problems.push(`expected a result, got ${Option.isSome(failure) ? `${String(field(failure.value, "_tag"))}: ${String(field(failure.value, "message"))}` : Cause.pretty(outcome.cause)}`)
    } else {
      compare(c.expect.result ?? null, normalise(outcome.value), "", problems)
    }
    assert.deepStrictEqual(problems, [], `${c.id}:\n  ${problems.join("\n  ")}`)
  }).pipe(
    Effect.scoped,
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(raw.config.env ?? {}))))
  )

describe("wire conformance", () => {
  it("has the 105 cases", () => {
    assert.strictEqual(cases.length, 105)
    assert.strictEqual(new Set(cases.map((c) => c.id)).size, cases.length)
  })
  for (const c of cases) {
    it.live(c.id, () => runCase(c), 20_000)
  }
})
