/**
 * The `HttpClient` of the Node transport: straight on undici's `dispatch`, each response body
 * buffered whole (the scale set API answers small JSON documents).
 *
 * Why not `@effect/platform-node`'s undici client: per request it builds a Node stream for the
 * body, an `AbortController`, a `FinalizationRegistry` entry and cached body effects, which cost
 * about as much as the request itself on loopback (bench P1/P2: ~250 µs of ~500 µs). Requests
 * with a streamed or multipart body, which the scale set API never sends, still go through it.
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import type * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import { causeCode } from "@scaleset/core/ScaleSetError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Dispatcher } from "undici"

const certificateCodes = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH"
])

/** The TLS certificate verification code in an error's cause chain, if any. */
export const certificateErrorCode = (error: unknown): string | undefined =>
  causeCode(error, (code) => certificateCodes.has(code))

/** A certificate failure that says what to do about it; keeps the TLS code for the retry policy. */
class CertificateError extends Error {
  readonly code: string
  constructor(code: string, cause: unknown) {
    super(
      `the server's TLS certificate was rejected (${code}); if it is signed by a private CA, add that CA ` +
        "(rootCAs, withRootCAs, SCALESET_CA_FILE)",
      { cause }
    )
    this.name = "CertificateError"
    this.code = code
  }
}

const explain = (error: unknown): unknown => {
  const code = certificateErrorCode(error)
  return code === undefined ? error : new CertificateError(code, error)
}

type RawHeaders = Record<string, string | ReadonlyArray<string> | undefined>

/** A response whose body has been read: every body accessor is synchronous. */
class BufferedResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  private cachedHeaders: Headers.Headers | undefined
  private cachedText: string | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly status: number,
    private readonly rawHeaders: RawHeaders,
    private readonly body: Buffer
  ) {
    super()
  }

  get headers(): Headers.Headers {
    return this.cachedHeaders ??= Headers.fromInput(this.rawHeaders as Headers.Input)
  }

  get cookies(): Cookies.Cookies {
    const header = this.rawHeaders["set-cookie"]
    return header === undefined ? Cookies.empty : Cookies.fromSetCookie(typeof header === "string" ? [header] : header)
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private decoded(): string {
    return this.cachedText ??= this.body.toString("utf8")
  }

  private decodeError(cause: unknown) {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.sync(() => this.decoded())
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.try({
      try: () => {
        const text = this.decoded()
        return text === "" ? null : JSON.parse(text) as unknown
      },
      catch: (cause) => this.decodeError(cause)
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.try({
      try: () => UrlParams.fromInput(new URLSearchParams(this.decoded())),
      catch: (cause) => this.decodeError(cause)
    })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.sync(() => {
      const copy = new Uint8Array(this.body.byteLength)
      copy.set(this.body)
      return copy.buffer
    })
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.tryPromise({
      try: () => new Response(new Uint8Array(this.body), { headers: this.headers }).formData(),
      catch: (cause) => this.decodeError(cause)
    })
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.succeed(new Uint8Array(this.body))
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}

interface Target {
  readonly origin: string
  readonly path: string
  readonly method: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | Uint8Array | undefined
}

type Resume<A> = (effect: Effect.Effect<A, HttpClientError.HttpClientError>) => void

/**
 * One exchange's undici handler and its state, as one object with its methods on the prototype:
 * no closures per request (a thousand listeners hold a poll each).
 */
class Exchange<A> implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | undefined = undefined
  done = false
  status = 0
  headers: RawHeaders = {}
  chunks: Array<Buffer> = []
  timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(
    readonly resume: Resume<A>,
    readonly request: () => HttpClientRequest.HttpClientRequest,
    readonly answer: (status: number, headers: RawHeaders, body: Buffer) => A,
    readonly deadline: number | undefined
  ) {}

  finish(result: Effect.Effect<A, HttpClientError.HttpClientError>) {
    if (this.done) return
    this.done = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.resume(result)
  }
  fail(cause: unknown) {
    const request = this.request()
    this.finish(Effect.fail(
      this.status === 0
        ? new HttpClientError.RequestError({ request, reason: "Transport", cause: explain(cause) })
        : new HttpClientError.ResponseError({
          request,
          response: new BufferedResponse(request, this.status, this.headers, Buffer.alloc(0)),
          reason: "Decode",
          cause
        })
    ))
  }
  abort(reason: string) {
    this.controller?.abort(new Error(reason))
  }
  timedOut() {
    const cause = new Cause.TimeoutException(`no answer within ${this.deadline} ms`)
    this.finish(Effect.fail(new HttpClientError.RequestError({ request: this.request(), reason: "Transport", cause })))
    this.abort("the request timed out")
  }
  cancel() {
    this.done = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.abort("the request was interrupted")
  }

  onRequestStart(controller: Dispatcher.DispatchController) {
    this.controller = controller
    if (this.done) controller.abort(new Error("the request was interrupted"))
  }
  onResponseStart(_: Dispatcher.DispatchController, status: number, headers: RawHeaders) {
    this.status = status
    this.headers = headers
  }
  onResponseData(_: Dispatcher.DispatchController, chunk: Buffer) {
    this.chunks.push(chunk)
  }
  onResponseEnd() {
    const chunks = this.chunks
    this.finish(Effect.succeed(this.answer(this.status, this.headers, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))))
  }
  onResponseError(_: Dispatcher.DispatchController, error: Error) {
    this.fail(error)
  }
}

const timedOut = (exchange: { timedOut(): void }) => exchange.timedOut()

/**
 * One exchange on the dispatcher, the body buffered whole and handed to `answer` (no step after
 * the exchange to shape it). `request` builds the platform request that errors carry, only when
 * there is an error.
 */
const dispatch = <A>(
  dispatcher: Dispatcher,
  target: Target,
  request: () => HttpClientRequest.HttpClientRequest,
  /** Milliseconds before the request is aborted and fails with a `TimeoutException` cause. */
  deadline: number | undefined,
  answer: (status: number, headers: RawHeaders, body: Buffer) => A
): Effect.Effect<A, HttpClientError.HttpClientError> =>
  Effect.async((resume) => {
    const exchange = new Exchange(resume, request, answer, deadline)
    if (deadline !== undefined) exchange.timer = setTimeout(timedOut, deadline, exchange)
    try {
      dispatcher.dispatch({
        origin: target.origin,
        path: target.path,
        method: target.method as Dispatcher.HttpMethod,
        headers: target.headers,
        body: target.body ?? null
      }, exchange)
    } catch (error) {
      exchange.fail(error)
    }
    return Effect.sync(() => exchange.cancel())
  })

/** Header values as one string each (repeated headers joined, as the platform's `Headers` does). */
const flatHeaders = (raw: RawHeaders): Record<string, string> => {
  let flat = true
  for (const name in raw) if (typeof raw[name] !== "string") flat = false
  // undici's own object when every value is one string already (the usual answer)
  if (flat) return raw as Record<string, string>
  const out: Record<string, string> = {}
  for (const name in raw) {
    const value = raw[name]
    if (value !== undefined) out[name] = typeof value === "string" ? value : value.join(", ")
  }
  return out
}

/** An authority the URL parser would keep as it is: lower case, no credentials, no default port. */
const plainAuthority = /^[a-z0-9.\-]+(:\d+)?$|^\[[0-9a-f:.]+\](:\d+)?$/

/**
 * Origin and path of a URL the pipeline built (absolute and normalised): split as text, which is
 * what `new URL` gives for these, without parsing; anything else is parsed.
 */
export const splitUrl = (url: string): { readonly origin: string; readonly path: string } => {
  const authority = url.indexOf("//") + 2
  let end = authority
  while (end < url.length && url[end] !== "/" && url[end] !== "?" && url[end] !== "#") end++
  const host = url.slice(authority, end)
  const scheme = url.slice(0, authority)
  if (
    (scheme !== "https://" && scheme !== "http://") || url[end] !== "/" || url.includes("#") || !plainAuthority.test(host) ||
    host.endsWith(scheme === "https://" ? ":443" : ":80")
  ) {
    const parsed = new URL(url)
    return { origin: parsed.origin, path: parsed.pathname + parsed.search }
  }
  return { origin: url.slice(0, end), path: url.slice(end) }
}

/**
 * An `HttpClient` on an undici dispatcher, and the pipeline's send with a per-request deadline
 * (plain records in and out, no fiber to time it). Certificate failures are explained (what to
 * configure) and keep their TLS code. Streamed and multipart bodies go through the platform's
 * client, loaded on first use.
 */
export const make = (dispatcher: Dispatcher): {
  readonly client: HttpClient.HttpClient
  readonly execute: ScaleSetClient.Execute
} => {
  let platform: HttpClient.HttpClient | undefined
  const viaPlatform = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.flatMap(
      platform === undefined
        ? Effect.promise(() => import("@effect/platform-node/NodeHttpClient")).pipe(
          Effect.map((module) => platform = module.makeUndici(dispatcher))
        )
        : Effect.succeed(platform),
      (client) => client.execute(request)
    )
  const send = (request: HttpClientRequest.HttpClientRequest): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
    const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
    if (Either.isLeft(url)) {
      return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: url.left }))
    }
    const body = request.body
    const payload = body._tag === "Empty"
      ? undefined
      : body._tag === "Uint8Array" || (body._tag === "Raw" && (typeof body.body === "string" || body.body instanceof Uint8Array))
      ? body.body as string | Uint8Array
      : null
    if (payload === null) return viaPlatform(request)
    const target = { origin: url.right.origin, path: url.right.pathname + url.right.search, method: request.method, headers: request.headers, body: payload }
    return dispatch(dispatcher, target, () => request, undefined, (status, headers, body) =>
      new BufferedResponse(request, status, headers, body))
  }
  const execute: ScaleSetClient.Execute = (spec, deadline) => {
    const { origin, path } = splitUrl(spec.url)
    const request = () => HttpClientRequest.make(spec.method)(spec.url, { headers: spec.headers })
    return dispatch(
      dispatcher,
      { origin, path, method: spec.method, headers: spec.headers, body: spec.body },
      request,
      deadline,
      (status, headers, body) => ({ status, headers: flatHeaders(headers), text: body.toString("utf8") })
    )
  }
  return {
    client: HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(Effect.flatMap(send), Effect.succeed),
    execute
  }
}
