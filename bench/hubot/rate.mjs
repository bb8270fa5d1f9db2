// rate.mjs: Hubot's echo replies per second in-process, for make bench.
//   HUBOT_MODULE=/path/to/node_modules/hubot/index.mjs node rate.mjs FILE N
// A Robot with an adapter that only counts what it is asked to send; the
// first N lines of FILE ("echo ...") go through robot.receive one after the
// other (no I/O at all: Hubot's best case).  Prints "seconds replies_per_second".
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import echo from './echo.mjs'

const [file, nArg] = process.argv.slice(2)
const n = parseInt(nArg, 10)
const hubot = await import(pathToFileURL(process.env.HUBOT_MODULE).href)
const lines = readFileSync(file, 'utf8').split('\n').slice(0, n)

let sent = 0
class Counter extends hubot.Adapter {
  async send (envelope, ...strings) { sent += strings.length }
  async reply (envelope, ...strings) { sent += strings.length }
  async run () { this.emit('connected') }
  close () {}
}
const robot = new hubot.Robot({ use: (r) => new Counter(r) }, false, 'hubot')
await robot.loadAdapter()
echo(robot)
const user = new hubot.User('1', { name: 'shell', room: 'Shell' })
const t0 = performance.now()
for (let i = 0; i < n; i++) {
  await robot.receive(new hubot.TextMessage(user, 'hubot ' + lines[i], String(i)))
}
const s = (performance.now() - t0) / 1000
if (sent !== n) {
  console.error(`rate.mjs: ${sent} replies to ${n} commands`)
  process.exit(1)
}
console.log(`${s.toFixed(3)} ${(n / s).toFixed(0)}`)
process.exit(0)
