/**
 * The configuration URL: where a scale set lives (enterprise, organization or repository) and
 * which GitHub API serves it.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidConfigUrl } from "./ScaleSetError.js"

/** @since 0.1.0 @category models */
export type GitHubScope = "Enterprise" | "Organization" | "Repository"

/** @since 0.1.0 @category models */
export interface GitHubConfig {
  /** The URL as given, with leading and trailing `/` trimmed. */
  readonly configUrl: string
  readonly url: URL
  readonly scope: GitHubScope
  readonly enterprise: string
  readonly organization: string
  readonly repository: string
  /** github.com, GHE.com or github.localhost rather than GitHub Enterprise Server. */
  readonly isHosted: boolean
}

const trimSlashes = (s: string) => s.replace(/^\/+|\/+$/g, "")

const hostedHosts = new Set(["github.com", "www.github.com", "github.localhost"])

/**
 * Whether a URL points at GitHub's hosted service rather than GitHub Enterprise Server. Hosts
 * compare case-insensitively; an explicit port does not change the answer.
 *
 * @since 0.1.0
 */
export const isHostedHost = (hostname: string): boolean => {
  const host = hostname.toLowerCase()
  return hostedHosts.has(host) || host.endsWith(".ghe.com")
}

/**
 * `GITHUB_ACTIONS_FORCE_GHES` (any value, even empty) treats every host as GitHub Enterprise Server.
 *
 * @since 0.1.0
 */
export const forceGhes: Effect.Effect<boolean> = Config.string("GITHUB_ACTIONS_FORCE_GHES").pipe(
  Config.option,
  Config.map(Option.isSome),
  Effect.orElseSucceed(() => false)
)

/**
 * @since 0.1.0
 */
export const isHosted = (url: string | URL): Effect.Effect<boolean> =>
  Effect.map(forceGhes, (forced) => {
    if (forced) return false
    try {
      return isHostedHost(new URL(url).hostname)
    } catch {
      return false
    }
  })

const fail = (url: string, reason: string) => Effect.fail(new InvalidConfigUrl({ url, reason }))

/**
 * Parses a configuration URL such as `https://github.com/my-org`, `https://github.com/owner/repo` or
 * `https://ghes.example.com/enterprises/my-enterprise`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (input: string): Effect.Effect<GitHubConfig, InvalidConfigUrl> =>
  Effect.gen(function*() {
    // JavaScript callers can pass anything
    if (typeof input !== "string") return yield* fail(String(input), "the configuration URL must be a string")
    const configUrl = trimSlashes(input.trim())
    let url: URL
    try {
      url = new URL(configUrl)
    } catch {
      return yield* fail(input, "not an absolute URL with a scheme and a host")
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return yield* fail(input, `the scheme must be http or https, not ${url.protocol.replace(":", "")}`)
    }
    if (url.hostname === "") return yield* fail(input, "the URL has no host")
    const segments = trimSlashes(url.pathname).split("/").filter((s) => s.length > 0).map(decodeURIComponent)
    const forced = yield* forceGhes
    const base = {
      configUrl,
      url,
      enterprise: "",
      organization: "",
      repository: "",
      isHosted: !forced && isHostedHost(url.hostname)
    }
    if (segments.length === 1) return { ...base, scope: "Organization", organization: segments[0]! } as const
    if (segments.length === 2) {
      const [first, second] = segments as [string, string]
      return first.toLowerCase() === "enterprises"
        ? { ...base, scope: "Enterprise", enterprise: second } as const
        : { ...base, scope: "Repository", organization: first, repository: second } as const
    }
    return yield* fail(
      input,
      segments.length === 0
        ? "the path names no organization, repository or enterprise"
        : `the path has ${segments.length} segments; expected /{org}, /{owner}/{repo} or /enterprises/{enterprise}`
    )
  })

/**
 * The GitHub REST API URL for a path: `https://api.github.com{path}` for hosted hosts,
 * `{origin}/api/v3{path}` for GitHub Enterprise Server.
 *
 * @since 0.1.0
 */
export const apiUrl = (config: GitHubConfig, path: string): string => {
  const p = path.startsWith("/") ? path : `/${path}`
  const { url } = config
  if (config.isHosted) {
    const host = url.host.toLowerCase().replace(/^www\./, "")
    return `${url.protocol}//api.${host}${p}`
  }
  return `${url.protocol}//${url.host}/api/v3${p}`
}

/**
 * The registration-token path for the config's scope.
 *
 * @since 0.1.0
 */
export const registrationTokenPath = (config: GitHubConfig): string => {
  const e = encodeURIComponent
  switch (config.scope) {
    case "Enterprise":
      return `/enterprises/${e(config.enterprise)}/actions/runners/registration-token`
    case "Organization":
      return `/orgs/${e(config.organization)}/actions/runners/registration-token`
    case "Repository":
      return `/repos/${e(config.organization)}/${e(config.repository)}/actions/runners/registration-token`
  }
}
