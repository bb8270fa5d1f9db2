// The peer of botpipe's built-in !echo for make bench: "hubot echo TEXT"
// answers TEXT, as errbot's echo does.
export default (robot) => {
  robot.respond(/echo (.*)$/i, (res) => res.send(res.match[1]))
}
