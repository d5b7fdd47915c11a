require "webrick"

port = Integer(ENV.fetch("PORT", "4567"))
server = WEBrick::HTTPServer.new(BindAddress: "0.0.0.0", Port: port)
server.mount_proc("/") do |_request, response|
  response["Content-Type"] = "text/plain; charset=utf-8"
  response.body = "Hello World!"
end
trap("TERM") { server.shutdown }
server.start
