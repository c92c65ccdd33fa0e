/**
 * The scale set client: scale sets, runner groups, runners, JIT configs and message sessions, every
 * call through one request pipeline (token chain, retries, error mapping, decoding, a span each).
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Credentials from "./Credentials.js"
import * as GitHubConfig from "./GitHubConfig.js"
import * as MessageSession from "./MessageSession.js"
import * as Retry from "./Retry.js"
import * as ScaleSetSchema from "./ScaleSetSchema.js"
import {
  type AuthError,
  type InvalidConfigUrl,
  type RequestError,
  RunnerGroupNotFound,
  ValidationError
} from "./ScaleSetError.js"
import * as SystemInfo from "./SystemInfo.js"
import * as Actions from "./internal/actions.js"
import * as Http from "./internal/http.js"
import { decodeError, decodeJson, makePipeline, type RawResponse } from "./internal/http.js"
import { withOperationSpan } from "./Span.js"
import * as TokenChain from "./internal/tokenChain.js"

/** The runner group every organization has. @since 0.1.0 */
export const DEFAULT_RUNNER_GROUP = "default"

/**
 * What to create or update. On create, labels default to one label named after the scale set;
 * a label without a type gets type `System`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerScaleSetInput {
  readonly name?: string | undefined
  readonly runnerGroupId?: number | undefined
  readonly runnerGroupName?: string | undefined
  readonly labels?: ReadonlyArray<{ readonly name: string; readonly type?: string | undefined }> | undefined
  readonly runnerSetting?: { readonly disableUpdate?: boolean | undefined } | undefined
  readonly runnerJitConfigUrl?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface JitRunnerSetting {
  readonly name?: string | undefined
  readonly workFolder?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ScaleSetClientShape {
  readonly config: GitHubConfig.GitHubConfig
  readonly getRunnerScaleSet: (
    runnerGroupId: number,
    name: string
  ) => Effect.Effect<Option.Option<ScaleSetSchema.RunnerScaleSet>, RequestError>
  /** `None` when the service answers 200 with a `null` body; a 404 is an error, as in the Go client. */
  readonly getRunnerScaleSetById: (id: number) => Effect.Effect<Option.Option<ScaleSetSchema.RunnerScaleSet>, RequestError>
  readonly createRunnerScaleSet: (
    input: RunnerScaleSetInput
  ) => Effect.Effect<ScaleSetSchema.RunnerScaleSet, RequestError | ValidationError>
  readonly updateRunnerScaleSet: (
    id: number,
    patch: RunnerScaleSetInput
  ) => Effect.Effect<ScaleSetSchema.RunnerScaleSet, RequestError | ValidationError>
  readonly deleteRunnerScaleSet: (id: number) => Effect.Effect<void, RequestError>
  /** Finds the scale set by name in the group, or creates it from `input`. */
  readonly getOrCreateRunnerScaleSet: (
    input: RunnerScaleSetInput & { readonly name: string; readonly runnerGroupId: number }
  ) => Effect.Effect<ScaleSetSchema.RunnerScaleSet, RequestError | ValidationError>
  readonly getRunnerGroupByName: (
    name: string
  ) => Effect.Effect<ScaleSetSchema.RunnerGroup, RequestError | RunnerGroupNotFound>
  readonly generateJitRunnerConfig: (
    setting: JitRunnerSetting,
    scaleSetId: number
  ) => Effect.Effect<ScaleSetSchema.RunnerScaleSetJitRunnerConfig, RequestError>
  readonly getRunner: (id: number) => Effect.Effect<ScaleSetSchema.RunnerReference, RequestError>
  readonly getRunnerByName: (name: string) => Effect.Effect<Option.Option<ScaleSetSchema.RunnerReference>, RequestError>
  readonly removeRunner: (id: number) => Effect.Effect<void, RequestError>
  readonly createMessageSession: (
    scaleSetId: number,
    owner: string,
    options?: MessageSession.MessageSessionOptions
  ) => Effect.Effect<MessageSession.MessageSession, RequestError | ValidationError, Scope.Scope>
  readonly systemInfo: Effect.Effect<SystemInfo.SystemInfo>
  readonly setSystemInfo: (info: SystemInfo.SystemInfo) => Effect.Effect<void>
  /** A JSON string for diagnostics: `{has_proxy, has_root_ca, system_info}`. No secrets. */
  readonly debugInfo: Effect.Effect<string>
  /** How many token chains ran so far (diagnostics). */
  readonly tokenRefreshes: Effect.Effect<number>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class ScaleSetClient extends Context.Tag("@scaleset/core/ScaleSetClient")<ScaleSetClient, ScaleSetClientShape>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface ScaleSetClientOptions {
  /** Where the scale sets live: `https://github.com/{org}`, `…/{owner}/{repo}` or `…/enterprises/{ent}`. */
  readonly url: string
  readonly credentials: Credentials.Credentials
  readonly systemInfo?: Partial<SystemInfo.SystemInfo> | undefined
  readonly retry?: Retry.RetryOptions | undefined
  /** Per-attempt timeout. Default 5 minutes. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Defaults for every message session this client creates. */
  readonly session?: MessageSession.MessageSessionOptions | undefined
  /** What the transport layer adds, for `debugInfo` (the Node layer sets it). */
  readonly transport?: {
    readonly hasProxy?: boolean
    readonly hasRootCa?: boolean
    /**
     * The transport's own way to send a request, used instead of the `HttpClient`: plain records in
     * and out, and it enforces the per-attempt deadline itself (failing with a `RequestError`
     * whose cause is a `TimeoutException`). The Node layer sets it; it spares every request the
     * platform's request and response objects, a fiber for the deadline and a tracer switch.
     */
    readonly execute?: Execute | undefined
  } | undefined
}

/**
 * Sends one request within a deadline (see `ScaleSetClientOptions.transport.execute`).
 *
 * @since 0.1.0
 * @category models
 */
export type Execute = Http.Execute

/**
 * @since 0.1.0
 * @category models
 */
export type TransportRequest = Http.TransportRequest

/**
 * @since 0.1.0
 * @category models
 */
export type TransportResponse = Http.TransportResponse

const validId = (field: string, id: number) =>
  Number.isSafeInteger(id) && id > 0
    ? Effect.void
    : Effect.fail(new ValidationError({ field, reason: `must be a positive integer, got ${id}` }))

/** The body Go sends: empty fields omitted, labels typed, `RunnerSetting` and a zero `createdOn` always. */
const scaleSetBody = (input: RunnerScaleSetInput, defaultLabels: boolean) => {
  const labels = input.labels && input.labels.length > 0
    ? input.labels.map((l) => ({ name: l.name, type: l.type || "System" }))
    : defaultLabels && input.name
    ? [{ name: input.name, type: "System" }]
    : undefined
  return {
    ...(input.name ? { name: input.name } : {}),
    ...(input.runnerGroupId ? { runnerGroupId: input.runnerGroupId } : {}),
    ...(input.runnerGroupName ? { runnerGroupName: input.runnerGroupName } : {}),
    ...(labels ? { labels } : {}),
    RunnerSetting: input.runnerSetting?.disableUpdate ? { disableUpdate: true } : {},
    createdOn: ScaleSetSchema.ZERO_TIME,
    ...(input.runnerJitConfigUrl ? { runnerJitConfigUrl: input.runnerJitConfigUrl } : {})
  }
}

const decodeScaleSet = decodeJson(ScaleSetSchema.RunnerScaleSet)
const decodeScaleSetOrNull = decodeJson(Schema.NullOr(ScaleSetSchema.RunnerScaleSet))
const decodeScaleSets = decodeJson(ScaleSetSchema.ListOf(ScaleSetSchema.RunnerScaleSet))
const decodeGroups = decodeJson(ScaleSetSchema.ListOf(ScaleSetSchema.RunnerGroup))
const decodeRunner = decodeJson(ScaleSetSchema.RunnerReference)
const decodeRunners = decodeJson(ScaleSetSchema.ListOf(ScaleSetSchema.RunnerReference))
const decodeJit = decodeJson(ScaleSetSchema.RunnerScaleSetJitRunnerConfig)

/**
 * A lookup by name: count 0 → none, 1 → the one, more → an error naming the request.
 * `count` 1 with an empty list is inconsistent, so a decode error rather than a crash.
 */
const single = <A>(res: RawResponse, list: { readonly count: number; readonly value: ReadonlyArray<A> }, what: string) => {
  if (list.count === 0) return Effect.succeedNone
  if (list.count > 1) return Effect.fail(decodeError(res, `multiple ${what} found (count ${list.count})`))
  const [first] = list.value
  return first === undefined
    ? Effect.fail(decodeError(res, `count is 1 but the list of ${what} is empty`))
    : Effect.succeed(Option.some(first))
}

/**
 * Builds a client. No request is sent until the first operation; app credentials are checked
 * (and the key imported) here, so a bad key fails the layer, not the first call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ScaleSetClientOptions
): Effect.Effect<ScaleSetClientShape, InvalidConfigUrl | AuthError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const config = yield* GitHubConfig.parse(options.url)
    yield* Credentials.validate(options.credentials)
    const appKey = options.credentials._tag === "GitHubApp"
      ? Option.some(yield* Credentials.importPrivateKey(options.credentials.privateKey))
      : Option.none()
    // no span per HTTP attempt (the operation's span has them); with the client's tracer off it sends
    // no trace headers to a third-party API either
    const http = HttpClient.withTracerDisabledWhen(yield* HttpClient.HttpClient, () => true)

    const info = yield* Ref.make(SystemInfo.make(options.systemInfo))
    // read by every request: a plain variable, written only by setSystemInfo
    let userAgent = SystemInfo.userAgent(SystemInfo.make(options.systemInfo))
    const pipeline = makePipeline(http, {
      execute: options.transport?.execute,
      retry: options.retry ?? {},
      timeout: options.timeout ?? Duration.minutes(5),
      userAgent: () => userAgent
    })
    const tokens = yield* TokenChain.make({ config, credentials: options.credentials, appKey, pipeline })
    const api = Actions.make(pipeline, tokens)

    // one span per operation (none under Effect's built-in tracer: internal/span.ts), annotated by
    // the pipeline with method, URL, status and attempts
    const getRunnerScaleSet = (runnerGroupId: number, name: string) =>
      withOperationSpan(
        Effect.flatMap(
          api.request({ method: "GET", path: "_apis/runtime/runnerscalesets", query: { runnerGroupId, name }, ok: [200] }),
          (res) =>
            Effect.flatMap(decodeScaleSets(res), (list) => single(res, list, `runner scale sets named ${JSON.stringify(name)}`))
        ),
        "ScaleSetClient.getRunnerScaleSet",
        { runnerGroupId, name }
      )

    const getRunnerScaleSetById = (id: number) =>
      withOperationSpan(
        Effect.flatMap(
          api.request({ method: "GET", path: `_apis/runtime/runnerscalesets/${id}`, ok: [200] }),
          (res) => Effect.map(decodeScaleSetOrNull(res), Option.fromNullable)
        ),
        "ScaleSetClient.getRunnerScaleSetById",
        { scaleSetId: id }
      )

    // the arguments are read when the effect runs (a JavaScript caller may pass nothing)
    const createRunnerScaleSet = (input: RunnerScaleSetInput) =>
      withOperationSpan(
        Effect.suspend(() =>
          !input.name && !(input.labels && input.labels.length > 0)
            ? Effect.fail<RequestError | ValidationError>(
              new ValidationError({ field: "runnerScaleSet", reason: "a name or at least one label is required" })
            )
            : Effect.flatMap(
              api.request({ method: "POST", path: "_apis/runtime/runnerscalesets", json: scaleSetBody(input, true), ok: [200] }),
              decodeScaleSet
            )
        ),
        "ScaleSetClient.createRunnerScaleSet"
      )

    const updateRunnerScaleSet = (id: number, patch: RunnerScaleSetInput) =>
      withOperationSpan(
        Effect.zipRight(
          validId("runnerScaleSetId", id),
          Effect.flatMap(
            Effect.suspend(() =>
              api.request({ method: "PATCH", path: `_apis/runtime/runnerscalesets/${id}`, json: scaleSetBody(patch, false), ok: [200] })
            ),
            decodeScaleSet
          )
        ),
        "ScaleSetClient.updateRunnerScaleSet",
        { scaleSetId: id }
      )

    const deleteRunnerScaleSet = (id: number) =>
      withOperationSpan(
        Effect.asVoid(api.request({ method: "DELETE", path: `_apis/runtime/runnerscalesets/${id}`, ok: [204] })),
        "ScaleSetClient.deleteRunnerScaleSet",
        { scaleSetId: id }
      )

    const getOrCreateRunnerScaleSet = (
      input: RunnerScaleSetInput & { readonly name: string; readonly runnerGroupId: number }
    ) =>
      withOperationSpan(
        Effect.flatMap(
          Effect.suspend(() => getRunnerScaleSet(input.runnerGroupId, input.name)),
          Option.match({ onNone: () => createRunnerScaleSet(input), onSome: Effect.succeed })
        ),
        "ScaleSetClient.getOrCreateRunnerScaleSet",
        { name: input?.name }
      )

    const getRunnerGroupByName = (name: string) =>
      withOperationSpan(
        Effect.flatMap(
          api.request({ method: "GET", path: "_apis/runtime/runnergroups/", query: { groupName: name }, ok: [200] }),
          (res) =>
            Effect.flatMap(decodeGroups(res), (list) =>
              Effect.flatMap(
                single(res, list, `runner groups named ${JSON.stringify(name)}`),
                Option.match({
                  onNone: () => Effect.fail(new RunnerGroupNotFound({ method: res.method, url: res.url, status: res.status, name })),
                  onSome: Effect.succeed
                })
              ))
        ),
        "ScaleSetClient.getRunnerGroupByName",
        { name }
      )

    const generateJitRunnerConfig = (setting: JitRunnerSetting, scaleSetId: number) =>
      withOperationSpan(
        Effect.flatMap(
          Effect.suspend(() =>
            api.request({
              method: "POST",
              path: `_apis/runtime/runnerscalesets/${scaleSetId}/generatejitconfig`,
              json: { name: setting.name ?? "", workFolder: setting.workFolder ?? "" },
              ok: [200]
            })
          ),
          decodeJit
        ),
        "ScaleSetClient.generateJitRunnerConfig",
        { scaleSetId }
      )

    const getRunner = (id: number) =>
      withOperationSpan(
        Effect.flatMap(api.request({ method: "GET", path: `_apis/distributedtask/pools/0/agents/${id}`, ok: [200] }), decodeRunner),
        "ScaleSetClient.getRunner",
        { runnerId: id }
      )

    const getRunnerByName = (name: string) =>
      withOperationSpan(
        Effect.flatMap(
          api.request({ method: "GET", path: "_apis/distributedtask/pools/0/agents", query: { agentName: name }, ok: [200] }),
          (res) => Effect.flatMap(decodeRunners(res), (list) => single(res, list, `runners named ${JSON.stringify(name)}`))
        ),
        "ScaleSetClient.getRunnerByName",
        { name }
      )

    const removeRunner = (id: number) =>
      withOperationSpan(
        Effect.asVoid(api.request({ method: "DELETE", path: `_apis/distributedtask/pools/0/agents/${id}`, ok: [204] })),
        "ScaleSetClient.removeRunner",
        { runnerId: id }
      )

    const createMessageSession = (scaleSetId: number, owner: string, sessionOptions?: MessageSession.MessageSessionOptions) =>
      withOperationSpan(
        MessageSession.make(api, scaleSetId, owner, { ...options.session, ...sessionOptions }),
        "ScaleSetClient.createMessageSession",
        { scaleSetId, owner }
      )

    const setSystemInfo = (next: SystemInfo.SystemInfo) =>
      Effect.zipRight(Ref.set(info, next), Effect.sync(() => void (userAgent = SystemInfo.userAgent(next))))

    return ScaleSetClient.of({
      config,
      getRunnerScaleSet,
      getRunnerScaleSetById,
      createRunnerScaleSet,
      updateRunnerScaleSet,
      deleteRunnerScaleSet,
      getOrCreateRunnerScaleSet,
      getRunnerGroupByName,
      generateJitRunnerConfig,
      getRunner,
      getRunnerByName,
      removeRunner,
      createMessageSession,
      systemInfo: Ref.get(info),
      setSystemInfo,
      debugInfo: Effect.sync(() =>
        JSON.stringify({
          has_proxy: options.transport?.hasProxy ?? false,
          has_root_ca: options.transport?.hasRootCa ?? false,
          system_info: userAgent
        })),
      tokenRefreshes: tokens.refreshes
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: ScaleSetClientOptions
): Layer.Layer<ScaleSetClient, InvalidConfigUrl | AuthError, HttpClient.HttpClient> =>
  Layer.effect(ScaleSetClient, make(options))

/**
 * Options read from configuration (the environment by default):
 * `SCALESET_URL`; `SCALESET_TOKEN`, or `SCALESET_APP_CLIENT_ID` (or `SCALESET_APP_ID`),
 * `SCALESET_APP_INSTALLATION_ID` and `SCALESET_APP_PRIVATE_KEY`; `SCALESET_RETRY_MAX`,
 * `SCALESET_RETRY_WAIT_MAX`, `SCALESET_TIMEOUT` (durations such as `30 seconds`).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<ScaleSetClientOptions> = Config.all({
  url: Config.string("SCALESET_URL"),
  credentials: Config.orElse(
    Config.map(Config.redacted("SCALESET_TOKEN"), Credentials.personalAccessToken),
    () =>
      Config.map(
        Config.all({
          clientId: Config.string("SCALESET_APP_CLIENT_ID").pipe(Config.orElse(() => Config.string("SCALESET_APP_ID"))),
          installationId: Config.integer("SCALESET_APP_INSTALLATION_ID"),
          privateKey: Config.redacted("SCALESET_APP_PRIVATE_KEY")
        }),
        Credentials.gitHubApp
      )
  ),
  retry: Config.all({
    max: Config.integer("SCALESET_RETRY_MAX").pipe(Config.withDefault(Retry.defaults.max)),
    waitMax: Config.duration("SCALESET_RETRY_WAIT_MAX").pipe(Config.withDefault(Retry.defaults.waitMax))
  }),
  timeout: Config.duration("SCALESET_TIMEOUT").pipe(Config.withDefault(Duration.minutes(5)))
})

/**
 * A client whose options come from `Config` (see `config`), or from the config given.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config<ScaleSetClientOptions> = config
): Layer.Layer<ScaleSetClient, InvalidConfigUrl | AuthError | import("effect/ConfigError").ConfigError, HttpClient.HttpClient> =>
  Layer.effect(ScaleSetClient, Effect.flatMap(options, make))

