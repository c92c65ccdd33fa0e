/**
 * Configuration URL utilities of the facade, over core's `GitHubConfig`.
 *
 * @since 0.1.0
 */
import * as GitHubConfig from "@scaleset/core/GitHubConfig"
import * as ScaleSetClient from "@scaleset/core/ScaleSetClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { fromCause, InvalidGitHubConfigURLError } from "./errors.js"

/**
 * Where a scale set lives.
 *
 * @since 0.1.0
 */
export const GitHubScope = {
  Unknown: "Unknown",
  Enterprise: "Enterprise",
  Organization: "Organization",
  Repository: "Repository"
} as const

/** @since 0.1.0 */
export type GitHubScope = (typeof GitHubScope)[keyof typeof GitHubScope]

/**
 * A parsed configuration URL.
 *
 * @since 0.1.0
 */
export interface GitHubConfigInfo {
  readonly configURL: URL
  readonly scope: GitHubScope
  readonly enterprise: string
  readonly organization: string
  readonly repository: string
  /** github.com, GHE.com or github.localhost rather than GitHub Enterprise Server. */
  readonly isHosted: boolean
}

/** The runner group every organization has. @since 0.1.0 */
export const DEFAULT_RUNNER_GROUP: string = ScaleSetClient.DEFAULT_RUNNER_GROUP

/**
 * Parses a configuration URL (`https://github.com/org`, `…/owner/repo`, `…/enterprises/name`).
 * Throws `InvalidGitHubConfigURLError` when it names none of them.
 *
 * @since 0.1.0
 */
export const parseGitHubConfigFromURL = (url: string): GitHubConfigInfo => {
  if (typeof url !== "string") {
    throw new InvalidGitHubConfigURLError(`the config URL must be a string, got ${url === null ? "null" : typeof url}`, {
      url: String(url),
      reason: "the config URL is missing"
    })
  }
  const exit = Effect.runSyncExit(GitHubConfig.parse(url))
  if (Exit.isFailure(exit)) throw fromCause(exit.cause)
  const config = exit.value
  return {
    configURL: new URL(config.configUrl),
    scope: config.scope,
    enterprise: config.enterprise,
    organization: config.organization,
    repository: config.repository,
    isHosted: config.isHosted
  }
}

/**
 * The GitHub REST API URL for a path: `https://api.github.com{path}` for hosted GitHub,
 * `{origin}/api/v3{path}` for GitHub Enterprise Server.
 *
 * @since 0.1.0
 */
export const gitHubAPIURL = (config: GitHubConfigInfo, path: string): URL =>
  new URL(
    GitHubConfig.apiUrl(
      {
        configUrl: config.configURL.href,
        url: config.configURL,
        scope: config.scope === "Unknown" ? "Organization" : config.scope,
        enterprise: config.enterprise,
        organization: config.organization,
        repository: config.repository,
        isHosted: config.isHosted
      },
      path
    )
  )

/**
 * Whether a URL is hosted GitHub (github.com, GHE.com) rather than GitHub Enterprise Server;
 * `GITHUB_ACTIONS_FORCE_GHES` forces `false`.
 *
 * @since 0.1.0
 */
export const isHostedGitHubURL = (url: string | URL): boolean => Effect.runSync(GitHubConfig.isHosted(url))
