-module(hello_app).
-behaviour(application).
-export([start/2, stop/1, accept/1]).

start(_Type, _Args) ->
    Port = list_to_integer(os:getenv("PORT", "8080")),
    {ok, Listen} = gen_tcp:listen(Port, [binary, {active, false}, {reuseaddr, true}]),
    io:format("listening on ~p~n", [Port]),
    Pid = spawn_link(?MODULE, accept, [Listen]),
    {ok, Pid}.

stop(_State) ->
    ok.

accept(Listen) ->
    {ok, Socket} = gen_tcp:accept(Listen),
    spawn(fun() -> answer(Socket) end),
    accept(Listen).

answer(Socket) ->
    _ = gen_tcp:recv(Socket, 0, 5000),
    Body = <<"Hello World!">>,
    Head = io_lib:format("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Content-Length: ~b\r\nConnection: close\r\n\r\n", [byte_size(Body)]),
    gen_tcp:send(Socket, [Head, Body]),
    gen_tcp:close(Socket).
