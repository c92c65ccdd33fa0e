/**
 * What the listener sees happen to a scale set, as a tagged union.
 *
 * @since 0.1.0
 */
import type * as ScaleSetSchema from "@scaleset/core/ScaleSetSchema"
import * as Data from "effect/Data"

/**
 * A scaling event.
 *
 * - `DesiredRunners`: how many runners the scale set should have now (`statistics.totalAssignedJobs`:
 *   jobs waiting plus running), with the statistics it came from. The first event of every stream
 *   is one, from the session's statistics; one follows every poll.
 * - `Statistics`: the statistics a message carried (before its jobs).
 * - `JobAvailable` (already acquired by the listener), `JobAssigned`, `JobStarted`, `JobCompleted`:
 *   the job messages of a batch. Available and assigned jobs come in batch order, then every
 *   started job in batch order, then every completed job in batch order.
 * - `PoisonMessage`: a message whose handling failed `deliveries` times; the listener acknowledged
 *   it to keep going. `error` is the last failure.
 *
 * @since 0.1.0
 * @category models
 */
export type ScalingEvent = Data.TaggedEnum<{
  DesiredRunners: {
    readonly count: number
    readonly statistics: ScaleSetSchema.RunnerScaleSetStatistic
  }
  Statistics: {
    readonly messageId: number
    readonly statistics: ScaleSetSchema.RunnerScaleSetStatistic
  }
  JobAvailable: { readonly messageId: number; readonly job: ScaleSetSchema.JobAvailable }
  JobAssigned: { readonly messageId: number; readonly job: ScaleSetSchema.JobAssigned }
  JobStarted: { readonly messageId: number; readonly job: ScaleSetSchema.JobStarted }
  JobCompleted: { readonly messageId: number; readonly job: ScaleSetSchema.JobCompleted }
  PoisonMessage: {
    readonly messageId: number
    readonly deliveries: number
    readonly error: unknown
  }
}>

/**
 * Constructors (`ScalingEvent.DesiredRunners({ count, statistics })`, …), `$is` and `$match`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ScalingEvent = Data.taggedEnum<ScalingEvent>()

/** @since 0.1.0 @category constructors */
export const {
  DesiredRunners,
  JobAssigned,
  JobAvailable,
  JobCompleted,
  JobStarted,
  PoisonMessage,
  Statistics
} = ScalingEvent

/** @since 0.1.0 @category guards */
export const $is = ScalingEvent.$is

/** @since 0.1.0 @category pattern matching */
export const $match = ScalingEvent.$match

/** @since 0.1.0 @category models */
export type DesiredRunners = Data.TaggedEnum.Value<ScalingEvent, "DesiredRunners">
/** @since 0.1.0 @category models */
export type Statistics = Data.TaggedEnum.Value<ScalingEvent, "Statistics">
/** @since 0.1.0 @category models */
export type JobAvailable = Data.TaggedEnum.Value<ScalingEvent, "JobAvailable">
/** @since 0.1.0 @category models */
export type JobAssigned = Data.TaggedEnum.Value<ScalingEvent, "JobAssigned">
/** @since 0.1.0 @category models */
export type JobStarted = Data.TaggedEnum.Value<ScalingEvent, "JobStarted">
/** @since 0.1.0 @category models */
export type JobCompleted = Data.TaggedEnum.Value<ScalingEvent, "JobCompleted">
/** @since 0.1.0 @category models */
export type PoisonMessage = Data.TaggedEnum.Value<ScalingEvent, "PoisonMessage">
