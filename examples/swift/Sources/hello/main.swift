#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

let port = UInt16(String(cString: getenv("PORT") ?? strdup("8080"))) ?? 8080
let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
var yes: Int32 = 1
setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
var address = sockaddr_in()
address.sin_family = sa_family_t(AF_INET)
address.sin_port = port.bigEndian
address.sin_addr = in_addr(s_addr: INADDR_ANY)
withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        _ = bind(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
}
listen(server, 64)
print("listening on \(port)")
let body = "Hello World!"
let response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
while true {
    let client = accept(server, nil, nil)
    if client < 0 { continue }
    var request = [UInt8](repeating: 0, count: 4096)
    _ = read(client, &request, request.count)
    _ = response.withCString { write(client, $0, strlen($0)) }
    close(client)
}
