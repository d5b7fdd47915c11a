defmodule Hello.Application do
  @moduledoc "Starts the Hello World! server under a supervisor."
  use Application

  @impl true
  def start(_type, _args) do
    port = String.to_integer(System.get_env("PORT", "4000"))
    Supervisor.start_link([{Task, fn -> Hello.Server.listen(port) end}], strategy: :one_for_one)
  end
end
