/**
 * The token chain: (App: installation token) → registration token → runner-registration →
 * admin token and service URL. Cached until 60 s before the admin token's `exp`; refreshed
 * single-flight, and a failed refresh leaves the previous state as it was.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as jose from "jose"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as SynchronizedRef from "effect/SynchronizedRef"
import * as Credentials from "../Credentials.js"
import * as GitHubConfig from "../GitHubConfig.js"
import * as ScaleSetSchema from "../ScaleSetSchema.js"
import { AuthError, type ResponseDecodeError } from "../ScaleSetError.js"
import { decodeJson, type ErrorFromStatus, type Pipeline } from "./http.js"
import { withOperationSpan } from "../Span.js"

export interface AdminConnection {
  readonly serviceUrl: string
  readonly token: Redacted.Redacted<string>
  /** Milliseconds since the epoch. */
  readonly expiresAt: number
}

export type TokenChainError = ErrorFromStatus | ResponseDecodeError | AuthError

export interface TokenChain {
  readonly get: Effect.Effect<AdminConnection, TokenChainError>
  /** How many chains ran (for diagnostics and tests). */
  readonly refreshes: Effect.Effect<number>
}

const REFRESH_BEFORE_MS = 60_000

const decodeToken = decodeJson(ScaleSetSchema.TokenResponse)
const decodeAdmin = decodeJson(ScaleSetSchema.AdminConnection)

const base64UrlDecode = (segment: string): string => {
  const base64 = segment.replace(/-/g, "+").replace(/_/g, "/")
  return atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4))
}

/** Reads `exp` from a JWT without verifying it: the service signs it, we only need its lifetime. */
export const jwtExpiry = (token: string): Option.Option<number> => {
  const parts = token.split(".")
  if (parts.length !== 3) return Option.none()
  try {
    const claims = JSON.parse(base64UrlDecode(parts[1]!)) as unknown
    if (typeof claims !== "object" || claims === null) return Option.none()
    const exp = (claims as Record<string, unknown>).exp
    return typeof exp === "number" && Number.isFinite(exp) ? Option.some(exp * 1000) : Option.none()
  } catch {
    return Option.none()
  }
}

const adminError = (reason: string, url: string) => new AuthError({ step: "admin-connection", reason, url })

export const make = (options: {
  readonly config: GitHubConfig.GitHubConfig
  readonly credentials: Credentials.Credentials
  /** The imported app key, when the credentials are an app's. */
  readonly appKey: Option.Option<jose.CryptoKey>
  readonly pipeline: Pipeline
}): Effect.Effect<TokenChain> =>
  Effect.gen(function*() {
    const { config, credentials, pipeline } = options
    const state = yield* SynchronizedRef.make(Option.none<AdminConnection>())
    let refreshes = 0

    const credentialToken: Effect.Effect<Redacted.Redacted<string>, TokenChainError> = Effect.gen(function*() {
      if (credentials._tag === "PersonalAccessToken") return credentials.token
      const key = yield* Option.match(options.appKey, {
        onNone: () => Effect.fail(new AuthError({ step: "credentials", reason: "GitHub App private key is required" })),
        onSome: Effect.succeed
      })
      const jwt = yield* Credentials.signAppJwt(key, credentials.clientId, yield* Clock.currentTimeMillis)
      const response = yield* pipeline.send({
        method: "POST",
        url: GitHubConfig.apiUrl(config, `/app/installations/${credentials.installationId}/access_tokens`),
        headers: { authorization: `Bearer ${Redacted.value(jwt)}`, "content-type": "application/vnd.github+json" },
        emptyBody: true,
        ok: [201]
      })
      return (yield* decodeToken(response)).token
    })

    const chain = Effect.gen(function*() {
      const token = yield* credentialToken
      const registration = yield* pipeline.send({
        method: "POST",
        url: GitHubConfig.apiUrl(config, GitHubConfig.registrationTokenPath(config)),
        headers: { authorization: `Bearer ${Redacted.value(token)}`, "content-type": "application/vnd.github.v3+json" },
        emptyBody: true,
        ok: [201]
      }).pipe(Effect.flatMap(decodeToken))
      const url = GitHubConfig.apiUrl(config, "/actions/runner-registration")
      const admin = yield* pipeline.send({
        method: "POST",
        url,
        headers: { authorization: `RemoteAuth ${Redacted.value(registration.token)}`, "content-type": "application/json" },
        json: { url: config.configUrl, runner_event: "register" },
        // the registration token can take a moment to become valid
        retryAlso: [401, 403]
      }).pipe(Effect.flatMap(decodeAdmin))
      if (admin.url === "") return yield* adminError("the answer is missing url (the Actions service URL)", url)
      if (!URL.canParse(admin.url) || !/^https?:$/.test(new URL(admin.url).protocol)) {
        return yield* adminError("the answer's url is not an http(s) URL", url)
      }
      const adminToken = Redacted.value(admin.token)
      if (adminToken === "") return yield* adminError("the answer is missing token (the admin token)", url)
      if (adminToken.split(".").length !== 3) return yield* adminError("the admin token is not a JWT", url)
      const expiresAt = yield* Option.match(jwtExpiry(adminToken), {
        onNone: () => Effect.fail(adminError("the admin token is a JWT without a readable exp claim", url)),
        onSome: Effect.succeed
      })
      refreshes++
      return { serviceUrl: admin.url, token: admin.token, expiresAt } satisfies AdminConnection
    })
    const tracedChain = withOperationSpan(chain, "ScaleSetClient.refreshAdminToken")

    const fresh = (current: Option.Option<AdminConnection>, now: number) =>
      Option.filter(current, (c) => c.expiresAt - REFRESH_BEFORE_MS > now)

    // the ref's value, mirrored for the read every request makes (written only under its lock)
    let latest = Option.none<AdminConnection>()
    const refresh = SynchronizedRef.modifyEffect(state, (previous) =>
      Effect.gen(function*() {
        const valid = fresh(previous, yield* Clock.currentTimeMillis)
        if (Option.isSome(valid)) return [valid.value, previous] as const
        const next = yield* tracedChain
        latest = Option.some(next)
        return [next, latest] as const
      }))

    // single flight: the ref's lock is held during the chain, later callers find it fresh
    const get = Effect.withFiberRuntime<AdminConnection, TokenChainError>((fiber) => {
      const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
      const current = fresh(latest, now)
      return Option.isSome(current) ? Effect.succeed(current.value) : refresh
    })

    return { get, refreshes: Effect.sync(() => refreshes) }
  })
