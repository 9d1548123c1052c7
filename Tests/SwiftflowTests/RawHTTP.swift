import Foundation
import SwiftflowCore

/// One HTTP/1.1 exchange over a plain socket, with the request target sent byte for byte: URLSession
/// would resolve `..` and decode parts of the path before the server could refuse them.
enum RawHTTP {
    struct Reply {
        let status: Int
        /// Header names in lower case.
        let headers: [String: String]
        let body: [UInt8]
        /// The status of an interim answer (`100 Continue`) read before the body was sent.
        var interimStatus: Int?

        var text: String { String(decoding: body, as: UTF8.self) }
        var json: JSONValue { (try? JSONParser.parse(body)) ?? .null }
        var errorCode: String? {
            if case .string(let code) = json["error_code"] { return code }
            return nil
        }
    }

    /// - Parameters:
    ///   - awaitContinue: send `Expect: 100-continue` and the body only after the server's interim answer.
    static func send(
        port: Int, _ method: String, _ target: String, headers: [String: String] = [:], body: [UInt8] = [],
        awaitContinue: Bool = false
    ) throws -> Reply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SwiftflowError(.internalError, "socket() failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw SwiftflowError(.internalError, "cannot connect to port \(port)") }

        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        head += "Content-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if awaitContinue { head += "Expect: 100-continue\r\n" }
        func send(_ bytes: [UInt8]) throws {
            var sent = 0
            while sent < bytes.count {
                let count = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                guard count > 0 else { throw SwiftflowError(.internalError, "write failed") }
                sent += count
            }
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        /// Reads once; false at the end of the stream (or after the 30 s timeout).
        func receive() -> Bool {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { return false }
            response += buffer[0..<count]
            return true
        }

        var interim: Int?
        if awaitContinue {
            try send(Array((head + "\r\n").utf8))
            while !String(decoding: response, as: UTF8.self).contains("\r\n\r\n"), receive() {}
            let interimReply = try parse(response)
            interim = interimReply.status
            guard interimReply.status == 100 else { return interimReply }
            response = []
            try send(body)
        } else {
            try send(Array((head + "\r\n").utf8) + body)
        }
        while receive() {}
        var reply = try parse(response)
        reply.interimStatus = interim
        return reply
    }

    static func parse(_ response: [UInt8]) throws -> Reply {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = (0...(max(response.count - 4, 0))).first(where: { Array(response[$0..<min($0 + 4, response.count)]) == separator })
        else { throw SwiftflowError(.internalError, "no HTTP head in \(response.count) bytes") }
        let lines = String(decoding: response[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(response[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var decoded: [UInt8] = []
            var index = 0
            while let lineEnd = (index..<max(body.count - 1, index)).first(where: { body[$0] == 13 && body[$0 + 1] == 10 }),
                  let size = Int(String(decoding: body[index..<lineEnd], as: UTF8.self), radix: 16), size > 0 {
                decoded += body[(lineEnd + 2)..<(lineEnd + 2 + size)]
                index = lineEnd + 2 + size + 2
            }
            body = decoded
        }
        return Reply(status: status, headers: headers, body: body)
    }
}
