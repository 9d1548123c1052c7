import SwiftflowCore

/// The frames exchanged with a model worker (see `Python/worker.py` for the other side).
package enum WorkerFrame {
    /// A request as received, answered by MLflow's own scoring code.
    package static func raw(contentType: String?, body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 64)
        out.append(UInt8(ascii: "R"))
        if let contentType {
            let bytes = Array(contentType.utf8)
            appendUInt32(&out, UInt32(bytes.count))
            out.append(contentsOf: bytes)
        } else {
            appendUInt32(&out, 0xFFFF_FFFF)
        }
        out.append(contentsOf: body)
        return out
    }

    /// Typed requests with one column layout, stacked into one batch.
    package static func batch(_ requests: [TypedRequest]) -> [UInt8] {
        let first = requests[0]
        var header = JSONBytes()
        header.append("{\"columns\":[")
        for (i, column) in first.columns.enumerated() {
            if i > 0 { header.append(",") }
            header.append("[")
            header.string(column.name)
            header.append(",\"\(column.kind.rawValue)\"]")
        }
        header.append("],\"counts\":[")
        header.append(requests.map { String($0.rowCount) }.joined(separator: ","))
        header.append("]")
        if let params = first.paramsJSON {
            header.append(",\"params\":")
            header.bytes.append(contentsOf: params)
        }
        if let index = first.indexJSON {
            header.append(",\"index\":")
            header.bytes.append(contentsOf: index)
        }
        header.append("}")

        var out: [UInt8] = [UInt8(ascii: "B")]
        appendUInt32(&out, UInt32(header.bytes.count))
        out.append(contentsOf: header.bytes)
        for columnIndex in first.columns.indices {
            let kind = first.columns[columnIndex].kind
            if kind == .strings {
                // One JSON list over every request's rows.
                var list: [UInt8] = [UInt8(ascii: "[")]
                var firstItem = true
                for request in requests {
                    let items = request.columns[columnIndex].data
                    guard items.count > 2 else { continue }  // "[]"
                    if !firstItem { list.append(UInt8(ascii: ",")) }
                    list.append(contentsOf: items[1..<(items.count - 1)])
                    firstItem = false
                }
                list.append(UInt8(ascii: "]"))
                appendUInt32(&out, UInt32(list.count))
                out.append(contentsOf: list)
            } else {
                let size = requests.reduce(0) { $0 + $1.columns[columnIndex].data.count }
                appendUInt32(&out, UInt32(size))
                for request in requests { out.append(contentsOf: request.columns[columnIndex].data) }
            }
        }
        return out
    }

    /// One answer per request: status (0 = resend as raw), media type and body.
    package static func answers(_ payload: [UInt8]) -> [WorkerAnswer]? {
        var reader = ByteReader(payload)
        guard let count = reader.uint32() else { return nil }
        var answers: [WorkerAnswer] = []
        for _ in 0..<count {
            guard let status = reader.uint16(), let mediaLength = reader.uint8(),
                  let media = reader.bytes(Int(mediaLength)), let bodyLength = reader.uint32(),
                  let body = reader.bytes(Int(bodyLength)) else { return nil }
            answers.append(WorkerAnswer(status: Int(status), mediaType: String(decoding: media, as: UTF8.self), body: Array(body)))
        }
        return answers
    }

    package static func appendUInt32(_ out: inout [UInt8], _ value: UInt32) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 24))
    }
}

package struct WorkerAnswer: Sendable {
    package var status: Int
    package var mediaType: String
    package var body: [UInt8]
}

struct ByteReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func bytes(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }
    mutating func uint8() -> UInt8? { bytes(1)?.first }
    mutating func uint16() -> UInt16? {
        guard let b = bytes(2) else { return nil }
        return UInt16(b[b.startIndex]) | UInt16(b[b.startIndex + 1]) << 8
    }
    mutating func uint32() -> UInt32? {
        guard let b = bytes(4) else { return nil }
        var value: UInt32 = 0
        for (i, byte) in b.enumerated() { value |= UInt32(byte) << (8 * UInt32(i)) }
        return value
    }
}

/// A JSON text under construction, for the small frame headers.
struct JSONBytes {
    var bytes: [UInt8] = []
    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }
    mutating func string(_ value: String) {
        var writer = JSONWriter(style: .compact)
        writer.string(value)
        bytes.append(contentsOf: writer.bytes)
    }
}
