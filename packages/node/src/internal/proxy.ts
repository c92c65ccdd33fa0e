/**
 * Proxy selection: which proxy (if any) a request to a given URL goes through. Explicit proxies
 * and the `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` environment variables (upper case first, then
 * lower case, as Go's `http.ProxyFromEnvironment`); loopback targets are never proxied.
 */
import { BlockList, isIP } from "node:net"

/** Picks the proxy for a target URL; `undefined` means a direct connection. */
export type ProxySelector = (target: URL) => URL | undefined

const defaultPort = (protocol: string) => (protocol === "https:" ? 443 : 80)

const targetPort = (url: URL) => (url.port === "" ? defaultPort(url.protocol) : Number(url.port))

/** `[::1]` → `::1`; lower case, without a trailing dot. */
export const normalizeHost = (hostname: string): string =>
  hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase()

const loopback = new BlockList()
loopback.addSubnet("127.0.0.0", 8, "ipv4")
loopback.addAddress("::1", "ipv6")
loopback.addSubnet("::ffff:127.0.0.0", 104, "ipv6")

/** `localhost`, `*.localhost`, 127.0.0.0/8 and ::1 (also IPv4-mapped). */
export const isLoopback = (hostname: string): boolean => {
  const host = normalizeHost(hostname)
  if (host === "localhost" || host.endsWith(".localhost")) return true
  const family = isIP(host)
  return family === 4 ? loopback.check(host, "ipv4") : family === 6 ? loopback.check(host, "ipv6") : false
}

/**
 * Parses a proxy URL. A value without a scheme is an HTTP proxy (`proxy:3128`), as in Go and curl.
 * Returns an error message (naming no credentials) when it cannot be used.
 */
export const parseProxyUrl = (raw: string): URL | string => {
  const value = raw.trim()
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    return "not a URL"
  }
  if (!["http:", "https:", "socks5:", "socks:"].includes(url.protocol)) {
    return `unsupported proxy scheme ${url.protocol.replace(":", "")} (use http, https or socks5)`
  }
  if (url.hostname === "") return "the proxy URL has no host"
  return url
}

/** A proxy URL for logs and errors: credentials replaced. */
export const redactUrl = (url: URL): string => {
  if (url.username === "" && url.password === "") return url.href
  const copy = new URL(url.href)
  copy.username = "***"
  copy.password = ""
  return copy.href
}

interface NoProxyEntry {
  /** A domain (matches itself and its subdomains), or an IP / CIDR checked through `block`. */
  readonly domain?: string
  readonly block?: BlockList
  readonly port?: number
}

/**
 * A parsed `NO_PROXY` list: entries separated by commas or spaces; `*` matches everything;
 * `example.com`, `.example.com` and `*.example.com` match the domain and its subdomains; IPs and
 * CIDR ranges (v4 and v6) match addresses; an entry with `:port` only matches that port.
 */
export interface NoProxy {
  readonly all: boolean
  readonly entries: ReadonlyArray<NoProxyEntry>
}

export const emptyNoProxy: NoProxy = { all: false, entries: [] }

const splitPort = (entry: string): { host: string; port?: number } => {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
  if (bracketed) return bracketed[2] ? { host: bracketed[1]!, port: Number(bracketed[2]) } : { host: bracketed[1]! }
  // a bare IPv6 address (with or without prefix) has several colons: no port
  if ((entry.match(/:/g) ?? []).length > 1) return { host: entry }
  const withPort = /^(.*):(\d+)$/.exec(entry)
  return withPort ? { host: withPort[1]!, port: Number(withPort[2]) } : { host: entry }
}

export const parseNoProxy = (raw: string | ReadonlyArray<string> | undefined): NoProxy => {
  const items = (typeof raw === "string" ? [raw] : raw ?? [])
    .flatMap((s) => s.split(/[\s,]+/))
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  if (items.includes("*")) return { all: true, entries: [] }
  const entries: Array<NoProxyEntry> = []
  for (const item of items) {
    const { host, port } = splitPort(item)
    const portPart = port === undefined ? {} : { port }
    const cidr = /^(.+)\/(\d{1,3})$/.exec(host)
    const address = cidr ? cidr[1]! : host
    const family = isIP(address)
    if (family !== 0) {
      const block = new BlockList()
      const type = family === 4 ? "ipv4" : "ipv6"
      const prefix = cidr ? Number(cidr[2]) : undefined
      try {
        if (prefix === undefined) block.addAddress(address, type)
        else block.addSubnet(address, prefix, type)
      } catch {
        continue
      }
      entries.push({ block, ...portPart })
      continue
    }
    const domain = normalizeHost(host).replace(/^\*?\./, "")
    if (domain.length > 0) entries.push({ domain, ...portPart })
  }
  return { all: false, entries }
}

/** Whether `NO_PROXY` says to connect to the target directly. */
export const bypasses = (noProxy: NoProxy, target: URL): boolean => {
  if (noProxy.all) return true
  const host = normalizeHost(target.hostname)
  const family = isIP(host)
  const port = targetPort(target)
  return noProxy.entries.some((entry) => {
    if (entry.port !== undefined && entry.port !== port) return false
    if (entry.block) return family === 4 ? entry.block.check(host, "ipv4") : family === 6 ? entry.block.check(host, "ipv6") : false
    return entry.domain !== undefined && (host === entry.domain || host.endsWith(`.${entry.domain}`))
  })
}

/** The proxy environment variables, as read from the environment (undefined or empty: unset). */
export interface ProxyEnvironment {
  readonly httpProxy?: string | undefined
  readonly httpsProxy?: string | undefined
  readonly noProxy?: string | undefined
}

/** How requests pick a proxy; resolved from options and the environment at layer build. */
export type ProxyPlan =
  | { readonly _tag: "Direct" }
  | { readonly _tag: "Fixed"; readonly proxy: URL; readonly noProxy: NoProxy }
  | { readonly _tag: "Environment"; readonly http: URL | undefined; readonly https: URL | undefined; readonly noProxy: NoProxy }
  | { readonly _tag: "Function"; readonly select: (target: URL) => string | URL | null | undefined }

/** Whether any request may go through a proxy. */
export const hasProxy = (plan: ProxyPlan): boolean =>
  plan._tag === "Fixed" || plan._tag === "Function" ||
  (plan._tag === "Environment" && (plan.http !== undefined || plan.https !== undefined))

/**
 * The selector for a plan. Loopback targets always connect directly; a proxy function's invalid
 * answer is ignored (direct), never a crash inside the dispatcher.
 */
export const selector = (plan: ProxyPlan): ProxySelector => (target) => {
  if (isLoopback(target.hostname)) return undefined
  switch (plan._tag) {
    case "Direct":
      return undefined
    case "Fixed":
      return bypasses(plan.noProxy, target) ? undefined : plan.proxy
    case "Environment": {
      const proxy = target.protocol === "https:" ? plan.https : plan.http
      return proxy === undefined || bypasses(plan.noProxy, target) ? undefined : proxy
    }
    case "Function": {
      const answer = plan.select(target)
      if (answer === null || answer === undefined || answer === "") return undefined
      const parsed = parseProxyUrl(String(answer))
      return typeof parsed === "string" ? undefined : parsed
    }
  }
}
