import ArgumentParser
import Foundation
import SwiftflowCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "Promote model versions by policy and read the promotion history (talks to a server).",
        subcommands: [Promote.self, History.self])

    /// Where the server is: `--tracking-uri`, else `MLFLOW_TRACKING_URI`, else http://127.0.0.1:5000.
    struct ServerOptions: ParsableArguments {
        @Option(help: ArgumentHelp(
            "The server (default: $MLFLOW_TRACKING_URI, else http://127.0.0.1:5000).", valueName: "url"))
        var trackingUri: String?

        var baseURL: String {
            let uri = trackingUri ?? ProcessInfo.processInfo.environment["MLFLOW_TRACKING_URI"] ?? ""
            let chosen = uri.isEmpty ? "http://127.0.0.1:5000" : uri
            return chosen.hasSuffix("/") ? String(chosen.dropLast()) : chosen
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a promotion policy and move the aliases it chooses (or, with --dry-run, only say so).")

        @Option(help: ArgumentHelp("The policy file (YAML).", valueName: "file"))
        var policy: String

        @Option(help: ArgumentHelp("The registered model (default: the policy's `model`).", valueName: "name"))
        var model: String?

        @Flag(help: "Print the decision; change nothing.")
        var dryRun = false

        @Option(help: ArgumentHelp("Who is promoting, for the audit trail (default: $USER, else the login name).", valueName: "name"))
        var user: String?

        @OptionGroup var server: ServerOptions

        func run() async throws {
            let text: String
            do {
                text = try String(contentsOfFile: policy, encoding: .utf8)
            } catch {
                throw ValidationError("Cannot read the policy file '\(policy)': \(error.localizedDescription)")
            }
            // Checked here too, so that a bad file is reported without a server round trip.
            do {
                let parsed = try PromotionPolicy.parse(yaml: text)
                if model == nil, parsed.model == nil {
                    throw ValidationError("The policy names no `model`; pass --model NAME.")
                }
            } catch let error as SwiftflowError {
                throw ValidationError(error.message)
            }
            var body: [String: Any] = ["policy": text, "dry_run": dryRun]
            if let model { body["name"] = model }
            let actor = user ?? ProcessInfo.processInfo.environment["USER"] ?? NSUserName()
            let answer = try await HTTP.call(
                "POST", server.baseURL + "/api/2.0/swiftflow/registry/promote", body: body, user: actor)
            print(Self.render(answer), terminator: "")
        }

        static func render(_ answer: [String: Any]) -> String {
            let name = answer["name"] as? String ?? "?"
            let dryRun = answer["dry_run"] as? Bool ?? false
            var out = "Model \(name)\(dryRun ? " (dry run: nothing changed)" : "")\n"
            for decision in answer["decisions"] as? [[String: Any]] ?? [] {
                let rule = decision["rule"] as? String ?? "?"
                let alias = decision["alias"] as? String ?? "?"
                let current = (decision["current_version"] as? NSNumber).map { "version \($0)" } ?? "unset"
                let currentMetric = (decision["current_metric"] as? NSNumber).map { " (metric \($0))" } ?? ""
                out += "\nRule \(rule): alias '\(alias)' is \(current)\(currentMetric)\n"
                if let chosen = decision["chosen_version"] as? NSNumber {
                    let applied = decision["applied"] as? Bool ?? false
                    out += applied ? "  MOVED '\(alias)' to version \(chosen)\n" : "  would move '\(alias)' to version \(chosen)\n"
                } else {
                    out += "  no candidate qualifies; '\(alias)' stays\n"
                }
                let candidates = decision["candidates"] as? [[String: Any]] ?? []
                if candidates.isEmpty {
                    out += "  (no candidate versions: none newer than the holder has a run)\n"
                    continue
                }
                var rows = [["VERSION", "RUN", "METRIC", "QUALIFIES", "REASON"]]
                for candidate in candidates {
                    rows.append([
                        (candidate["version"] as? NSNumber).map { "\($0)" } ?? "?",
                        candidate["run_id"] as? String ?? "",
                        (candidate["metric"] as? NSNumber).map { "\($0)" } ?? "-",
                        (candidate["qualifies"] as? Bool ?? false) ? "yes" : "no",
                        candidate["reason"] as? String ?? "",
                    ])
                }
                out += table(rows, indent: "  ")
            }
            return out
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a model's promotions, newest first.")

        @Argument(help: "The registered model.")
        var name: String

        @Option(help: "At most this many records.")
        var maxResults = 100

        @OptionGroup var server: ServerOptions

        func run() async throws {
            var components = URLComponents(string: server.baseURL + "/api/2.0/swiftflow/registry/promotions")
            components?.queryItems = [
                URLQueryItem(name: "name", value: name), URLQueryItem(name: "max_results", value: String(maxResults)),
            ]
            guard let url = components?.url?.absoluteString else { throw ValidationError("Bad tracking URI.") }
            let answer = try await HTTP.call("GET", url, body: nil, user: nil)
            print(Self.render(answer), terminator: "")
        }

        static func render(_ answer: [String: Any]) -> String {
            let records = answer["promotions"] as? [[String: Any]] ?? []
            if records.isEmpty { return "No promotions.\n" }
            let formatter = ISO8601DateFormatter()
            var rows = [["WHEN (UTC)", "ALIAS", "OLD", "NEW", "RULE", "ACTOR"]]
            for record in records {
                let millis = (record["timestamp"] as? NSNumber)?.doubleValue ?? 0
                rows.append([
                    formatter.string(from: Date(timeIntervalSince1970: millis / 1000)),
                    record["alias"] as? String ?? "",
                    (record["old_version"] as? NSNumber).map { "\($0)" } ?? "-",
                    (record["new_version"] as? NSNumber).map { "\($0)" } ?? "?",
                    record["rule"] as? String ?? "",
                    record["actor"] as? String ?? "",
                ])
            }
            return table(rows, indent: "")
        }
    }
}

/// Rows as left-aligned columns.
private func table(_ rows: [[String]], indent: String) -> String {
    var widths = [Int](repeating: 0, count: rows.map(\.count).max() ?? 0)
    for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
    return rows.map { row in
        let line = indent + row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
        return String(line.reversed().drop(while: { $0 == " " }).reversed())
    }.joined(separator: "\n") + "\n"
}

/// A JSON call to the server; an MLflow error answer becomes the thrown error's text.
private enum HTTP {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func call(_ method: String, _ url: String, body: [String: Any]?, user: String?) async throws
        -> [String: Any]
    {
        guard let target = URL(string: url) else { throw Failure(description: "Bad URL \(url)") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let user, !user.isEmpty { request.setValue(user, forHTTPHeaderField: "X-Swiftflow-User") }
        let (data, status): (Data, Int) = try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: Failure(description: "Cannot reach \(url): \(error.localizedDescription)"))
                } else {
                    continuation.resume(returning: (data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0))
                }
            }.resume()
        }
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        guard status == 200, let object else {
            if let code = object?["error_code"] as? String {
                throw Failure(description: "\(code): \(object?["message"] as? String ?? "")")
            }
            throw Failure(description: "HTTP \(status) from \(url): \(String(decoding: data, as: UTF8.self))")
        }
        return object
    }
}
