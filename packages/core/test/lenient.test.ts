import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Lenient from "../src/internal/lenient.js"

// the behaviour the fast paths must keep: the regex, the zero time, then `new Date(string)`
const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
const referenceTime = (u: unknown): string => {
  if (u == null || u === "") return "absent"
  if (typeof u !== "string" || !rfc3339.test(u)) return "invalid"
  if (u.startsWith("0001-01-01")) return "absent"
  const ms = new Date(u).getTime()
  return Number.isNaN(ms) ? "invalid" : String(ms)
}
const decodedTime = (u: unknown): string => {
  const d = Lenient.time.decode(u)
  return d === undefined ? "absent" : d instanceof Date ? String(d.getTime()) : "invalid"
}

// a small deterministic generator, so a failure is reproducible
const random = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

describe("lenient times", () => {
  it("decode as the regex and new Date(string) do, edge cases included", () => {
    const next = random(1)
    const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(next() * xs.length)]!
    const two = () => pick(["00", "01", "09", "12", "23", "24", "28", "29", "30", "31", "32", "59", "60", "99", "1", "x1"])
    const year = () => pick(["0000", "0001", "0050", "0100", "1600", "1900", "1970", "2000", "2024", "2100", "9999", "202"])
    const fraction = () =>
      pick(["", "", ".", ".1", ".12", ".123", ".1234567", ".123456789", ".0123456789", ".01234567890123456", ".5a"])
    const zone = () => pick(["Z", "Z", "z", "+00:00", "-00:00", `+${two()}:${two()}`, `-${two()}:${two()}`, "+0100", "", "ZZ"])
    const cases: Array<unknown> = [null, undefined, "", 5, {}, "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.0000000+00:00"]
    for (let i = 0; i < 20_000; i++) {
      const s = `${year()}-${two()}-${two()}${pick(["T", "T", "t", " "])}${two()}:${two()}:${two()}${fraction()}${zone()}`
      cases.push(next() < 0.05 ? s.slice(0, Math.floor(next() * s.length)) : s)
    }
    const mismatches = cases.filter((u) => decodedTime(u) !== referenceTime(u))
    assert.deepStrictEqual(mismatches, [])
  })

  it("decode every valid day of the calendar as new Date does", () => {
    for (const year of ["0000", "0004", "0100", "1900", "2000", "2023", "2024", "9999"]) {
      for (let month = 1; month <= 12; month++) {
        for (let day = 1; day <= 31; day++) {
          const s = `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}T23:59:59.999-13:30`
          assert.strictEqual(decodedTime(s), referenceTime(s), s)
        }
      }
    }
  })
})

describe("lenient records", () => {
  const fields = {
    kind: Lenient.literal("k"),
    id: Lenient.number,
    name: Lenient.string,
    labels: Lenient.strings,
    at: Lenient.time,
    flag: Lenient.boolean,
    later: Lenient.time,
    tail: Lenient.string
  }
  const compiled = Schema.decodeUnknownEither(Lenient.struct("R", fields))
  const interpreted = Schema.decodeUnknownEither(Lenient.struct("R", fields, { interpreted: true }))
  const show = (result: ReturnType<typeof compiled>) =>
    Either.match(result, {
      onLeft: (e) => ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
      onRight: (a) => JSON.stringify(Object.entries(a))
    })

  it("decode the same compiled and interpreted: values, key order, absent keys and errors", () => {
    const next = random(2)
    const values = [undefined, null, "", "x", 0, 7, 1.5, Number.NaN, true, [], ["a"], [1], {}, "k", "2024-05-01T12:00:00Z", "0001-01-01T00:00:00Z", "yesterday"]
    for (let i = 0; i < 5_000; i++) {
      const input: Record<string, unknown> = {}
      for (const key of [...Object.keys(fields), "unknown"]) {
        if (next() < 0.7) input[key] = values[Math.floor(next() * values.length)]
      }
      assert.strictEqual(show(compiled(input)), show(interpreted(input)))
    }
    assert.strictEqual(show(compiled([1])), show(interpreted([1])))
  })

  it("leave absent optional fields out, in field order", () => {
    const decoded = Either.getOrThrow(compiled({ kind: "k", at: "0001-01-01T00:00:00Z", later: "2024-05-01T12:00:00Z" }))
    assert.deepStrictEqual(Object.keys(decoded), ["kind", "id", "name", "labels", "flag", "later", "tail"])
  })
})
