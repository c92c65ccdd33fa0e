import { request } from "undici"

export const rssAfterGc = () => {
  for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage().rss
}

/** Waits until the bench server holds `count` long polls (it counts them). */
export const waitForHeld = async (origin: string, count: number) => {
  for (let i = 0; i < 600; i++) {
    const res = await request(`${origin}/stats`)
    const stats = (await res.body.json()) as Record<string, number>
    if ((stats.heldNow ?? 0) >= count) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`the server never held ${count} polls`)
}
