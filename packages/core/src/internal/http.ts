/**
 * The one request pipeline every operation passes through: request building, User-Agent,
 * per-attempt timeout, retries on a Schedule (Retry-After honoured), BOM stripping, error mapping
 * and Schema decoding.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Retry from "../Retry.js"
import { isBuiltInTracer } from "../Span.js"
import {
  ActionsException,
  causeCode,
  JobStillRunning,
  ResponseDecodeError,
  RunnerExists,
  RunnerNotFound,
  ScaleSetApiError,
  ScaleSetNotFound,
  SessionConflict
} from "../ScaleSetError.js"

export type Method = "GET" | "POST" | "PATCH" | "DELETE"

export interface RequestSpec {
  readonly method: Method
  readonly url: string
  /** Lower-case names, as they go on the wire. */
  readonly headers: Readonly<Record<string, string>>
  /** A JSON value; sent as `application/json` text. */
  readonly json?: unknown
  /** Send an empty body (with the given `content-type`). */
  readonly emptyBody?: boolean
  /** The statuses that mean success; default any 2xx. */
  readonly ok?: ReadonlyArray<number>
  /** Statuses retried in addition to the transient ones (runner-registration: 401, 403). */
  readonly retryAlso?: ReadonlyArray<number>
  /** Overrides the per-attempt timeout (long polls). */
  readonly timeout?: Duration.DurationInput
  /** Overrides the retry policy (the session client's options). */
  readonly retry?: Retry.RetryOptions
}

export interface RawResponse {
  readonly method: Method
  readonly url: string
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  readonly attempts: number
}

/**
 * A request as the pipeline hands it to a transport: an absolute, normalised URL, lower-case
 * header names, the body as text.
 */
export interface TransportRequest {
  readonly method: Method
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | undefined
}

/** A whole response, its body read as text; lower-case header names. */
export interface TransportResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
}

/**
 * Sends one request within a deadline (milliseconds). A transport failure is an `HttpClientError`;
 * a missed deadline is a `RequestError` whose cause is a `TimeoutException`.
 */
export type Execute = (
  request: TransportRequest,
  deadlineMillis: number
) => Effect.Effect<TransportResponse, HttpClientError.HttpClientError>

export interface PipelineOptions {
  /** The transport's own send (the Node layer's); else requests go through the `HttpClient`. */
  readonly execute?: Execute | undefined
  readonly retry: Retry.RetryOptions
  readonly timeout: Duration.DurationInput
  readonly userAgent: () => string
}

/** A failed attempt, before retries are decided. */
class AttemptFailure extends Data.TaggedError("AttemptFailure")<{
  readonly retryable: boolean
  readonly retryAfter: Option.Option<Duration.Duration>
  readonly response: RawResponse | undefined
  readonly reason: "StatusCode" | "Transport" | "Timeout"
  readonly detail: string | undefined
}> {}

const isTransientStatus = (status: number) => status === 429 || (status >= 500 && status !== 501)

const BOM = "\uFEFF"
export const stripBom = (text: string) => text.startsWith(BOM) ? text.slice(1) : text

const header = (headers: Readonly<Record<string, string>>, name: string): string | undefined => {
  const value = headers[name.toLowerCase()]
  return value === undefined || value === "" ? undefined : value
}

export const requestContext = (r: { readonly method: string; readonly url: string }, res?: RawResponse) => ({
  method: r.method,
  url: r.url,
  status: res?.status,
  activityId: res ? header(res.headers, "activityid") : undefined,
  githubRequestId: res ? header(res.headers, "x-github-request-id") : undefined
})

/** Transport errors carry no secrets, but their causes can hold the request: keep the short text. */
const transportDetail = (error: unknown): string => {
  const cause = (error as { cause?: unknown }).cause
  const parts: Array<string> = []
  let current: unknown = cause ?? error
  for (let i = 0; i < 4 && current instanceof Error; i++) {
    const code = (current as { code?: unknown }).code
    parts.push(typeof code === "string" ? `${code}: ${current.message}` : current.message)
    current = (current as { cause?: unknown }).cause
  }
  return parts.length > 0 ? parts.join(": ") : String(error)
}

/**
 * Transport failures that another attempt cannot fix (Go's retry policy does not retry them
 * either): certificate verification, an invalid URL, scheme or header. Found by the error codes
 * Node and undici put on the causes, so core stays free of `node:*` imports.
 */
const permanentTransportCode =
  /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT|DECODE)|INVALID_CA|PATH_LENGTH_EXCEEDED|INVALID_PURPOSE|HOSTNAME_MISMATCH|^ERR_TLS_CERT|^ERR_INVALID_(URL|PROTOCOL|HTTP_TOKEN|CHAR)$|^UND_ERR_INVALID_ARG$/

export const isPermanentTransportError = (error: unknown): boolean =>
  causeCode(error, (code) => permanentTransportCode.test(code)) !== undefined

export type ErrorFromStatus =
  | ScaleSetApiError
  | ActionsException
  | RunnerNotFound
  | RunnerExists
  | JobStillRunning
  | ScaleSetNotFound
  | SessionConflict

/**
 * Maps an unexpected status to its typed error: a JSON `{typeName, message}` body is an Actions
 * exception (some mapped to their own errors); text/plain and unparsable bodies are kept as text.
 */
export const errorFromResponse = (res: RawResponse): ErrorFromStatus => {
  const context = requestContext(res, res)
  const plain = (header(res.headers, "content-type") ?? "").toLowerCase().includes("text/plain")
  const body = res.text
  if (!plain && body.trim() !== "") {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      parsed = undefined
    }
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      const typeName = typeof (parsed as Record<string, unknown>).typeName === "string"
        ? (parsed as Record<string, string>).typeName!
        : ""
      const rawMessage = (parsed as Record<string, unknown>).message
      const exceptionMessage = typeof rawMessage === "string" ? rawMessage : ""
      if (typeName !== "" || exceptionMessage !== "") {
        const fields = { ...context, typeName, exceptionMessage }
        if (typeName.includes("AgentExistsException")) return new RunnerExists(fields)
        if (typeName.includes("AgentNotFoundException")) return new RunnerNotFound(fields)
        if (typeName.includes("JobStillRunningException")) return new JobStillRunning(fields)
        if (typeName.includes("RunnerScaleSetNotFoundException")) return new ScaleSetNotFound(fields)
        if (typeName.includes("SessionConflictException")) return new SessionConflict(fields)
        return new ActionsException({ ...fields, attempts: res.attempts })
      }
    }
  }
  return new ScaleSetApiError({
    ...context,
    reason: "StatusCode",
    attempts: res.attempts,
    body: body === "" ? undefined : body
  })
}

/** A parse error, described by where it failed and how, never by the values (they may be secrets). */
export const describeParseError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "body"}: ${issue._tag === "Missing" ? "is missing" : issue._tag === "Type" ? "has the wrong type" : issue._tag.toLowerCase()}`)
    .join("; ")

export const decodeError = (res: RawResponse, reason: string) =>
  new ResponseDecodeError({ ...requestContext(res, res), reason })

/** Parses a successful response's JSON body and decodes it with a Schema, synchronously. */
export const decodeJsonSync = <A, I>(schema: Schema.Schema<A, I>) => {
  // the wire schemas have no effectful parts, and an Effect per decode costs
  const decode = Schema.decodeUnknownEither(schema)
  return (res: RawResponse): Either.Either<A, ResponseDecodeError> => {
    let json: unknown
    try {
      json = JSON.parse(res.text)
    } catch {
      return Either.left(decodeError(res, res.text.trim() === "" ? "the body is empty" : "the body is not JSON"))
    }
    const decoded = decode(json)
    return decoded._tag === "Right" ? Either.right(decoded.right) : Either.left(decodeError(res, describeParseError(decoded.left)))
  }
}

/** Parses a successful response's JSON body and decodes it with a Schema. */
export const decodeJson = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = decodeJsonSync(schema)
  return (res: RawResponse): Effect.Effect<A, ResponseDecodeError> => {
    const decoded = decode(res)
    return decoded._tag === "Right" ? Effect.succeed(decoded.right) : Effect.fail(decoded.left)
  }
}

/** Parses a JSON body without a schema (for bodies the caller inspects first). */
export const parseJson = (res: RawResponse): Effect.Effect<unknown, ResponseDecodeError> =>
  Effect.try({
    try: () => JSON.parse(res.text) as unknown,
    catch: () => decodeError(res, res.text.trim() === "" ? "the body is empty" : "the body is not JSON")
  })

/**
 * A per-attempt deadline: the attempt runs on a child fiber, a plain timer interrupts it. It costs a
 * third of `Effect.timeout` (which races two forked fibers and a clock sleep) on every request, and
 * holds one fiber fewer during a long poll. The timer is the runtime's, not the Effect `Clock`: a
 * TestClock does not move it.
 */
const withDeadline = <E2>(duration: Duration.Duration, onTimeout: () => E2) =>
<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | E2> =>
  Effect.flatMap(Effect.fork(effect), (fiber) =>
    Effect.async<A, E | E2>((resume) => {
      let settled = false
      const timer = setTimeout(() => {
        if (settled) return
        settled = true
        resume(Effect.zipRight(Fiber.interrupt(fiber), Effect.fail(onTimeout())))
      }, Duration.toMillis(duration))
      fiber.addObserver((exit) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(exit)
      })
      return Effect.suspend(() => {
        settled = true
        clearTimeout(timer)
        return Fiber.interrupt(fiber)
      })
    }))

/**
 * An `Execute` over any `HttpClient` (the platform's, a test's): the request is built as a platform
 * request and the deadline is a timer racing the exchange.
 */
export const executeWith = (client: HttpClient.HttpClient): Execute => (spec, deadline) => {
  let request = HttpClientRequest.make(spec.method)(spec.url, { headers: spec.headers })
  if (spec.body !== undefined) {
    request = HttpClientRequest.bodyText(request, spec.body, spec.headers["content-type"] ?? "application/json")
  }
  const exchange = Effect.flatMap(client.execute(request), (response) =>
    Effect.map(response.text, (text): TransportResponse => ({ status: response.status, headers: response.headers, text })))
  return withDeadline(Duration.millis(deadline), () =>
    new HttpClientError.RequestError({
      request,
      reason: "Transport",
      cause: new Cause.TimeoutException(`no answer within ${deadline} ms`)
    }))(exchange)
}

/**
 * Annotates the operation's span (read once from the fiber's context: `Effect.annotateCurrentSpan`
 * builds an exception, with a stack, when there is none, and this runs for every request).
 */
const annotate = (fiber: Fiber.RuntimeFiber<unknown, unknown>, spec: RequestSpec, status: number | undefined, attempts: number) => {
  // under the built-in tracer operations make no span: the current one is the caller's
  if (isBuiltInTracer(fiber)) return
  const span = fiber.currentSpan
  if (span === undefined || span._tag !== "Span") return
  span.attribute("http.request.method", spec.method)
  span.attribute("url.full", spec.url)
  if (status !== undefined) span.attribute("http.response.status_code", status)
  span.attribute("http.request.attempts", attempts)
}

export interface Pipeline {
  /** Sends a request, retrying as configured; succeeds with any status in `ok`. */
  readonly send: (spec: RequestSpec) => Effect.Effect<RawResponse, ErrorFromStatus>
}

interface Settings {
  readonly execute: Execute
  readonly userAgent: () => string
  readonly scheduleFor: (retry: Retry.RetryOptions) => Schedule.Schedule<unknown, Retry.RetryInput>
  readonly retry: Retry.RetryOptions
}

/** One request: its wire form, its attempts and the steps between them. */
class Send {
  attempts = 0
  readonly body: string | undefined
  /** The body's content type, set over the caller's (a JSON body) or as a default (an empty one). */
  readonly contentType: string | undefined

  constructor(
    readonly settings: Settings,
    readonly spec: RequestSpec,
    readonly fiber: Fiber.RuntimeFiber<unknown, unknown>,
    readonly deadline: number
  ) {
    if (spec.json !== undefined) {
      this.body = JSON.stringify(spec.json)
      this.contentType = "application/json"
    } else if (spec.emptyBody) {
      this.body = ""
      this.contentType = spec.headers["content-type"] ?? "application/json"
    }
  }

  exchange(): Effect.Effect<TransportResponse, HttpClientError.HttpClientError> {
    this.attempts++
    // the headers of this attempt: setSystemInfo may change the User-Agent between attempts
    const headers: Record<string, string> = { ...this.spec.headers, "user-agent": this.settings.userAgent() }
    if (this.contentType !== undefined) headers["content-type"] = this.contentType
    return this.settings.execute({ method: this.spec.method, url: this.spec.url, headers, body: this.body }, this.deadline)
  }

  isOk(status: number): boolean {
    const ok = this.spec.ok
    return ok ? ok.includes(status) : status >= 200 && status < 300
  }

  response(r: TransportResponse): RawResponse {
    return { method: this.spec.method, url: this.spec.url, status: r.status, headers: r.headers, text: stripBom(r.text), attempts: this.attempts }
  }

  transportFailure(error: HttpClientError.HttpClientError): AttemptFailure {
    return Cause.isTimeoutException(error.cause)
      ? new AttemptFailure({
        retryable: true,
        retryAfter: Option.none(),
        response: undefined,
        reason: "Timeout",
        detail: `no answer within ${Duration.format(Duration.millis(this.deadline))}`
      })
      : new AttemptFailure({
        retryable: (error._tag === "ResponseError" || error.reason === "Transport") && !isPermanentTransportError(error),
        retryAfter: Option.none(),
        response: undefined,
        reason: "Transport",
        detail: transportDetail(error)
      })
  }

  statusFailure(res: RawResponse): AttemptFailure {
    const now = () => Context.get(this.fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
    return new AttemptFailure({
      retryable: isTransientStatus(res.status) || (this.spec.retryAlso?.includes(res.status) ?? false),
      retryAfter: res.status === 429 || res.status === 503
        ? Retry.parseRetryAfter(header(res.headers, "retry-after"), now())
        : Option.none(),
      response: res,
      reason: "StatusCode",
      detail: undefined
    })
  }

  succeeded(res: RawResponse): Effect.Effect<RawResponse> {
    annotate(this.fiber, this.spec, res.status, this.attempts)
    return Effect.succeed(res)
  }

  failed(failure: AttemptFailure): Effect.Effect<never, ErrorFromStatus> {
    const spec = this.spec
    annotate(this.fiber, spec, failure.response?.status, this.attempts)
    return Effect.fail(
      failure.response
        ? errorFromResponse({ ...failure.response, attempts: this.attempts })
        : new ScaleSetApiError({ method: spec.method, url: spec.url, reason: failure.reason, attempts: this.attempts, detail: failure.detail })
    )
  }

  /** The first attempt; the retry schedule starts only after a failure, which it is fed first. */
  start(): Effect.Effect<RawResponse, ErrorFromStatus> {
    return Effect.matchEffect(this.exchange(), {
      onFailure: (error) => this.retry(this.transportFailure(error)),
      onSuccess: (r) => {
        const res = this.response(r)
        return this.isOk(res.status) ? this.succeeded(res) : this.retry(this.statusFailure(res))
      }
    })
  }

  retry(first: AttemptFailure): Effect.Effect<RawResponse, ErrorFromStatus> {
    let replay: AttemptFailure | undefined = first
    const attempt = Effect.suspend((): Effect.Effect<RawResponse, AttemptFailure> => {
      if (replay !== undefined) {
        const failure = replay
        replay = undefined
        return Effect.fail(failure)
      }
      return Effect.matchEffect(this.exchange(), {
        onFailure: (error) => Effect.fail(this.transportFailure(error)),
        onSuccess: (r) => {
          const res = this.response(r)
          return this.isOk(res.status) ? Effect.succeed(res) : Effect.fail(this.statusFailure(res))
        }
      })
    })
    return Effect.matchEffect(Effect.retry(attempt, this.settings.scheduleFor(this.spec.retry ?? this.settings.retry)), {
      onFailure: (failure) => this.failed(failure),
      onSuccess: (res) => this.succeeded(res)
    })
  }
}

const deadlineMillis = (timeout: Duration.DurationInput) => Math.max(1, Math.ceil(Duration.toMillis(Duration.decode(timeout))))

export const makePipeline = (client: HttpClient.HttpClient, options: PipelineOptions): Pipeline => {
  const schedules = new Map<Retry.RetryOptions, ReturnType<typeof Retry.requestSchedule>>()
  const scheduleFor = (retry: Retry.RetryOptions) => {
    let schedule = schedules.get(retry)
    if (schedule === undefined) {
      schedule = Retry.requestSchedule(retry)
      schedules.set(retry, schedule)
    }
    return schedule
  }
  const defaultDeadline = deadlineMillis(options.timeout)

  const pipeline: Settings = { execute: options.execute ?? executeWith(client), userAgent: options.userAgent, scheduleFor, retry: options.retry }
  // one read of the fiber and one object per request, not a generator: this runs for every
  // request, and one that succeeds at once takes a handful of runtime steps
  const send = (spec: RequestSpec): Effect.Effect<RawResponse, ErrorFromStatus> =>
    Effect.withFiberRuntime((fiber) =>
      new Send(pipeline, spec, fiber, spec.timeout === undefined ? defaultDeadline : deadlineMillis(spec.timeout)).start()
    )

  return { send }
}

type Query = Record<string, string | number | undefined>

const queryText = (search: string, query: Query | undefined): string => {
  let text = search
  if (query) {
    for (const key in query) {
      const value = query[key]
      if (value !== undefined) {
        text += `${text === "" ? "" : "&"}${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`
      }
    }
  }
  return text === "" ? "" : `?${text}`
}

/**
 * A base URL (the service URL, a queue URL) parsed once for the URLs built on it, request after
 * request: the same text `joinUrl` and `withQuery` give, without parsing it again.
 */
export interface BaseUrl {
  readonly base: string
  /** The URL without its query, or `undefined` when it has a fragment (then every URL is parsed). */
  readonly href: string | undefined
  /** `href` without the path's trailing `/`. */
  readonly prefix: string
  /** The base's own query, without `?`. */
  readonly search: string
}

export const parseBase = (base: string): BaseUrl => {
  const url = new URL(base)
  const search = url.search.length > 1 ? url.search.slice(1) : ""
  url.search = ""
  const href = url.toString()
  const pathname = url.pathname
  const prefix = href.slice(0, href.length - pathname.length) + (pathname.endsWith("/") ? pathname.slice(0, -1) : pathname)
  // a fragment (even an empty one, `#`) stays in the text: such bases take the parser's path
  return { base, href: href.includes("#") ? undefined : href, prefix, search }
}

/** `parseBase` remembering the last base: a client's service URL, a session's queue URL. */
export const lastBase = (): (base: string) => BaseUrl => {
  let last: BaseUrl | undefined
  return (base) => last !== undefined && last.base === base ? last : (last = parseBase(base))
}

/** Path segments that the URL parser keeps as they are (no dots, nothing to escape). */
const plainPath = /^[A-Za-z0-9_\-/]*$/

/** Joins a path onto a base URL without doubling `/`, keeping the base's query. */
export const joinBase = (base: BaseUrl, path: string, query?: Query): string =>
  base.href !== undefined && plainPath.test(path)
    ? `${base.prefix}/${path.replace(/^\/+/, "")}${queryText(base.search, query)}`
    : joinUrl(base.base, path, query)

/** Adds query parameters (each value URL-encoded) to a base URL, keeping the ones it has. */
export const withBaseQuery = (base: BaseUrl, query?: Query): string =>
  base.href !== undefined ? `${base.href}${queryText(base.search, query)}` : withQuery(base.base, query)

/** Joins a path onto a base URL without doubling `/`, keeping the base's query. */
export const joinUrl = (base: string, path: string, query?: Query): string => {
  const url = new URL(base)
  const basePath = url.pathname.endsWith("/") ? url.pathname.slice(0, -1) : url.pathname
  url.pathname = `${basePath}/${path.replace(/^\/+/, "")}`
  return withQuery(url, query)
}

/** Adds query parameters (each value URL-encoded) to a URL, keeping the ones it has. */
export const withQuery = (base: string | URL, query?: Query): string => {
  const url = new URL(base)
  const search = url.search.length > 1 ? url.search.slice(1) : ""
  url.search = ""
  return `${url.toString()}${queryText(search, query)}`
}
