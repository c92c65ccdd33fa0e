/**
 * The listener's metrics, named and labelled as actions-runner-controller's listener names them
 * (`gha_*`), as `effect/Metric` constants, and the recorder the listener reports through.
 *
 * @since 0.1.0
 */
import type * as ScaleSetSchema from "@scaleset/core/ScaleSetSchema"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

/** The buckets (seconds) of actions-runner-controller's job duration histograms. */
const durationBuckets = MetricBoundaries.fromIterable([
  0.01, 0.05, 0.1, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 18, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100,
  110, 120, 150, 180, 210, 240, 300, 360, 420, 480, 540, 600, 900, 1200, 1800, 2400, 3000, 3600
])

/** @since 0.1.0 @category metrics */
export const assignedJobs = Metric.gauge("gha_assigned_jobs", { description: "Number of jobs assigned to this scale set." })
/** @since 0.1.0 @category metrics */
export const runningJobs = Metric.gauge("gha_running_jobs", { description: "Number of jobs running (or about to be run)." })
/** @since 0.1.0 @category metrics */
export const registeredRunners = Metric.gauge("gha_registered_runners", {
  description: "Number of runners registered by the scale set."
})
/** @since 0.1.0 @category metrics */
export const busyRunners = Metric.gauge("gha_busy_runners", { description: "Number of registered runners running a job." })
/** @since 0.1.0 @category metrics */
export const idleRunners = Metric.gauge("gha_idle_runners", { description: "Number of registered runners not running a job." })
/** @since 0.1.0 @category metrics */
export const desiredRunners = Metric.gauge("gha_desired_runners", {
  description: "Number of runners the scaler reported provisioned (or asked for)."
})
/** @since 0.1.0 @category metrics */
export const maxRunners = Metric.gauge("gha_max_runners", { description: "Maximum number of runners." })
/** @since 0.1.0 @category metrics */
export const startedJobsTotal = Metric.counter("gha_started_jobs_total", {
  description: "Total number of jobs started.",
  incremental: true
})
/** @since 0.1.0 @category metrics */
export const completedJobsTotal = Metric.counter("gha_completed_jobs_total", {
  description: "Total number of jobs completed.",
  incremental: true
})
/** @since 0.1.0 @category metrics */
export const jobStartupDurationSeconds = Metric.histogram(
  "gha_job_startup_duration_seconds",
  durationBuckets,
  "Time from the scale set being assigned a job to a runner taking it, in seconds."
)
/** @since 0.1.0 @category metrics */
export const jobExecutionDurationSeconds = Metric.histogram(
  "gha_job_execution_duration_seconds",
  durationBuckets,
  "Time a job ran on its runner, in seconds."
)

/**
 * The labels every metric carries (actions-runner-controller's `name`, `namespace`, `enterprise`,
 * `organization`, `repository`). Job metrics take `organization` and `repository` from the job
 * and add `job_name`, `job_workflow_ref`, `event_name` (and `job_result` when completed).
 *
 * @since 0.1.0
 * @category models
 */
export interface Labels {
  /** The scale set's name (label `name`). */
  readonly name?: string | undefined
  readonly namespace?: string | undefined
  readonly enterprise?: string | undefined
  readonly organization?: string | undefined
  readonly repository?: string | undefined
}

/**
 * What the listener reports, in the order the Go listener's metrics recorder is called.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recorder {
  readonly recordStatistics: (statistics: ScaleSetSchema.RunnerScaleSetStatistic) => Effect.Effect<void>
  readonly recordJobStarted: (job: ScaleSetSchema.JobStarted) => Effect.Effect<void>
  readonly recordJobCompleted: (job: ScaleSetSchema.JobCompleted) => Effect.Effect<void>
  readonly recordDesiredRunners: (count: number) => Effect.Effect<void>
  readonly recordMaxRunners: (count: number) => Effect.Effect<void>
}

const label = (key: string, value: string | undefined) => MetricLabel.make(key, value ?? "")

/**
 * The common labels for `labels`.
 *
 * @since 0.1.0
 */
export const commonLabels = (labels: Labels): ReadonlyArray<MetricLabel.MetricLabel> => [
  label("name", labels.name),
  label("namespace", labels.namespace),
  label("enterprise", labels.enterprise),
  label("organization", labels.organization),
  label("repository", labels.repository)
]

/**
 * The labels of a job metric, as actions-runner-controller computes them.
 *
 * @since 0.1.0
 */
export const jobLabels = (labels: Labels, job: ScaleSetSchema.JobStarted | ScaleSetSchema.JobCompleted) => [
  label("name", labels.name),
  label("namespace", labels.namespace),
  label("enterprise", labels.enterprise),
  label("organization", job.ownerName),
  label("repository", job.repositoryName),
  label("job_name", job.jobDisplayName),
  label("job_workflow_ref", job.jobWorkflowRef),
  label("event_name", job.eventName)
]

const seconds = (from: Date | undefined, to: Date | undefined): number | undefined =>
  from === undefined || to === undefined ? undefined : (to.getTime() - from.getTime()) / 1000

/**
 * A metric's label sets by their values, each one array kept for good: the metric finds its
 * registry entry by the array's identity (a new array per update, as `Metric.taggedWithLabels`
 * makes, hashes the whole key again every time). Listeners with the same labels share them. Job
 * label sets repeat (workflow, job name, result); the cache is bounded all the same.
 */
const labelled = <In>(
  metric: Pick<Metric.Metric<unknown, In, unknown>, "unsafeUpdate">,
  max = 1000
) => {
  interface Entry {
    readonly tags: ReadonlyArray<MetricLabel.MetricLabel>
    /** With the fiber's labels (`Effect.tagMetrics`) after them, by the fiber's array. */
    readonly withExtra: WeakMap<ReadonlyArray<MetricLabel.MetricLabel>, ReadonlyArray<MetricLabel.MetricLabel>>
  }
  const cache = new Map<string, Entry>()
  return (key: string, tags: () => ReadonlyArray<MetricLabel.MetricLabel>, value: In, extra: ReadonlyArray<MetricLabel.MetricLabel>) => {
    let entry = cache.get(key)
    if (entry === undefined) {
      if (cache.size >= max) cache.clear()
      entry = { tags: tags(), withExtra: new WeakMap() }
      cache.set(key, entry)
    }
    let all = entry.tags
    if (extra.length > 0) {
      all = entry.withExtra.get(extra) ?? Arr.union(entry.tags, extra)
      entry.withExtra.set(extra, all)
    }
    metric.unsafeUpdate(value, all)
  }
}

const started = labelled(startedJobsTotal)
const startup = labelled(jobStartupDurationSeconds)
const completed = labelled(completedJobsTotal)
const execution = labelled(jobExecutionDurationSeconds)
const gauges = {
  assigned: labelled(assignedJobs),
  running: labelled(runningJobs),
  registered: labelled(registeredRunners),
  busy: labelled(busyRunners),
  idle: labelled(idleRunners),
  desired: labelled(desiredRunners),
  max: labelled(maxRunners)
}

const keyOf = (values: ReadonlyArray<string | undefined>) => values.map((v) => v ?? "").join("\u0000")

/**
 * A recorder that updates the `gha_*` metrics above with the given labels.
 *
 * @since 0.1.0
 * @category constructors
 */
export const recorder = (labels: Labels = {}): Recorder => {
  const common = commonLabels(labels)
  const commonKey = keyOf([labels.name, labels.namespace, labels.enterprise, labels.organization, labels.repository])
  const jobKey = (job: ScaleSetSchema.JobStarted | ScaleSetSchema.JobCompleted) =>
    keyOf([labels.name, labels.namespace, labels.enterprise, job.ownerName, job.repositoryName, job.jobDisplayName, job.jobWorkflowRef, job.eventName])
  // one synchronous step per record (this runs per message), with the fiber's metric labels
  // (`Effect.tagMetrics`) as `Metric.update` would add them
  const updating = (f: (extra: ReadonlyArray<MetricLabel.MetricLabel>) => void) =>
    Effect.withFiberRuntime<void>((fiber) => {
      f(fiber.getFiberRef(FiberRef.currentMetricLabels))
      return Effect.void
    })
  // gauges are set on every poll with values that rarely change: set only what changed
  const last = new Map<unknown, number>()
  const setChanged = (gauge: ReturnType<typeof labelled<number>>, value: number, extra: ReadonlyArray<MetricLabel.MetricLabel>) => {
    if (last.get(gauge) === value) return
    last.set(gauge, value)
    gauge(commonKey, () => common, value, extra)
  }
  return {
    recordStatistics: (s) =>
      updating((extra) => {
        setChanged(gauges.assigned, s.totalAssignedJobs, extra)
        setChanged(gauges.running, s.totalRunningJobs, extra)
        setChanged(gauges.registered, s.totalRegisteredRunners, extra)
        setChanged(gauges.busy, s.totalBusyRunners, extra)
        setChanged(gauges.idle, s.totalIdleRunners, extra)
      }),
    recordJobStarted: (job) =>
      updating((extra) => {
        const key = jobKey(job)
        const tags = () => jobLabels(labels, job)
        started(key, tags, 1, extra)
        const startupSeconds = seconds(job.scaleSetAssignTime, job.runnerAssignTime)
        if (startupSeconds !== undefined) startup(key, tags, startupSeconds, extra)
      }),
    recordJobCompleted: (job) =>
      updating((extra) => {
        const key = `${jobKey(job)}\u0000${job.result}`
        const tags = () => [...jobLabels(labels, job), label("job_result", job.result)]
        completed(key, tags, 1, extra)
        const executionSeconds = seconds(job.runnerAssignTime, job.finishTime)
        if (executionSeconds !== undefined) execution(key, tags, executionSeconds, extra)
      }),
    recordDesiredRunners: (count) => updating((extra) => setChanged(gauges.desired, count, extra)),
    recordMaxRunners: (count) => updating((extra) => setChanged(gauges.max, count, extra))
  }
}

/**
 * A recorder that records nothing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const noop: Recorder = {
  recordStatistics: () => Effect.void,
  recordJobStarted: () => Effect.void,
  recordJobCompleted: () => Effect.void,
  recordDesiredRunners: () => Effect.void,
  recordMaxRunners: () => Effect.void
}
