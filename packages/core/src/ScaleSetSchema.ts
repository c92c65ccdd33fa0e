/**
 * Wire schemas: the JSON the Runner Scale Set service speaks, field names exactly as on the wire.
 * Decoding is lenient where the Go client is (unknown keys ignored, missing keys take zero
 * values) and strict where a wrong value would mislead (types, times, secrets).
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Lenient from "./internal/lenient.js"

const zero = <S extends Schema.Schema.Any>(schema: S, value: () => Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { default: value, nullable: true })

const int = zero(Schema.Number, () => 0)
const str = zero(Schema.String, () => "")
const bool = zero(Schema.Boolean, () => false)

/** The zero time of .NET and Go, which the service sends for "not yet". */
export const ZERO_TIME = "0001-01-01T00:00:00Z"
const isZeroTime = (s: string) => s === "" || s.startsWith("0001-01-01")

/**
 * An RFC 3339 time that may be absent, null or the zero time: all three decode to `undefined`.
 *
 * @since 0.1.0
 */
export const OptionalTime = Schema.optionalToOptional(Schema.NullOr(Schema.String), Schema.Date, {
  decode: (o) => Option.filter(o, (s): s is string => s !== null && !isZeroTime(s)),
  encode: (o) => o
})

/**
 * Statistics of a scale set; `totalAssignedJobs` is the desired runner count. Decoded per message
 * (a lenient record: see internal/lenient.ts).
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunnerScaleSetStatistic = Lenient.struct("RunnerScaleSetStatistic", {
  totalAvailableJobs: Lenient.number,
  totalAcquiredJobs: Lenient.number,
  totalAssignedJobs: Lenient.number,
  totalRunningJobs: Lenient.number,
  totalRegisteredRunners: Lenient.number,
  totalBusyRunners: Lenient.number,
  totalIdleRunners: Lenient.number
})
/** @since 0.1.0 @category models */
export interface RunnerScaleSetStatistic extends Schema.Schema.Type<typeof RunnerScaleSetStatistic> {}

/** @since 0.1.0 @category schemas */
export const Label = Schema.Struct({ type: str, name: str })
/** @since 0.1.0 @category models */
export interface Label extends Schema.Schema.Type<typeof Label> {}

/** @since 0.1.0 @category schemas */
export const RunnerSetting = Schema.Struct({ disableUpdate: bool })
/** @since 0.1.0 @category models */
export interface RunnerSetting extends Schema.Schema.Type<typeof RunnerSetting> {}

const ScaleSetWire = Schema.Struct({
  id: int,
  name: str,
  runnerGroupId: int,
  runnerGroupName: str,
  labels: zero(Schema.Array(Label), () => []),
  // the wire says `RunnerSetting`; JSON keys match case-insensitively in the Go client
  RunnerSetting: Schema.optional(Schema.NullOr(RunnerSetting)),
  runnerSetting: Schema.optional(Schema.NullOr(RunnerSetting)),
  createdOn: OptionalTime,
  runnerJitConfigUrl: str,
  statistics: Schema.optional(Schema.NullOr(RunnerScaleSetStatistic))
})

const ScaleSetFields = Schema.Struct({
  id: Schema.Number,
  name: Schema.String,
  runnerGroupId: Schema.Number,
  runnerGroupName: Schema.String,
  labels: Schema.Array(Label),
  runnerSetting: RunnerSetting,
  createdOn: Schema.optional(Schema.DateFromSelf),
  runnerJitConfigUrl: Schema.String,
  statistics: Schema.optional(RunnerScaleSetStatistic)
})

/**
 * A runner scale set. `runnerSetting` is `RunnerSetting` (capital R) on the wire.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunnerScaleSet = Schema.transform(ScaleSetWire, ScaleSetFields, {
  strict: false,
  decode: ({ RunnerSetting, runnerSetting, statistics, createdOn, ...rest }) => ({
    ...rest,
    runnerSetting: RunnerSetting ?? runnerSetting ?? { disableUpdate: false },
    ...(createdOn === undefined ? {} : { createdOn }),
    ...(statistics ? { statistics } : {})
  }),
  encode: ({ runnerSetting, ...rest }) => ({ ...rest, RunnerSetting: runnerSetting })
})
/** @since 0.1.0 @category models */
export interface RunnerScaleSet extends Schema.Schema.Type<typeof RunnerScaleSet> {}

/** @since 0.1.0 @category schemas */
export const RunnerGroup = Schema.Struct({ id: int, name: str, size: int, isDefaultGroup: bool })
/** @since 0.1.0 @category models */
export interface RunnerGroup extends Schema.Schema.Type<typeof RunnerGroup> {}

/** @since 0.1.0 @category schemas */
export const RunnerReference = Lenient.struct("RunnerReference", {
  id: Lenient.number,
  name: Lenient.string,
  runnerScaleSetId: Lenient.number
})
/** @since 0.1.0 @category models */
export interface RunnerReference extends Schema.Schema.Type<typeof RunnerReference> {}

/**
 * A list answer: `{"count": n, "value": [...]}`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ListOf = <A, I>(item: Schema.Schema<A, I>) =>
  Schema.Struct({ count: int, value: zero(Schema.Array(item), () => []) })

/**
 * A just-in-time runner configuration. `encodedJITConfig` is a secret until the runner consumed it.
 * A lenient record (internal/lenient.ts): one is fetched per runner started, often many at once.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunnerScaleSetJitRunnerConfig = Lenient.struct("RunnerScaleSetJitRunnerConfig", {
  runner: Lenient.option(RunnerReference),
  encodedJITConfig: Lenient.redacted
})
/** @since 0.1.0 @category models */
export interface RunnerScaleSetJitRunnerConfig extends Schema.Schema.Type<typeof RunnerScaleSetJitRunnerConfig> {}

/**
 * A message session of a scale set. The queue token is a secret.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunnerScaleSetSession = Schema.Struct({
  sessionId: str,
  ownerName: str,
  runnerScaleSet: Schema.optional(Schema.NullOr(RunnerScaleSet)),
  messageQueueUrl: str,
  messageQueueAccessToken: zero(Schema.Redacted(Schema.String), () => Redacted.make("")),
  statistics: Schema.optional(Schema.NullOr(RunnerScaleSetStatistic))
})
/** @since 0.1.0 @category models */
export interface RunnerScaleSetSession extends Schema.Schema.Type<typeof RunnerScaleSetSession> {}

// Job messages arrive up to 50 per message, so they are lenient records (internal/lenient.ts):
// missing or null fields take zero values, times are RFC 3339 with the zero time as absent.
const jobBase = {
  runnerRequestId: Lenient.number,
  repositoryName: Lenient.string,
  ownerName: Lenient.string,
  jobId: Lenient.string,
  jobWorkflowRef: Lenient.string,
  jobDisplayName: Lenient.string,
  workflowRunId: Lenient.number,
  eventName: Lenient.string,
  requestLabels: Lenient.strings,
  queueTime: Lenient.time,
  scaleSetAssignTime: Lenient.time,
  runnerAssignTime: Lenient.time,
  finishTime: Lenient.time
}

/** @since 0.1.0 @category schemas */
export const JobAvailable = Lenient.struct("JobAvailable", {
  messageType: Lenient.literal("JobAvailable"),
  ...jobBase,
  acquireJobUrl: Lenient.string
})
/** @since 0.1.0 @category models */
export interface JobAvailable extends Schema.Schema.Type<typeof JobAvailable> {}

/** @since 0.1.0 @category schemas */
export const JobAssigned = Lenient.struct("JobAssigned", { messageType: Lenient.literal("JobAssigned"), ...jobBase })
/** @since 0.1.0 @category models */
export interface JobAssigned extends Schema.Schema.Type<typeof JobAssigned> {}

/** @since 0.1.0 @category schemas */
export const JobStarted = Lenient.struct("JobStarted", {
  messageType: Lenient.literal("JobStarted"),
  ...jobBase,
  runnerId: Lenient.number,
  runnerName: Lenient.string
})
/** @since 0.1.0 @category models */
export interface JobStarted extends Schema.Schema.Type<typeof JobStarted> {}

/** @since 0.1.0 @category schemas */
export const JobCompleted = Lenient.struct("JobCompleted", {
  messageType: Lenient.literal("JobCompleted"),
  ...jobBase,
  result: Lenient.string,
  runnerId: Lenient.number,
  runnerName: Lenient.string
})
/** @since 0.1.0 @category models */
export interface JobCompleted extends Schema.Schema.Type<typeof JobCompleted> {}

/**
 * The four job messages, told apart by `messageType`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const JobMessage = Schema.Union(JobAvailable, JobAssigned, JobStarted, JobCompleted)
/** @since 0.1.0 @category models */
export type JobMessage = Schema.Schema.Type<typeof JobMessage>

/** @since 0.1.0 */
export const jobMessageTypes: ReadonlySet<string> = new Set(["JobAvailable", "JobAssigned", "JobStarted", "JobCompleted"])

/**
 * The message envelope as the queue sends it; `body` is a JSON string holding the job messages.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MessageEnvelope = Lenient.struct("MessageEnvelope", {
  messageId: Lenient.number,
  messageType: Lenient.string,
  body: Lenient.string,
  statistics: Lenient.optional(RunnerScaleSetStatistic)
})
/** @since 0.1.0 @category models */
export interface MessageEnvelope extends Schema.Schema.Type<typeof MessageEnvelope> {}

/**
 * A decoded message: its id, the statistics at the time, and its job messages in batch order
 * (unknown job types skipped).
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerScaleSetMessage {
  readonly messageId: number
  readonly messageType: string
  readonly statistics: RunnerScaleSetStatistic | undefined
  readonly jobs: ReadonlyArray<JobMessage>
}

/**
 * The answer to an app installation token or registration token request.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenResponse = Schema.Struct({
  token: Schema.Redacted(Schema.NonEmptyString),
  expires_at: Schema.optional(Schema.String)
})

/**
 * The answer of `actions/runner-registration`: the Actions service URL and its admin token.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AdminConnection = Schema.Struct({
  url: str,
  token: zero(Schema.Redacted(Schema.String), () => Redacted.make(""))
})
