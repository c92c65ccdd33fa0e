/**
 * A real HTTP proxy on loopback: CONNECT tunnels and absolute-form forwarding. It alone knows
 * that `*.test` hosts live on 127.0.0.1, so a request reaching such a host proves it went through.
 */
import * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"

export interface SeenByProxy {
  readonly method: string
  /** `host:port` for CONNECT, the absolute URL for forwarded requests. */
  readonly target: string
  readonly authorization: string | undefined
}

export interface TestProxy {
  readonly url: string
  readonly port: number
  readonly seen: Array<SeenByProxy>
  readonly close: () => Promise<void>
}

const resolveHost = (host: string) => (host.endsWith(".test") ? "127.0.0.1" : host)

export const startProxy = async (options: { readonly requireAuth?: string } = {}): Promise<TestProxy> => {
  const seen: Array<SeenByProxy> = []
  const sockets = new Set<net.Socket>()
  const authorized = (header: string | undefined) =>
    options.requireAuth === undefined || header === `Basic ${Buffer.from(options.requireAuth).toString("base64")}`

  const server = http.createServer((req, res) => {
    const authorization = req.headers["proxy-authorization"]
    seen.push({ method: req.method ?? "", target: req.url ?? "", authorization })
    if (!authorized(authorization)) {
      res.writeHead(407, { "proxy-authenticate": "Basic" }).end()
      return
    }
    const target = new URL(req.url ?? "")
    const headers = { ...req.headers }
    delete headers["proxy-authorization"]
    delete headers["proxy-connection"]
    const upstream = http.request(
      { host: resolveHost(target.hostname), port: target.port || 80, method: req.method, path: target.pathname + target.search, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      }
    )
    upstream.on("error", () => res.writeHead(502).end())
    req.pipe(upstream)
  })

  server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const authorization = req.headers["proxy-authorization"]
    seen.push({ method: "CONNECT", target: req.url ?? "", authorization })
    sockets.add(client)
    client.on("close", () => sockets.delete(client))
    client.on("error", () => client.destroy())
    if (!authorized(authorization)) {
      client.end("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n")
      return
    }
    const [host = "", port = "443"] = (req.url ?? "").split(/:(?=\d+$)/)
    const upstream = net.connect(Number(port), resolveHost(host), () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
      if (head.length > 0) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    sockets.add(upstream)
    upstream.on("close", () => sockets.delete(upstream))
    upstream.on("error", () => client.destroy())
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
