/**
 * Retry policies as Effect Schedules: the request retry (exponential from 1 s, jittered, each wait
 * capped, `Retry-After` honoured up to its own cap) and the listener's reconnect schedule.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"

/**
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions {
  /** Retries after the first attempt; 0 disables retries. Default 4. */
  readonly max?: number | undefined
  /** The first wait, doubled after each attempt. Default 1 second. */
  readonly waitMin?: Duration.DurationInput | undefined
  /** Each wait is capped at this. Default 30 seconds. */
  readonly waitMax?: Duration.DurationInput | undefined
  /** A `Retry-After` longer than this is cut to it. Default 60 seconds. */
  readonly retryAfterMax?: Duration.DurationInput | undefined
}

/** @since 0.1.0 */
export const defaults = {
  max: 4,
  waitMin: Duration.seconds(1),
  waitMax: Duration.seconds(30),
  retryAfterMax: Duration.seconds(60)
} as const

/**
 * What a failed attempt tells the schedule: whether to retry and how long the server asked to wait.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryInput {
  readonly retryable: boolean
  readonly retryAfter: Option.Option<Duration.Duration>
}

/**
 * The request retry schedule. Fed with each failure, it stops on a non-retryable one, after `max`
 * retries, and waits `min(waitMin × 2ⁿ × [1, 1.5), waitMax)`, or the server's `Retry-After` (capped).
 *
 * @since 0.1.0
 * @category schedules
 */
export const requestSchedule = (options: RetryOptions = {}): Schedule.Schedule<unknown, RetryInput> => {
  const max = options.max ?? defaults.max
  const waitMax = Duration.decode(options.waitMax ?? defaults.waitMax)
  const retryAfterMax = Duration.decode(options.retryAfterMax ?? defaults.retryAfterMax)
  return Schedule.exponential(options.waitMin ?? defaults.waitMin).pipe(
    // jitter upwards only: a wait is never shorter than the un-jittered one
    Schedule.jitteredWith({ min: 1, max: 1.5 }),
    Schedule.intersect(Schedule.recurs(max)),
    Schedule.intersect(Schedule.identity<RetryInput>()),
    Schedule.whileInput((input: RetryInput) => input.retryable),
    Schedule.modifyDelay(([, input], delay) =>
      Option.match(input.retryAfter, {
        onNone: () => Duration.min(delay, waitMax),
        onSome: (after) => Duration.min(after, retryAfterMax)
      })
    )
  )
}

/**
 * The listener's schedule for transient failures in its poll loop: jittered exponential from
 * 500 ms, each wait capped at 30 s, forever (the loop decides what is transient).
 *
 * @since 0.1.0
 * @category schedules
 */
export const reconnect: Schedule.Schedule<Duration.Duration> = Schedule.exponential("500 millis").pipe(
  Schedule.jittered,
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(30)))
)

/**
 * Parses `Retry-After`: delay seconds or an HTTP date.
 *
 * @since 0.1.0
 */
export const parseRetryAfter = (value: string | undefined, now: number): Option.Option<Duration.Duration> => {
  if (value === undefined) return Option.none()
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Option.some(Duration.seconds(Number(trimmed)))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? Option.none() : Option.some(Duration.millis(Math.max(0, date - now)))
}
