/**
 * The functional options of `Client.createWith…`, as in the Go client (`WithRetryMax`, …).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

/**
 * A logger such as `console`, with some of `debug`, `info`, `warn`, `error`.
 *
 * @since 0.1.0
 */
export interface FacadeLogger {
  readonly debug?: ((...args: Array<unknown>) => void) | undefined
  readonly info?: ((...args: Array<unknown>) => void) | undefined
  readonly warn?: ((...args: Array<unknown>) => void) | undefined
  readonly error?: ((...args: Array<unknown>) => void) | undefined
}

/**
 * What the options collect. Read by `Client`; build it only through the `with…` functions.
 *
 * @since 0.1.0
 */
export interface ClientSettings {
  logger?: FacadeLogger
  retryMax?: number
  /** Milliseconds. */
  retryWaitMax?: number
  rejectUnauthorized?: boolean
  rootCAs: Array<string>
  proxy?: string | URL | ((target: URL) => string | URL | null | undefined)
  noProxy?: string | ReadonlyArray<string>
  /** Milliseconds. */
  timeout?: number
}

/** @since 0.1.0 */
export type ClientOption = (settings: ClientSettings) => void

/** Logs through `logger` (Info and above). Without it the client logs nothing. @since 0.1.0 */
export const withLogger = (logger: FacadeLogger): ClientOption => (s) => {
  s.logger = logger
}

/** Retries after the first attempt (default 4; 0 disables retries). @since 0.1.0 */
export const withRetryMax = (retryMax: number): ClientOption => (s) => {
  s.retryMax = retryMax
}

/** The longest wait between retries, in milliseconds (default 30000). @since 0.1.0 */
export const withRetryWaitMax = (milliseconds: number): ClientOption => (s) => {
  s.retryWaitMax = milliseconds
}

/** Disables TLS certificate verification (testing only; a warning is logged). @since 0.1.0 */
export const withoutTLSVerify = (): ClientOption => (s) => {
  s.rejectUnauthorized = false
}

/**
 * Trusts these CAs in addition to the system ones: PEM text (whole chains) or paths of PEM files.
 *
 * @since 0.1.0
 */
export const withRootCAs = (...cas: Array<string | Uint8Array | ReadonlyArray<string | Uint8Array>>): ClientOption => (s) => {
  for (const ca of cas.flat()) s.rootCAs.push(typeof ca === "string" ? ca : Buffer.from(ca).toString("utf8"))
}

/**
 * Sends every request through this proxy (`http://user:pass@proxy:3128`), or the one a function
 * picks per target URL (`null` for direct). `noProxy` lists targets to reach directly. Without
 * this option `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` apply. Loopback is never proxied.
 *
 * @since 0.1.0
 */
export const withProxy = (
  proxy: string | URL | ((target: URL) => string | URL | null | undefined),
  options: { readonly noProxy?: string | ReadonlyArray<string> | undefined } = {}
): ClientOption => (s) => {
  s.proxy = proxy
  if (options.noProxy !== undefined) s.noProxy = options.noProxy
}

/** Per-attempt timeout of a request, in milliseconds (default 300000). @since 0.1.0 */
export const withTimeout = (milliseconds: number): ClientOption => (s) => {
  s.timeout = milliseconds
}

/** Collects options. @since 0.1.0 */
export const collect = (options: ReadonlyArray<ClientOption>): ClientSettings => {
  const settings: ClientSettings = { rootCAs: [] }
  for (const option of options) option(settings)
  return settings
}

const render = (message: unknown): string =>
  Array.isArray(message) ? message.map(render).join(" ") : typeof message === "string" ? message : String(message)

/**
 * The Effect logger writing to a facade logger, or nothing when there is none.
 *
 * @since 0.1.0
 */
export const loggerLayer = (logger: FacadeLogger | undefined): Layer.Layer<never> => {
  if (logger === undefined) return Logger.replace(Logger.defaultLogger, Logger.none)
  const effectLogger = Logger.make<unknown, void>(({ annotations, cause, logLevel, message }) => {
    const write = LogLevel.greaterThanEqual(logLevel, LogLevel.Error)
      ? logger.error
      : LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)
      ? logger.warn
      : LogLevel.greaterThanEqual(logLevel, LogLevel.Info)
      ? logger.info
      : logger.debug
    if (write === undefined) return
    const fields: Record<string, unknown> = {}
    for (const [key, value] of HashMap.toEntries(annotations)) fields[key] = value
    if (!Cause.isEmpty(cause)) fields.cause = Cause.pretty(cause)
    const text = render(message)
    if (Object.keys(fields).length > 0) write.call(logger, text, fields)
    else write.call(logger, text)
  })
  return Layer.merge(Logger.replace(Logger.defaultLogger, effectLogger), Logger.minimumLogLevel(LogLevel.Info))
}
