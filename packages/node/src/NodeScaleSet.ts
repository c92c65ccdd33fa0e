/**
 * The Node transport of the scale set client: an `HttpClient` on undici with proxy support
 * (explicit or from the environment), extra root CAs, opt-in `rejectUnauthorized: false` and
 * timeouts longer than a long poll; and a layer that builds the whole `ScaleSetClient` on it.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as ScaleSetError from "@scaleset/core/ScaleSetError"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Dispatcher } from "undici"
import * as NodeConfig from "./NodeConfig.js"
import { type NodeConfigError, TransportError } from "./NodeError.js"
import * as InternalDispatcher from "./internal/dispatcher.js"
import * as Proxy from "./internal/proxy.js"
import * as Tls from "./internal/tls.js"
import * as UndiciClient from "./internal/undiciClient.js"

/**
 * How the Node client reaches the service.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportOptions {
  /**
   * The proxy for every request: a URL (`http://user:pass@proxy:3128`; credentials are sent as
   * `Proxy-Authorization`), a function choosing one per target URL (`null` for direct), or `false`
   * for none. Default: `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (or their lower-case forms) from
   * the environment. Loopback targets (127.0.0.0/8, ::1, localhost) are never proxied.
   */
  readonly proxy?: string | URL | false | ((target: URL) => string | URL | null | undefined) | undefined
  /** Targets that bypass an explicit proxy, in `NO_PROXY` syntax. With the environment's proxy, `NO_PROXY` applies. */
  readonly noProxy?: string | ReadonlyArray<string> | undefined
  /** Extra root CAs, added to Node's bundled ones: PEM text (whole chains) or paths of PEM files. */
  readonly rootCAs?: string | ReadonlyArray<string> | undefined
  /** `false` disables certificate verification (testing only; a warning is logged). Default `true`. */
  readonly rejectUnauthorized?: boolean | undefined
  /** Connection establishment (TCP + TLS). Default 30 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Wait for response headers, and between body chunks. Default 5 minutes (a long poll takes ~50 s). */
  readonly requestTimeout?: Duration.DurationInput | undefined
}

/**
 * A built transport: its undici dispatcher and what `debugInfo` reports about it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transport {
  readonly dispatcher: Dispatcher
  readonly hasProxy: boolean
  readonly hasRootCa: boolean
}

/** @since 0.1.0 */
export const defaults = {
  connectTimeout: Duration.seconds(30),
  requestTimeout: Duration.minutes(5)
} as const

const envString = (name: string): Effect.Effect<string | undefined> =>
  Config.string(name).pipe(
    Config.option,
    Effect.map(Option.filter((s) => s.trim() !== "")),
    Effect.map(Option.getOrUndefined),
    Effect.orElseSucceed(() => undefined)
  )

/** `HTTPS_PROXY` before `https_proxy`, as Go reads them. */
const envAny = (...names: ReadonlyArray<string>): Effect.Effect<string | undefined> =>
  Effect.reduce(names, undefined as string | undefined, (found, name) => found === undefined ? envString(name) : Effect.succeed(found))

const proxyUrl = (raw: string, setting: string): Effect.Effect<URL, TransportError> => {
  const parsed = Proxy.parseProxyUrl(raw)
  return typeof parsed === "string" ? Effect.fail(new TransportError({ setting, reason: parsed })) : Effect.succeed(parsed)
}

const proxyPlan = (options: TransportOptions): Effect.Effect<Proxy.ProxyPlan, TransportError> =>
  Effect.gen(function*() {
    const proxy = options.proxy
    if (proxy === false) return { _tag: "Direct" } as const
    if (typeof proxy === "function") return { _tag: "Function", select: proxy } as const
    if (proxy !== undefined) {
      return { _tag: "Fixed", proxy: yield* proxyUrl(String(proxy), "proxy"), noProxy: Proxy.parseNoProxy(options.noProxy) } as const
    }
    const https = yield* envAny("HTTPS_PROXY", "https_proxy")
    const http = yield* envAny("HTTP_PROXY", "http_proxy")
    const noProxy = options.noProxy ?? (yield* envAny("NO_PROXY", "no_proxy"))
    return {
      _tag: "Environment",
      https: https === undefined ? undefined : yield* proxyUrl(https, "HTTPS_PROXY"),
      http: http === undefined ? undefined : yield* proxyUrl(http, "HTTP_PROXY"),
      noProxy: Proxy.parseNoProxy(noProxy)
    } as const
  })

const positiveMillis = (value: Duration.DurationInput, setting: string): Effect.Effect<number, TransportError> => {
  const millis = Duration.toMillis(Duration.decode(value))
  return Number.isFinite(millis) && millis > 0
    ? Effect.succeed(Math.ceil(millis))
    : Effect.fail(new TransportError({ setting, reason: "must be a positive, finite duration" }))
}

/**
 * Builds the transport in the current scope (its connections close with the scope). Proxy
 * variables and `NODE_EXTRA_CA_CERTS` are read through `Config`, i.e. the current
 * `ConfigProvider` (the environment by default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: TransportOptions = {}): Effect.Effect<Transport, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const plan = yield* proxyPlan(options)
    const sources = options.rootCAs === undefined ? [] : typeof options.rootCAs === "string" ? [options.rootCAs] : options.rootCAs
    const ca = yield* Tls.rootCAs(sources, yield* envString("NODE_EXTRA_CA_CERTS"))
    const rejectUnauthorized = options.rejectUnauthorized ?? true
    if (!rejectUnauthorized) {
      yield* Effect.logWarning(
        "TLS certificate verification is disabled (rejectUnauthorized: false), so every server can impersonate GitHub; use this for testing only"
      )
    }
    if (plan._tag === "Fixed") yield* Effect.logDebug(`requests go through the proxy ${Proxy.redactUrl(plan.proxy)}`)
    const dispatcher = yield* InternalDispatcher.make({
      proxyFor: Proxy.selector(plan),
      proxyFixedPerOrigin: plan._tag !== "Function",
      ca,
      rejectUnauthorized,
      connectTimeout: yield* positiveMillis(options.connectTimeout ?? defaults.connectTimeout, "connectTimeout"),
      requestTimeout: yield* positiveMillis(options.requestTimeout ?? defaults.requestTimeout, "requestTimeout")
    })
    return { dispatcher, hasProxy: Proxy.hasProxy(plan), hasRootCa: ca !== undefined }
  }).pipe(Effect.annotateLogs({ package: "@scaleset/node", module: "NodeScaleSet" }))

/**
 * The TLS certificate verification code in an error's cause chain, if any.
 *
 * @since 0.1.0
 */
export const certificateErrorCode: (error: unknown) => string | undefined = UndiciClient.certificateErrorCode

/**
 * An `HttpClient` on a transport's dispatcher.
 *
 * @since 0.1.0
 * @category constructors
 */
export const httpClient = (transport: Transport): HttpClient.HttpClient => UndiciClient.make(transport.dispatcher).client

/**
 * `HttpClient` for the scale set client, on undici with the given transport options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: TransportOptions = {}): Layer.Layer<HttpClient.HttpClient, TransportError> =>
  Layer.scoped(HttpClient.HttpClient, Effect.map(make(options), httpClient))

/**
 * `HttpClient` with the transport options of the environment (see `NodeConfig.transportOptions`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<HttpClient.HttpClient, TransportError | NodeConfigError> = Layer.unwrapEffect(
  Effect.map(NodeConfig.transportOptions, layer)
)

/**
 * Everything the whole client needs: the core client's options and the transport's.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions extends Omit<ScaleSetClient.ScaleSetClientOptions, "transport"> {
  readonly transport?: TransportOptions | undefined
}

/**
 * The `ScaleSetClient` on this transport, which also tells the client (for `debugInfo`) whether
 * a proxy and extra root CAs are in use. Unless set, the transport's request timeout is at least
 * the client's per-request timeout.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (
  options: ClientOptions
): Layer.Layer<ScaleSetClient.ScaleSetClient, TransportError | ScaleSetError.InvalidConfigUrl | ScaleSetError.AuthError> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const { transport: transportOptions = {}, ...clientOptions } = options
      const requestTimeout = transportOptions.requestTimeout ??
        Duration.max(defaults.requestTimeout, options.timeout ?? defaults.requestTimeout)
      const transport = yield* make({ ...transportOptions, requestTimeout })
      // the client sends through the transport directly: deadlines on undici's side, no span per request
      const undici = UndiciClient.make(transport.dispatcher)
      return ScaleSetClient.layer({
        ...clientOptions,
        transport: { hasProxy: transport.hasProxy, hasRootCa: transport.hasRootCa, execute: undici.execute }
      }).pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, undici.client)))
    })
  )

/**
 * The whole client configured from the environment (see `NodeConfig.clientOptions`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClientConfig: Layer.Layer<
  ScaleSetClient.ScaleSetClient,
  NodeConfigError | TransportError | ScaleSetError.InvalidConfigUrl | ScaleSetError.AuthError
> = Layer.unwrapEffect(Effect.map(NodeConfig.clientOptions, layerClient))
