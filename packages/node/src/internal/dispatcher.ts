/**
 * The undici dispatcher behind the Node `HttpClient`: one direct `Agent`, one `ProxyAgent` per
 * proxy in use, picked per request origin, all with the same TLS settings and timeouts. Every
 * request the library makes (token chain, API calls, message sessions) goes through it.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Agent, type Dispatcher, ProxyAgent } from "undici"
import type { ProxySelector } from "./proxy.js"

export interface DispatcherSettings {
  readonly proxyFor: ProxySelector
  /** `proxyFor` answers the same for an origin every time (not a user's function): remember it. */
  readonly proxyFixedPerOrigin: boolean
  /** Root CAs; `undefined` keeps Node's defaults. */
  readonly ca: ReadonlyArray<string> | undefined
  readonly rejectUnauthorized: boolean
  /** Milliseconds to establish a connection (TCP and TLS). */
  readonly connectTimeout: number
  /** Milliseconds to wait for the response headers, and between body chunks. */
  readonly requestTimeout: number
}

const proxyToken = (proxy: URL): string | undefined =>
  proxy.username === "" && proxy.password === ""
    ? undefined
    : `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64")}`

/** The proxy URL without its credentials (they travel as `Proxy-Authorization`). */
const withoutCredentials = (proxy: URL): string => {
  const copy = new URL(proxy.href)
  copy.username = ""
  copy.password = ""
  return copy.href
}

/**
 * Builds the dispatcher in the current scope; closing the scope destroys every connection.
 */
export const make = (settings: DispatcherSettings): Effect.Effect<Dispatcher, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const tls = {
        ...(settings.ca === undefined ? {} : { ca: [...settings.ca] }),
        rejectUnauthorized: settings.rejectUnauthorized,
        timeout: settings.connectTimeout
      }
      const timeouts = { headersTimeout: settings.requestTimeout, bodyTimeout: settings.requestTimeout }
      const direct = new Agent({ connect: tls, ...timeouts })
      const proxies = new Map<string, ProxyAgent>()
      const proxyAgent = (proxy: URL): ProxyAgent => {
        let agent = proxies.get(proxy.href)
        if (agent === undefined) {
          const token = proxyToken(proxy)
          agent = new ProxyAgent({
            uri: withoutCredentials(proxy),
            ...(token === undefined ? {} : { token }),
            requestTls: tls,
            proxyTls: tls,
            // plain-HTTP targets are forwarded, HTTPS ones tunnelled with CONNECT (as Go does)
            proxyTunnel: false,
            ...timeouts
          })
          proxies.set(proxy.href, agent)
        }
        return agent
      }
      // the proxy of each origin, decided once where that is fixed (the client talks to a handful)
      const decided = new Map<string, URL | undefined>()
      const proxyOf = (origin: string): URL | undefined => {
        if (!settings.proxyFixedPerOrigin) return settings.proxyFor(new URL(origin))
        if (decided.has(origin)) return decided.get(origin)
        const proxy = settings.proxyFor(new URL(origin))
        if (decided.size >= 1000) decided.clear()
        decided.set(origin, proxy)
        return proxy
      }
      const dispatcher = direct.compose((dispatch) => (options, handler) => {
        // the platform client sets its own (very long) timeouts per request: ours apply
        const request = { ...options, ...timeouts }
        const proxy = options.origin === undefined ? undefined : proxyOf(String(options.origin))
        return proxy === undefined ? dispatch(request, handler) : proxyAgent(proxy).dispatch(request, handler)
      })
      return { dispatcher, close: () => Promise.all([direct.destroy(), ...[...proxies.values()].map((p) => p.destroy())]) }
    }),
    ({ close }) => Effect.promise(close).pipe(Effect.timeout("5 seconds"), Effect.ignore)
  ).pipe(Effect.map(({ dispatcher }) => dispatcher))
