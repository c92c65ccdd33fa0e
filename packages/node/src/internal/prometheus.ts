/**
 * The process's Effect metrics in the Prometheus text format (for `--metrics-port`).
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"

const escape = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

const labels = (tags: ReadonlyArray<{ readonly key: string; readonly value: string }>, extra?: string) => {
  const parts = tags.map((t) => `${t.key}="${escape(t.value)}"`)
  if (extra !== undefined) parts.push(extra)
  return parts.length === 0 ? "" : `{${parts.join(",")}}`
}

export const render: Effect.Effect<string> = Effect.map(Metric.snapshot, (pairs) => {
  const lines: Array<string> = []
  const described = new Set<string>()
  const header = (name: string, type: string, description: string | undefined) => {
    if (described.has(name)) return
    described.add(name)
    if (description) lines.push(`# HELP ${name} ${description.replace(/\n/g, " ")}`)
    lines.push(`# TYPE ${name} ${type}`)
  }
  for (const pair of pairs) {
    const { name, tags } = pair.metricKey
    const description = pair.metricKey.description._tag === "Some" ? pair.metricKey.description.value : undefined
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      header(name, "counter", description)
      lines.push(`${name}${labels(tags)} ${Number(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      header(name, "gauge", description)
      lines.push(`${name}${labels(tags)} ${Number(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      header(name, "histogram", description)
      for (const [boundary, count] of state.buckets) {
        if (Number.isFinite(boundary)) lines.push(`${name}_bucket${labels(tags, `le="${boundary}"`)} ${count}`)
      }
      lines.push(`${name}_bucket${labels(tags, "le=\"+Inf\"")} ${state.count}`)
      lines.push(`${name}_sum${labels(tags)} ${state.sum}`)
      lines.push(`${name}_count${labels(tags)} ${state.count}`)
    }
  }
  return `${lines.join("\n")}\n`
})
