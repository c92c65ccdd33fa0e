/**
 * The simulator's job model: what a queued workflow job looks like, the states it goes through and
 * the statistics the service computes from them.
 *
 * ```
 * queued ──offer──► available ──acquirejobs──► assigned ──idle runner──► running ──► completed
 *    ▲                  │                          │
 *    └── canceled and requeued (at most 3 times) ◄─┘  when not started within `assignmentTimeout`
 * ```
 *
 * @since 0.1.0
 */

/**
 * - `queued`: waiting for a scale set whose labels match (or for capacity).
 * - `available`: offered to a scale set (`JobAvailable` sent), not yet acquired.
 * - `assigned`: acquired by the scale set's listener (`JobAssigned` sent), waiting for an idle runner.
 * - `running`: a runner took it (`JobStarted` sent).
 * - `completed`: finished (`JobCompleted` sent), with `result`; a job canceled more often than the
 *   requeue limit ends here with result `canceled`.
 *
 * @since 0.1.0
 * @category models
 */
export type JobState = "queued" | "available" | "assigned" | "running" | "completed"

/**
 * A workload item for `enqueueJobs`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnqueueJobsOptions {
  /** How many jobs. Default 1. */
  readonly count?: number | undefined
  /**
   * The `runs-on` labels. A job matches a scale set when every label names one of the scale
   * set's labels (case-insensitive). Omitted: the job matches any scale set.
   */
  readonly labels?: ReadonlyArray<string> | undefined
  /** How long a runner works on each job. Default 1000 ms. */
  readonly durationMs?: number | undefined
  /** The result the runner reports: `succeeded` (default), `failed`, … */
  readonly result?: string | undefined
  readonly repositoryName?: string | undefined
  readonly ownerName?: string | undefined
  /** Display name; `{n}` is replaced by the job's number. Default `job {n}`. */
  readonly jobDisplayName?: string | undefined
  readonly workflowRunId?: number | undefined
  readonly eventName?: string | undefined
}

/**
 * One burst of a workload: its jobs are queued `afterMs` after the previous burst.
 *
 * @since 0.1.0
 * @category models
 */
export interface Burst extends EnqueueJobsOptions {
  readonly afterMs?: number | undefined
}

/**
 * A job as the simulator sees it (a snapshot: later changes do not show in it).
 *
 * @since 0.1.0
 * @category models
 */
export interface Job {
  readonly jobId: string
  /** The current runner request id; a requeued job gets a new one. */
  readonly runnerRequestId: number
  readonly state: JobState
  readonly labels: ReadonlyArray<string>
  readonly durationMs: number
  /** What the runner will report. */
  readonly plannedResult: string
  /** The final result, once completed. */
  readonly result: string | undefined
  readonly scaleSetId: number | undefined
  readonly runnerId: number | undefined
  readonly runnerName: string | undefined
  /** How many times an assignment was canceled and the job requeued. */
  readonly cancellations: number
  readonly repositoryName: string
  readonly ownerName: string
  readonly jobDisplayName: string
  readonly workflowRunId: number
  readonly eventName: string
  readonly queueTime: Date
  readonly scaleSetAssignTime: Date | undefined
  readonly runnerAssignTime: Date | undefined
  readonly finishTime: Date | undefined
}

/**
 * The statistics of a scale set, field names as on the wire.
 *
 * @since 0.1.0
 * @category models
 */
export interface Statistics {
  /** Offered, not acquired. */
  readonly totalAvailableJobs: number
  /** Acquired, not started. */
  readonly totalAcquiredJobs: number
  /** Acquired or running: the desired runner count. */
  readonly totalAssignedJobs: number
  readonly totalRunningJobs: number
  /** Every runner registered for the scale set, including those whose JIT config is not redeemed yet. */
  readonly totalRegisteredRunners: number
  readonly totalBusyRunners: number
  /** Connected and without a job. */
  readonly totalIdleRunners: number
}

/**
 * A runner as the simulator sees it.
 *
 * - `offline`: registered by a JIT config, not connected yet.
 * - `idle`: connected, waiting for a job.
 * - `busy`: running a job.
 *
 * @since 0.1.0
 * @category models
 */
export interface Runner {
  readonly id: number
  readonly name: string
  readonly scaleSetId: number
  readonly status: "offline" | "idle" | "busy"
  readonly jobId: string | undefined
}

/** The requeue limit of the real service: an assignment is canceled and requeued at most 3 times. @since 0.1.0 */
export const MAX_REQUEUES = 3

/** The zero time the service sends for "not yet". @since 0.1.0 */
export const ZERO_TIME = "0001-01-01T00:00:00Z"
