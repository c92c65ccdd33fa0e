/**
 * Lenient records for the hot path (queue messages: up to 50 jobs each, one message per poll).
 * A record is a `Schema` built with `Schema.declare` from per-field decoders: missing or null
 * fields take zero values (as the Go client's JSON decoding does), unknown keys are ignored, a
 * wrongly typed field is a `ParseError` naming the field. It validates as much as a `Schema.Struct`
 * of `optionalWith(…, { default, nullable })` fields would, at a fraction of the cost. Each record
 * compiles its decoding loop to straight-line code once (see `compile`), and common RFC 3339 times
 * are read without `new Date(string)` (see `parseTime`): both keep exactly the interpreted results.
 */
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"

const INVALID: unique symbol = Symbol.for("@scaleset/core/lenient/invalid")

/** A field: decodes a wire value (`undefined` when the key is absent) or answers `INVALID`. */
export interface Field<A, Optional extends boolean = false> {
  readonly expected: string
  readonly optional: Optional
  readonly decode: (u: unknown) => A | typeof INVALID
  /** For a nested record: what is wrong inside it (so an error names the inner field). */
  readonly issue?: ((u: unknown) => ParseResult.ParseIssue | undefined) | undefined
  // a method, so a Field<string> is also a Field<unknown> (parameters of methods are bivariant)
  encode(a: A): unknown
}

const field = <A>(expected: string, decode: (u: unknown) => A | typeof INVALID, encode: (a: A) => unknown = (a) => a): Field<A> => ({
  expected,
  optional: false,
  decode,
  encode
})

export const string: Field<string> = field("a string", (u) => (u == null ? "" : typeof u === "string" ? u : INVALID))
export const number: Field<number> = field("a number", (u) =>
  u == null ? 0 : typeof u === "number" && Number.isFinite(u) ? u : INVALID)
export const boolean: Field<boolean> = field("a boolean", (u) => (u == null ? false : typeof u === "boolean" ? u : INVALID))

const isStrings = (u: ReadonlyArray<unknown>): u is ReadonlyArray<string> => {
  for (let i = 0; i < u.length; i++) if (typeof u[i] !== "string") return false
  return true
}
export const strings: Field<ReadonlyArray<string>> = field("an array of strings", (u) =>
  u == null ? [] : Array.isArray(u) && isStrings(u) ? u : INVALID)
export const literal = <L extends string>(value: L): Field<L> =>
  field(JSON.stringify(value), (u) => (u === value ? value : INVALID))

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** Two decimal digits at `i`, or -1. */
const digits2 = (s: string, i: number): number => {
  const a = s.charCodeAt(i) - 48
  const b = s.charCodeAt(i + 1) - 48
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

/** Days from 1970-01-01 to a proleptic Gregorian date (month 1–12), as `Date.UTC` counts them. */
const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1
  return era * 146097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719468
}

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28)
    : month === 4 || month === 6 || month === 9 || month === 11
    ? 30
    : 31

/** `parseTime`'s answer for a string it leaves to `new Date`. */
const SLOW = -Infinity

/**
 * The common shape `YYYY-MM-DDTHH:MM:SS[.f…](Z|±HH:MM)` (1–9 fraction digits) with every part in
 * range, as epoch milliseconds: what `new Date(s)` gives for it (fraction truncated to
 * milliseconds, as V8 does), at a fraction of its cost. `NaN` for the zero time; `SLOW` for
 * anything else (other separators, hour 24, out-of-range parts), which takes the regex and
 * `new Date` path.
 */
const parseTime = (s: string): number => {
  const length = s.length
  if (
    length < 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 ||
    s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58
  ) return SLOW
  const century = digits2(s, 0)
  const yy = digits2(s, 2)
  const month = digits2(s, 5)
  const day = digits2(s, 8)
  const hour = digits2(s, 11)
  const minute = digits2(s, 14)
  const second = digits2(s, 17)
  if (
    century < 0 || yy < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
    minute < 0 || minute > 59 || second < 0 || second > 59
  ) return SLOW
  let i = 19
  let millis = 0
  if (s.charCodeAt(i) === 46) {
    const start = ++i
    for (; i < length; i++) {
      const d = s.charCodeAt(i) - 48
      if (d < 0 || d > 9) break
      if (i - start < 3) millis = millis * 10 + d
    }
    const count = i - start
    // V8 reads a longer fraction differently (it drops leading zeros): leave those to `new Date`
    if (count === 0 || count > 9) return SLOW
    if (count === 1) millis *= 100
    else if (count === 2) millis *= 10
  }
  let offset = 0
  const zone = s.charCodeAt(i)
  if (zone === 90 && i === length - 1) {
    offset = 0
  } else if ((zone === 43 || zone === 45) && i === length - 6 && s.charCodeAt(i + 3) === 58) {
    const offsetHour = digits2(s, i + 1)
    const offsetMinute = digits2(s, i + 4)
    if (offsetHour < 0 || offsetHour > 23 || offsetMinute < 0 || offsetMinute > 59) return SLOW
    offset = (zone === 43 ? 60_000 : -60_000) * (offsetHour * 60 + offsetMinute)
  } else {
    return SLOW
  }
  const year = century * 100 + yy
  if (year === 1 && month === 1 && day === 1) return NaN
  // V8 rolls a day past the month's end over into the next month, other engines answer NaN
  if (day > 28 && day > daysInMonth(year, month)) return SLOW
  return daysFromCivil(year, month, day) * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset
}

/**
 * An RFC 3339 time. Absent, null, empty and the zero time (`0001-01-01T00:00:00Z`, "not yet")
 * decode to an absent key.
 */
export const time: Field<Date | undefined, true> = {
  expected: "an RFC 3339 time",
  optional: true,
  decode: (u) => {
    if (u == null || u === "") return undefined
    if (typeof u !== "string") return INVALID
    const millis = parseTime(u)
    if (millis !== SLOW) return Number.isNaN(millis) ? undefined : new Date(millis)
    if (!rfc3339.test(u)) return INVALID
    if (u.startsWith("0001-01-01")) return undefined
    const date = new Date(u)
    return Number.isNaN(date.getTime()) ? INVALID : date
  },
  encode: (d) => d?.toISOString()
}

/** A secret string: absent and null are an empty secret. */
export const redacted: Field<Redacted.Redacted<string>> = field(
  "a string",
  (u) => (u == null ? Redacted.make("") : typeof u === "string" ? Redacted.make(u) : INVALID),
  (r) => Redacted.value(r)
)

/** A nested record as an `Option`: absent and null are `None`. */
export const option = <A, I>(schema: Schema.Schema<A, I>): Field<Option.Option<A>> => {
  const nested = optional(schema)
  return {
    ...field(nested.expected, (u) => {
      const value = nested.decode(u)
      return value === INVALID ? INVALID : Option.fromNullable(value)
    }, (a) => (Option.isNone(a) ? null : nested.encode(a.value) ?? null)),
    issue: nested.issue
  }
}

/** The compiled decoders of lenient records, for records nested in records. */
const fastDecoders = new WeakMap<Schema.Schema.Any, (u: unknown) => unknown>()

/** A nested record that may be absent or null (an absent key then). */
export const optional = <A, I>(schema: Schema.Schema<A, I>): Field<A | undefined, true> => {
  const decodeSchema = ParseResult.decodeUnknownEither(schema)
  const encode = ParseResult.encodeUnknownEither(schema)
  // a nested lenient record decodes straight, without the schema machinery
  const fast = fastDecoders.get(schema)
  const decode = fast ?? ((u: unknown) => {
    const result = decodeSchema(u)
    return result._tag === "Right" ? result.right : INVALID
  })
  return {
    expected: `${String(schema.ast)} or null`,
    optional: true,
    decode: (u) => (u == null ? undefined : decode(u) as A | typeof INVALID),
    issue: (u) => {
      const result = decodeSchema(u)
      return result._tag === "Left" ? result.left : undefined
    },
    encode: (a) => {
      const result = encode(a)
      return result._tag === "Right" ? result.right : undefined
    }
  }
}

export type Fields = Readonly<Record<string, Field<unknown, boolean>>>

type Required<F extends Fields> = { readonly [K in keyof F as F[K] extends Field<unknown, true> ? never : K]: F[K] extends Field<infer A> ? A : never }
type Optional<F extends Fields> = {
  readonly [K in keyof F as F[K] extends Field<unknown, true> ? K : never]?: F[K] extends Field<infer A, true> ? Exclude<A, undefined> : never
}
/** The decoded type of a record of fields. */
export type Type<F extends Fields> = { readonly [K in keyof (Required<F> & Optional<F>)]: (Required<F> & Optional<F>)[K] }

type Decode = (input: Record<string, unknown>) => unknown

/**
 * The decoding loop over `keys`: every field decoded, every failing field collected. Its keyed
 * loads and stores (`input[key]`, `out[key]`) go through V8's megamorphic caches, 30–40 ns a
 * field; the compiled form below avoids them.
 */
const interpret = (
  keys: ReadonlyArray<string>,
  decoders: ReadonlyArray<Field<unknown, boolean>["decode"]>,
  optional: ReadonlyArray<boolean>,
  onInvalid: (key: string, index: number) => void
): Decode => {
  const count = keys.length
  return (input) => {
    const out: Record<string, unknown> = {}
    let valid = true
    for (let i = 0; i < count; i++) {
      const key = keys[i]!
      const value = decoders[i]!(input[key])
      if (value === INVALID) {
        valid = false
        onInvalid(key, i)
      } else if (value !== undefined || !optional[i]) {
        out[key] = value
      }
    }
    return valid ? out : INVALID
  }
}

/**
 * The same decoding as `interpret` (without collecting issues: `INVALID` if any field failed, and
 * the interpreter then names them), compiled to straight-line code so every field is a named
 * property load and store: `const v0 = d0(input["a"]) … ; const o = { "a": v0, … }`, optional
 * fields added in order when present. The code is made only from the record's own keys. Where
 * code generation is not allowed (a CSP, some edge runtimes) it answers `undefined` and the
 * interpreter does the work.
 */
const compile = (
  keys: ReadonlyArray<string>,
  decoders: ReadonlyArray<Field<unknown, boolean>["decode"]>,
  optional: ReadonlyArray<boolean>
): Decode | undefined => {
  if (keys.length === 0 || keys.includes("__proto__")) return undefined
  const names = keys.map((_, i) => `d${i}`)
  const quoted = keys.map((key) => JSON.stringify(key))
  const firstOptional = optional.indexOf(true)
  const literal = firstOptional === -1 ? keys.length : firstOptional
  const body = [
    "\"use strict\";",
    "return function decode(input) {",
    ...keys.map((_, i) => `  const v${i} = d${i}(input[${quoted[i]}]);`),
    `  if (${keys.map((_, i) => `v${i} === I`).join(" || ")}) return I;`,
    `  const o = { ${keys.slice(0, literal).map((_, i) => `${quoted[i]}: v${i}`).join(", ")} };`,
    ...keys.slice(literal).map((_, j) => {
      const i = literal + j
      return optional[i] ? `  if (v${i} !== undefined) o[${quoted[i]}] = v${i};` : `  o[${quoted[i]}] = v${i};`
    }),
    "  return o;",
    "}"
  ].join("\n")
  try {
    const make = new Function("I", ...names, body) as (...args: ReadonlyArray<unknown>) => unknown
    return make(INVALID, ...decoders) as Decode
  } catch {
    return undefined
  }
}

/**
 * A record schema from its fields. Decoding needs an object; each field decodes on its own and
 * every failing field is reported with its key. `interpreted` skips the compiled form (the tests
 * compare the two).
 */
export const struct = <F extends Fields>(
  identifier: string,
  fields: F,
  options?: { readonly interpreted?: boolean }
): Schema.Schema<Type<F>> => {
  const keys = Object.keys(fields)
  const decoders = keys.map((key) => fields[key]!.decode)
  const optional = keys.map((key) => fields[key]!.optional)
  const fast = (options?.interpreted ? undefined : compile(keys, decoders, optional)) ??
    interpret(keys, decoders, optional, () => {})
  const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
  const schema = Schema.declare([], {
    decode: () => (input, _, ast: AST.Declaration) => {
      if (!isObject(input)) return ParseResult.fail(new ParseResult.Type(ast, input, `Expected ${identifier}, an object`))
      const out = fast(input)
      if (out !== INVALID) return ParseResult.succeed(out as Type<F>)
      // a field failed: decode again, naming every failing field
      const issues: Array<ParseResult.Pointer> = []
      interpret(keys, decoders, optional, (key) => {
        const field = fields[key]!
        const inner = field.issue?.(input[key]) ?? new ParseResult.Type(ast, input[key], `Expected ${field.expected}`)
        issues.push(new ParseResult.Pointer(key, input, inner))
      })(input)
      return ParseResult.fail(new ParseResult.Composite(ast, input, issues as [ParseResult.Pointer, ...Array<ParseResult.Pointer>]))
    },
    encode: () => (value) => {
      const out: Record<string, unknown> = {}
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!
        const v = (value as Record<string, unknown>)[key]
        if (v !== undefined) out[key] = fields[key]!.encode(v)
      }
      return ParseResult.succeed(out as Type<F>)
    }
  }, { identifier })
  fastDecoders.set(schema, (u) => (isObject(u) ? fast(u) : INVALID))
  return schema
}
