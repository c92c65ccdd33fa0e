/**
 * Configuration from the environment, in one place, read through Effect `Config` (so any
 * `ConfigProvider` works). A missing or conflicting combination is one `NodeConfigError` listing
 * every problem and what to set.
 *
 * | variable | meaning |
 * | --- | --- |
 * | `SCALESET_URL` | the configuration URL (required) |
 * | `SCALESET_TOKEN` | a personal access token, or: |
 * | `SCALESET_APP_CLIENT_ID` (or `SCALESET_APP_ID`), `SCALESET_APP_INSTALLATION_ID`, `SCALESET_APP_PRIVATE_KEY` (or `SCALESET_APP_PRIVATE_KEY_FILE`) | a GitHub App |
 * | `SCALESET_RETRY_MAX`, `SCALESET_RETRY_WAIT_MAX`, `SCALESET_TIMEOUT` | retries and the per-request timeout (durations such as `30 seconds`) |
 * | `SCALESET_PROXY`, `SCALESET_NO_PROXY` | an explicit proxy; otherwise `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` apply |
 * | `SCALESET_CA_FILE` (paths separated by `,` or the path delimiter), `SCALESET_CA_CERT` (PEM text) | extra root CAs |
 * | `SCALESET_INSECURE_SKIP_TLS_VERIFY` | `true` disables certificate verification |
 * | `SCALESET_CONNECT_TIMEOUT` | the connect timeout |
 *
 * @since 0.1.0
 */
import * as Credentials from "@scaleset/core/Credentials"
import * as Retry from "@scaleset/core/Retry"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { readFile } from "node:fs/promises"
import { delimiter } from "node:path"
import { NodeConfigError } from "./NodeError.js"
import type { ClientOptions, TransportOptions } from "./NodeScaleSet.js"

const read = (name: string): Effect.Effect<Option.Option<string>> =>
  Config.string(name).pipe(
    Config.option,
    Effect.map(Option.filter((s) => s.trim() !== "")),
    Effect.orElseSucceed(() => Option.none<string>())
  )

const readSecret = (name: string): Effect.Effect<Option.Option<Redacted.Redacted<string>>> =>
  Config.redacted(name).pipe(
    Config.option,
    Effect.map(Option.filter((s) => Redacted.value(s).trim() !== "")),
    Effect.orElseSucceed(() => Option.none<Redacted.Redacted<string>>())
  )

const durationOf = (text: string): Option.Option<Duration.Duration> =>
  Duration.decodeUnknown(text.trim()).pipe(Option.filter((d) => Duration.isFinite(d) && Duration.toMillis(d) >= 0))

const booleanOf = (text: string): Option.Option<boolean> => {
  const value = text.trim().toLowerCase()
  return ["true", "1", "yes", "on"].includes(value)
    ? Option.some(true)
    : ["false", "0", "no", "off"].includes(value)
    ? Option.some(false)
    : Option.none()
}

/** Collects problems; every reader returns `undefined` after recording what is wrong. */
const collector = () => {
  const problems: Array<string> = []
  return {
    problems,
    add: (problem: string) => void problems.push(problem),
    duration: (name: string, value: Option.Option<string>): Duration.Duration | undefined => {
      if (Option.isNone(value)) return undefined
      const parsed = durationOf(value.value)
      if (Option.isSome(parsed)) return parsed.value
      problems.push(`${name} must be a duration such as "30 seconds" or "2 minutes"`)
      return undefined
    }
  }
}

const transportFrom = (
  found: ReturnType<typeof collector>
): Effect.Effect<TransportOptions> =>
  Effect.gen(function*() {
    const proxy = yield* read("SCALESET_PROXY")
    const noProxy = yield* read("SCALESET_NO_PROXY")
    const caFiles = yield* read("SCALESET_CA_FILE")
    const caCert = yield* read("SCALESET_CA_CERT")
    const insecure = yield* read("SCALESET_INSECURE_SKIP_TLS_VERIFY")
    const connectTimeout = found.duration("SCALESET_CONNECT_TIMEOUT", yield* read("SCALESET_CONNECT_TIMEOUT"))
    let rejectUnauthorized: boolean | undefined
    if (Option.isSome(insecure)) {
      const flag = booleanOf(insecure.value)
      if (Option.isSome(flag)) rejectUnauthorized = !flag.value
      else found.add("SCALESET_INSECURE_SKIP_TLS_VERIFY must be true or false")
    }
    const rootCAs = [
      ...Option.match(caFiles, {
        onNone: () => [],
        onSome: (files) => files.split(new RegExp(`[,${delimiter === ";" ? ";" : ":"}]`)).map((f) => f.trim()).filter((f) => f !== "")
      }),
      ...Option.toArray(caCert)
    ]
    return {
      ...(Option.isSome(proxy) ? { proxy: proxy.value } : {}),
      ...(Option.isSome(noProxy) ? { noProxy: noProxy.value } : {}),
      ...(rootCAs.length > 0 ? { rootCAs } : {}),
      ...(rejectUnauthorized === undefined ? {} : { rejectUnauthorized }),
      ...(connectTimeout === undefined ? {} : { connectTimeout })
    }
  })

/**
 * The transport options of the environment: `SCALESET_PROXY`, `SCALESET_NO_PROXY`,
 * `SCALESET_CA_FILE`, `SCALESET_CA_CERT`, `SCALESET_INSECURE_SKIP_TLS_VERIFY`,
 * `SCALESET_CONNECT_TIMEOUT`.
 *
 * @since 0.1.0
 * @category config
 */
export const transportOptions: Effect.Effect<TransportOptions, NodeConfigError> = Effect.gen(function*() {
  const found = collector()
  const options = yield* transportFrom(found)
  return found.problems.length > 0 ? yield* new NodeConfigError({ problems: found.problems }) : options
})

const credentialsHelp =
  "SCALESET_TOKEN (a personal access token), or a GitHub App: SCALESET_APP_CLIENT_ID (or SCALESET_APP_ID), " +
  "SCALESET_APP_INSTALLATION_ID and SCALESET_APP_PRIVATE_KEY (or SCALESET_APP_PRIVATE_KEY_FILE)"

/**
 * The whole client's options from the environment (see the module documentation for the
 * variables). Every problem is reported at once.
 *
 * @since 0.1.0
 * @category config
 */
export const clientOptions: Effect.Effect<ClientOptions, NodeConfigError> = Effect.gen(function*() {
  const found = collector()
  const url = yield* read("SCALESET_URL")
  const token = yield* readSecret("SCALESET_TOKEN")
  const clientId = yield* read("SCALESET_APP_CLIENT_ID")
  const appId = yield* read("SCALESET_APP_ID")
  const installationId = yield* read("SCALESET_APP_INSTALLATION_ID")
  const privateKey = yield* readSecret("SCALESET_APP_PRIVATE_KEY")
  const privateKeyFile = yield* read("SCALESET_APP_PRIVATE_KEY_FILE")

  if (Option.isNone(url)) {
    found.add("SCALESET_URL is not set: set it to where the scale sets live, e.g. https://github.com/my-org or https://github.com/owner/repo")
  }

  const appSettings: ReadonlyArray<readonly [string, boolean]> = [
    ["SCALESET_APP_CLIENT_ID", Option.isSome(clientId)],
    ["SCALESET_APP_ID", Option.isSome(appId)],
    ["SCALESET_APP_INSTALLATION_ID", Option.isSome(installationId)],
    ["SCALESET_APP_PRIVATE_KEY", Option.isSome(privateKey)],
    ["SCALESET_APP_PRIVATE_KEY_FILE", Option.isSome(privateKeyFile)]
  ]
  const appNames = appSettings.filter(([, set]) => set).map(([name]) => name)

  let credentials: Credentials.Credentials | undefined
  if (Option.isSome(token) && appNames.length > 0) {
    found.add(`both SCALESET_TOKEN and GitHub App settings (${appNames.join(", ")}) are set: set only one kind of credentials`)
  } else if (Option.isSome(token)) {
    credentials = Credentials.personalAccessToken(token.value)
  } else if (appNames.length === 0) {
    found.add(`no credentials: set ${credentialsHelp}`)
  } else {
    const missing: Array<string> = []
    if (Option.isSome(clientId) && Option.isSome(appId)) found.add("both SCALESET_APP_CLIENT_ID and SCALESET_APP_ID are set: set only one")
    if (Option.isNone(clientId) && Option.isNone(appId)) missing.push("SCALESET_APP_CLIENT_ID (or SCALESET_APP_ID)")
    let installation: number | undefined
    if (Option.isNone(installationId)) missing.push("SCALESET_APP_INSTALLATION_ID")
    else if (!/^\d+$/.test(installationId.value.trim()) || Number(installationId.value) <= 0) {
      found.add("SCALESET_APP_INSTALLATION_ID must be a positive integer")
    } else installation = Number(installationId.value)
    if (Option.isSome(privateKey) && Option.isSome(privateKeyFile)) {
      found.add("both SCALESET_APP_PRIVATE_KEY and SCALESET_APP_PRIVATE_KEY_FILE are set: set only one")
    }
    if (Option.isNone(privateKey) && Option.isNone(privateKeyFile)) missing.push("SCALESET_APP_PRIVATE_KEY (or SCALESET_APP_PRIVATE_KEY_FILE)")
    if (missing.length > 0) found.add(`GitHub App settings are incomplete: also set ${missing.join(", ")}`)
    let key = Option.getOrUndefined(privateKey)
    if (key === undefined && Option.isSome(privateKeyFile)) {
      const path = privateKeyFile.value.trim()
      key = yield* Effect.tryPromise(() => readFile(path, "utf8")).pipe(
        Effect.map(Redacted.make),
        Effect.catchAll((cause) =>
          Effect.as(
            Effect.sync(() => found.add(`SCALESET_APP_PRIVATE_KEY_FILE: cannot read ${path} (${(cause.error as { code?: string }).code ?? "error"})`)),
            undefined
          )
        )
      )
    }
    const id = Option.getOrUndefined(Option.orElse(clientId, () => appId))
    if (found.problems.length === 0 && id !== undefined && installation !== undefined && key !== undefined) {
      credentials = Credentials.gitHubApp({ clientId: id.trim(), installationId: installation, privateKey: key })
    }
  }

  const retryMaxText = yield* read("SCALESET_RETRY_MAX")
  let retryMax: number | undefined
  if (Option.isSome(retryMaxText)) {
    if (/^\d+$/.test(retryMaxText.value.trim())) retryMax = Number(retryMaxText.value)
    else found.add("SCALESET_RETRY_MAX must be a non-negative integer")
  }
  const retryWaitMax = found.duration("SCALESET_RETRY_WAIT_MAX", yield* read("SCALESET_RETRY_WAIT_MAX"))
  const timeout = found.duration("SCALESET_TIMEOUT", yield* read("SCALESET_TIMEOUT"))
  const transport = yield* transportFrom(found)

  if (found.problems.length > 0 || credentials === undefined || Option.isNone(url)) {
    return yield* new NodeConfigError({ problems: found.problems })
  }
  return {
    url: url.value.trim(),
    credentials,
    retry: { max: retryMax ?? Retry.defaults.max, waitMax: retryWaitMax ?? Retry.defaults.waitMax },
    ...(timeout === undefined ? {} : { timeout }),
    transport
  }
})
