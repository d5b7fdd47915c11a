(ns hello.core
  (:gen-class)
  (:import (com.sun.net.httpserver HttpHandler HttpServer)
           (java.net InetSocketAddress)))

(defn -main [& _]
  (let [port (Integer/parseInt (or (System/getenv "PORT") "8080"))
        server (HttpServer/create (InetSocketAddress. port) 0)
        body (.getBytes "Hello World!" "UTF-8")]
    (.createContext server "/"
                    (reify HttpHandler
                      (handle [_ exchange]
                        (.set (.getResponseHeaders exchange) "Content-Type" "text/plain; charset=utf-8")
                        (.sendResponseHeaders exchange 200 (alength body))
                        (with-open [out (.getResponseBody exchange)]
                          (.write out body)))))
    (.start server)
    (println "listening on" port)))
