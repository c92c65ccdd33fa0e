/**
 * Faults the simulator injects, scripted per test: a rule matches requests (by route, method or
 * path) and acts on the next `times` of them, in the order the rules were added.
 *
 * ```ts
 * yield* sim.inject(Faults.rule("generateJitConfig", Faults.status(503, { retryAfter: 1 }), { times: 2 }))
 * yield* sim.statusSequence("sessions.create", [503, "pass", 429])
 * ```
 *
 * @since 0.1.0
 */

/**
 * The name of every route the simulator serves, for fault rules and recorded requests.
 *
 * @since 0.1.0
 * @category models
 */
export type RouteId =
  | "app.accessToken"
  | "registrationToken"
  | "runnerRegistration"
  | "runnerGroups.list"
  | "scaleSets.list"
  | "scaleSets.get"
  | "scaleSets.create"
  | "scaleSets.update"
  | "scaleSets.delete"
  | "generateJitConfig"
  | "runners.get"
  | "runners.list"
  | "runners.remove"
  | "sessions.create"
  | "sessions.refresh"
  | "sessions.delete"
  | "acquireJobs"
  | "messages.get"
  | "messages.delete"
  | "runner.connect"
  | "runner.job"
  | "runner.complete"
  | "runner.disconnect"
  | "notFound"

/**
 * What a fault does to a matching request.
 *
 * - `Status`: answer this status (and body, headers) without handling the request.
 * - `Pass`: handle the request normally (a gap in a status sequence).
 * - `Latency`: wait, then handle normally.
 * - `Reset`: destroy the connection without an answer.
 * - `Bom`: handle normally, prefix the body with a UTF-8 byte order mark.
 * - `Garbled`: handle normally, replace the body with broken JSON.
 * - `EmptyBody`: handle normally, send no body.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultAction =
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly body?: string | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
  }
  | { readonly _tag: "Pass" }
  | { readonly _tag: "Latency"; readonly ms: number }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "Bom" }
  | { readonly _tag: "Garbled" }
  | { readonly _tag: "EmptyBody" }

/**
 * Which requests a rule applies to: every given field must match. `path` is a substring of (or a
 * pattern on) the URL path.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultMatch {
  readonly route?: RouteId | undefined
  readonly method?: string | undefined
  readonly path?: string | RegExp | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface FaultRule extends FaultMatch {
  readonly action: FaultAction
  /** How many matching requests it applies to. Default 1; `Infinity` for all. */
  readonly times?: number | undefined
}

/**
 * An error status; `retryAfter` (seconds) adds a `Retry-After` header. Without a body, 5xx answers
 * carry a `text/plain` reason and 4xx an Actions exception body.
 *
 * @since 0.1.0
 * @category constructors
 */
export const status = (
  code: number,
  options: {
    readonly retryAfter?: number | undefined
    readonly body?: string | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
  } = {}
): FaultAction => ({
  _tag: "Status",
  status: code,
  body: options.body,
  headers: {
    ...options.headers,
    ...(options.retryAfter === undefined ? {} : { "Retry-After": String(options.retryAfter) })
  }
})

/** @since 0.1.0 @category constructors */
export const pass: FaultAction = { _tag: "Pass" }
/** @since 0.1.0 @category constructors */
export const latency = (ms: number): FaultAction => ({ _tag: "Latency", ms })
/** @since 0.1.0 @category constructors */
export const reset: FaultAction = { _tag: "Reset" }
/** @since 0.1.0 @category constructors */
export const bom: FaultAction = { _tag: "Bom" }
/** @since 0.1.0 @category constructors */
export const garbled: FaultAction = { _tag: "Garbled" }
/** @since 0.1.0 @category constructors */
export const emptyBody: FaultAction = { _tag: "EmptyBody" }

/**
 * A rule on a route (or a full match).
 *
 * @since 0.1.0
 * @category constructors
 */
export const rule = (
  match: RouteId | FaultMatch,
  action: FaultAction,
  options: { readonly times?: number | undefined } = {}
): FaultRule => ({ ...(typeof match === "string" ? { route: match } : match), action, times: options.times })

/**
 * The rules of a status sequence: one rule per entry, each for one request; `"pass"` lets a
 * request through. `retryAfter` applies to every status.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sequence = (
  match: RouteId | FaultMatch,
  statuses: ReadonlyArray<number | "pass">,
  options: { readonly retryAfter?: number | undefined } = {}
): ReadonlyArray<FaultRule> =>
  statuses.map((s) => rule(match, s === "pass" ? pass : status(s, { retryAfter: options.retryAfter })))
