defmodule Hello.Server do
  @moduledoc "A tiny HTTP server on :gen_tcp answering Hello World!."
  require Logger

  def listen(port) do
    {:ok, socket} = :gen_tcp.listen(port, [:binary, active: false, reuseaddr: true])
    Logger.info("listening on #{port}")
    accept(socket)
  end

  defp accept(socket) do
    {:ok, client} = :gen_tcp.accept(socket)
    Task.start(fn -> answer(client) end)
    accept(socket)
  end

  defp answer(client) do
    _ = :gen_tcp.recv(client, 0, 5000)
    body = "Hello World!"

    :gen_tcp.send(client, [
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n",
      "Content-Length: #{byte_size(body)}\r\nConnection: close\r\n\r\n",
      body
    ])

    :gen_tcp.close(client)
  end
end
